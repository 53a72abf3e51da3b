"""A real MCP client against the real server: the official Python SDK (mcp<2).

Usage: python3 tests/python/sdk_smoke.py path/to/mymcp

Starts `mymcp serve` in temp-token mode on 127.0.0.1 port 0, reads the printed tokens, then
with `streamablehttp_client` + `ClientSession`: initializes, lists tools (rw sees 9, ro sees 5),
calls read_file (ok and error), edits with evidence (dry run, edit list under an
expected_sha256, a stale one refused, a negative offset), runs bash_execute with a progress callback (notifications must
arrive), abandons a long call (its command must stop), checks a denied call, and that ro cannot read the server's environment through /proc.
Then starts `mymcp stdio` with the SDK's stdio client: rw runs a command with progress as this
OS user, the default role is ro. Prints 'N passed, N failed'.
"""

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import warnings

import anyio

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamablehttp_client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# SDK 1.x marks its 2025-11-25 tasks client deprecated (tasks move to an extension in 2.x); the
# server still serves clients that use it, so the smoke does too, without the noise.
warnings.filterwarnings("ignore", message="The experimental tasks API is deprecated")
from harness import abandoned_command, check, clean_env, make_token, start, stdio_env_file, summary  # noqa: E402

async def session_run(url, token, fn):
    headers = {"Authorization": f"Bearer {token}"}
    async with streamablehttp_client(url, headers=headers) as (read, write, _sid):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            return init, await fn(session)


