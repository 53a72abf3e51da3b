"""The official Python SDK 2.x (pinned by .ci/run) against the real server, in its default
"auto" mode: it probes `server/discover` and speaks the per-request protocol where the server
offers it, the handshake otherwise.

Usage: python tests/python/sdk2_smoke.py path/to/mymcp   (with mcp 2.x installed)

Over Streamable HTTP with an rw token: lists tools (12), calls every tool once, a failing call,
bash_execute with progress, a call abandoned by the client (its command stops, the server keeps
serving), a background job polled with job_output; with an
ro token: 5 tools, bash_execute denied. Over HTTPS (MYMCP_TLS_CERT/KEY, a certificate made by
openssl): the same client trusting that certificate lists and calls tools and gets https transfer
links; one that does not trust it is refused. Then `mymcp stdio` through the SDK's stdio
transport.
Prints 'N passed, N failed'.
"""

import asyncio
import json
import os
import ssl
import sys
import tempfile

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import abandoned_command, check, clean_env, make_token, self_signed, start, stdio_env_file, summary  # noqa: E402


def http_client(url, token):
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    return Client(streamable_http_client(url, http_client=http))


def body(res):
    return json.loads(res.content[0].text)


async def main(binary):
    with tempfile.TemporaryDirectory() as work:
        proc, tokens, addr = start(binary, work)
        url = f"http://{addr}/mcp"
        notes = os.path.join(work, "notes.txt")
        with open(notes, "w") as f:
            f.write("alpha\nbeta\n")
        try:
            updates = []

            async def on_progress(progress, total, message):
                updates.append(message)

            async with http_client(url, tokens["rw"]) as c:
                tools = await c.list_tools()
                names = sorted(t.name for t in tools.tools)
                check("rw lists 12 tools", len(names) == 12, names)
                calls = {
                    "glob": {"pattern": "*.txt", "path": work},
                    "grep": {"pattern": "beta", "path": work},
                    "read_file": {"file_path": notes},
                    "write_file": {"file_path": os.path.join(work, "new.txt"), "content": "x\n"},
                    "edit_file": {"file_path": notes, "old_string": "alpha", "new_string": "gamma"},
                    "prepare_download": {"src_path": notes},
                    "prepare_upload": {"dest_path": os.path.join(work, "up.bin")},
                    "server_overview": {},
                }
                for name, args in calls.items():
                    res = await c.call_tool(name, args)
                    # server_overview answers RecorderDisabled here (no recorder configured):
                    # a well-formed tool error is what a client must get.
                    ok = (not res.is_error) or (name == "server_overview" and body(res)["error"] == "RecorderDisabled")
                    check(f"call {name}", ok, res)
                check("edit_file changed the file", open(notes).read() == "gamma\nbeta\n")
                res = await c.call_tool(
                    "bash_execute",
                    {"command": "for i in 1 2; do echo p$i; sleep 0.6; done"},
                    progress_callback=on_progress,
                )
                check("bash_execute with progress", not res.is_error and body(res)["stdout"] == "p1\np2\n", res)
                check("progress notifications received", any(m and "latest: p" in m for m in updates), updates)
                res = await c.call_tool("read_file", {"file_path": notes + ".missing"})
                check("a failing call is isError with the code",
                      res.is_error and body(res)["error"] == "FileNotFoundError", res)
                # The client gives up on a long call: the command stops, the server keeps answering.
                command, stopped = abandoned_command(work, "sdk2-abandoned")
                with anyio.move_on_after(1.0) as scope:
                    await c.call_tool("bash_execute", {"command": command})
                check("abandoned call was cut off by the client", scope.cancelled_caught)
                check("the abandoned call's command was stopped", await stopped())
                res = await c.call_tool("read_file", {"file_path": notes})
                check("server answers after an abandoned call", not res.is_error, res)
                # A background job: started at once, then polled with wait until it ends.
                res = await c.call_tool("bash_execute", {"command": "echo a; sleep 0.5; echo b; exit 4",
                                                         "background": True})
                job = body(res)
                check("background job started", not res.is_error and job["status"] == "running", res)
                seen, last = "", {}
                for _ in range(20):
                    last = body(await c.call_tool("job_output", {"job_id": job["job_id"], "wait": 10}))
                    seen += last["stdout"]
                    if last["status"] != "running":
                        break
                check("job output and exit code through job_output",
                      seen == "a\nb\n" and last["status"] == "exited" and last["exit_code"] == 4, (seen, last))

            ro = make_token(addr, tokens["admin"], "sdk2-ro", "ro")
            async with http_client(url, ro) as c:
                tools = await c.list_tools()
                check("ro lists 5 tools", len(tools.tools) == 5, [t.name for t in tools.tools])
                res = await c.call_tool("bash_execute", {"command": "id"})
                check("ro denied bash_execute", res.is_error and body(res)["error"] == "PermissionDenied", res)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        cert, key = self_signed(work)
        proc, tokens, addr = start(binary, work, {"MYMCP_TLS_CERT": cert, "MYMCP_TLS_KEY": key})
        url = f"https://{addr}/mcp"
        try:
            trusting = httpx2.AsyncClient(
                headers={"Authorization": f"Bearer {tokens['rw']}"},
                verify=ssl.create_default_context(cafile=cert),
                timeout=httpx2.Timeout(30, read=300),
            )
            async with Client(streamable_http_client(url, http_client=trusting)) as c:
                tools = await c.list_tools()
                check("https: rw lists 12 tools", len(tools.tools) == 12, [t.name for t in tools.tools])
                res = await c.call_tool("read_file", {"file_path": notes})
                check("https: read_file", not res.is_error and "beta" in body(res)["content"], res)
                res = await c.call_tool("prepare_download", {"src_path": notes})
                check("https: transfer link says https",
                      not res.is_error and body(res)["url"].startswith(f"https://{addr}/"), res)
            refused = False
            try:
                async with http_client(url, tokens["rw"]) as c:
                    await c.list_tools()
            except Exception:  # the SDK wraps the certificate error in its own types
                refused = True
            check("https: a client that does not trust the certificate is refused", refused)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

        params = StdioServerParameters(
            command=binary,
            args=["stdio", "--role", "rw", "--env-file", stdio_env_file(work)],
            env=clean_env(),
            cwd=work,
        )
        async with Client(params) as c:
            tools = await c.list_tools()
            check("stdio lists 12 tools", len(tools.tools) == 12, [t.name for t in tools.tools])
            res = await c.call_tool("bash_execute", {"command": "echo via-stdio"})
            check("stdio bash_execute", not res.is_error and body(res)["stdout"] == "via-stdio\n", res)
    return summary()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(os.path.abspath(sys.argv[1]))))