async def main(binary):
    with tempfile.TemporaryDirectory() as work:
        proc, tokens, addr = start(binary, work)
        try:
            url = f"http://{addr}/mcp"
            sample = os.path.join(work, "hello.txt")
            with open(sample, "w") as f:
                f.write("hello\nworld\n")

            async def rw_flow(s):
                tools = await s.list_tools()
                ok = await s.call_tool("read_file", {"file_path": sample, "limit": 1})
                missing = await s.call_tool("read_file", {"file_path": sample + ".nope"})
                bad = await s.call_tool("read_file", {"file_path": 7})
                return tools, ok, missing, bad

            init, (tools, ok, missing, bad) = await session_run(url, tokens["rw"], rw_flow)

            # Editing with evidence, as an agent would: read (hash), dry run, conditional edit
            # list, a stale precondition refused, the tail read with a negative offset.
            conf = os.path.join(work, "app.conf")
            with open(conf, "w") as f:
                f.write("port = 80   \nhost = a\nmode = x\n")

            after_dry = [None]

            async def edit_flow(s):
                out = {}
                out["read"] = await s.call_tool("read_file", {"file_path": conf})
                h0 = json.loads(out["read"].content[0].text)["sha256"]
                out["dry"] = await s.call_tool("edit_file", {
                    "file_path": conf, "old_string": "port = 80\n", "new_string": "port = 8080\n",
                    "dry_run": True})
                with open(conf) as f:
                    after_dry[0] = f.read()
                out["edit"] = await s.call_tool("edit_file", {
                    "file_path": conf, "expected_sha256": h0, "edits": [
                        {"old_string": "port = 80\n", "new_string": "port = 8080\n"},
                        {"old_string": "host = a", "new_string": "host = b"}]})
                out["stale"] = await s.call_tool("edit_file", {
                    "file_path": conf, "old_string": "mode = x", "new_string": "mode = y",
                    "expected_sha256": h0})
                out["tail"] = await s.call_tool("read_file", {"file_path": conf, "offset": -1})
                return out

            _, ev = await session_run(url, tokens["rw"], edit_flow)
            body = {k: json.loads(v.content[0].text) for k, v in ev.items()}
            check("edit dry run returns a diff and writes nothing",
                  not ev["dry"].isError and "+port = 8080\n" in body["dry"]["diff"]
                  and body["dry"]["match"] == "trailing_whitespace"
                  and after_dry[0] == "port = 80   \nhost = a\nmode = x\n", body["dry"])
            with open(conf, "rb") as f:
                import hashlib
                on_disk = hashlib.sha256(f.read()).hexdigest()
            check("edit list applies under a precondition, sha256 is the file's",
                  not ev["edit"].isError and body["edit"]["replacements"] == 2
                  and body["edit"]["sha256"] == on_disk
                  and open(conf).read() == "port = 8080\nhost = b\nmode = x\n", body["edit"])
            check("stale precondition is FileChanged",
                  ev["stale"].isError and body["stale"]["error"] == "FileChanged", body["stale"])
            check("negative offset reads the tail",
                  body["tail"]["content"] == "   3\tmode = x", body["tail"])

            # bash_execute with a progress callback: notifications arrive while it runs.
            updates = []

            async def on_progress(progress, total, message):
                updates.append((progress, message))

            async def bash_flow(s):
                return await s.call_tool(
                    "bash_execute",
                    {"command": "for i in 1 2 3; do echo step$i; sleep 0.7; done"},
                    progress_callback=on_progress,
                )

            _, res = await session_run(url, tokens["rw"], bash_flow)
            body = json.loads(res.content[0].text)
            check("bash_execute result", not res.isError and body["stdout"] == "step1\nstep2\nstep3\n", body)
            check("progress notifications received", len(updates) >= 1, updates)
            check("progress carries the latest line",
                  any(m and "step" in m for _, m in updates), updates)

            # The client gives up on a long call: the command must stop with it.
            command, stopped = abandoned_command(work, "sdk1-abandoned")

            async def abandon(s):
                with anyio.move_on_after(1.0) as scope:
                    await s.call_tool("bash_execute", {"command": command})
                return scope.cancelled_caught

            _, cut = await session_run(url, tokens["rw"], abandon)
            check("abandoned call was cut off by the client", cut)
            check("the abandoned call's command was stopped", await stopped())

            # MCP tasks (2025-11-25) through the SDK's experimental client: create, poll, result.
            async def task_flow(s):
                created = await s.experimental.call_tool_as_task(
                    "bash_execute", {"command": "echo t; sleep 0.5; exit 2"}, ttl=60000)
                statuses = [st.status async for st in s.experimental.poll_task(created.task.taskId)]
                result = await s.experimental.get_task_result(created.task.taskId, types.CallToolResult)
                listed = await s.experimental.list_tasks()
                return created, statuses, result, listed

            _, (created, statuses, result, listed) = await session_run(url, tokens["rw"], task_flow)
            tbody = json.loads(result.content[0].text)
            check("task created as working", created.task.status == "working", created)
            check("task polled to completed", statuses[-1] == "completed", statuses)
            check("task result through tasks/result",
                  tbody["stdout"] == "t\n" and tbody["exit_code"] == 2, tbody)
            check("tasks/list has the task",
                  any(t.taskId == created.task.taskId for t in listed.tasks), listed)
            check("initialize serverInfo", init.serverInfo.name == "linux-server", init)
            names = sorted(t.name for t in tools.tools)
            check("rw lists 12 tools", len(names) == 12, names)
            body = json.loads(ok.content[0].text)
            check("read_file ok", not ok.isError and body["content"] == "   1\thello"
                  and body["total_lines"] == 2 and body["truncated"] is True, body)
            body = json.loads(missing.content[0].text)
            check("read_file missing is isError", missing.isError and body["error"] == "FileNotFoundError", body)
            body = json.loads(bad.content[0].text)
            check("wrong type is a clear error", bad.isError and body["error"] == "InvalidArguments", body)

            # An ro token made through the admin API sees 5 tools and is denied bash_execute.
            ro = make_token(addr, tokens["admin"], "sdk-ro", "ro")

            async def ro_flow(s):
                tools = await s.list_tools()
                denied = await s.call_tool("bash_execute", {"command": "id"})
                environ = await s.call_tool("read_file", {"file_path": "/proc/self/environ"})
                own = await s.call_tool("read_file", {"file_path": f"/proc/{proc.pid}/environ"})
                version = await s.call_tool("read_file", {"file_path": "/proc/version"})
                return tools, denied, environ, own, version

            _, (tools, denied, environ, own, version) = await session_run(url, ro, ro_flow)
            # The server's own environment is off limits to ro; /proc in general is not.
            for label, res in (("/proc/self/environ", environ), ("/proc/<server>/environ", own)):
                body = json.loads(res.content[0].text)
                check(f"ro refused {label}", res.isError and body["error"] == "ProtectedPath", body)
            check("ro reads /proc/version", not version.isError, version)
            names = sorted(t.name for t in tools.tools)
            check("ro lists 5 tools", names == ["glob", "grep", "prepare_download", "read_file", "server_overview"], names)
            body = json.loads(denied.content[0].text)
            check("ro denied bash_execute", denied.isError and body["error"] == "PermissionDenied", body)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        # The same binary as a stdio server, started by the SDK's stdio client: no token, the
        # caller is this OS user; rw runs commands with progress, the default role (ro) does not.
        env = clean_env()
        empty = stdio_env_file(work)
        stdio_updates = []

        async def on_stdio_progress(progress, total, message):
            stdio_updates.append(message)

        async def stdio_run(args, fn):
            params = StdioServerParameters(
                command=binary, args=["stdio", "--env-file", empty, *args], env=env, cwd=work)
            async with stdio_client(params) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await fn(session)

        async def stdio_rw(s):
            tools = await s.list_tools()
            ran = await s.call_tool(
                "bash_execute", {"command": "for i in 1 2; do echo s$i; sleep 0.6; done; id -un"},
                progress_callback=on_stdio_progress)
            read = await s.call_tool("read_file", {"file_path": sample})
            return tools, ran, read

        async def stdio_ro(s):
            return await s.list_tools(), await s.call_tool("bash_execute", {"command": "id"})

        tools, ran, read = await stdio_run(["--role", "rw"], stdio_rw)
        body = json.loads(ran.content[0].text)
        user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        check("stdio rw runs a command as this user",
              not ran.isError and body["stdout"].endswith(f"{user}\n"), body)
        check("stdio progress notifications received",
              any(m and "latest: s" in m for m in stdio_updates), stdio_updates)
        check("stdio read_file", not read.isError and "hello" in read.content[0].text, read)
        check("stdio rw lists 12 tools", len(tools.tools) == 12, [t.name for t in tools.tools])
        tools, denied = await stdio_run([], stdio_ro)
        check("stdio default role is ro (5 tools)", len(tools.tools) == 5, [t.name for t in tools.tools])
        body = json.loads(denied.content[0].text)
        check("stdio ro denied bash_execute", denied.isError and body["error"] == "PermissionDenied", body)
    return summary()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(os.path.abspath(sys.argv[1]))))
