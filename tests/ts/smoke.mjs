// The official TypeScript MCP SDK (pinned in package.json) against the real server.
//
// Usage: node tests/ts/smoke.mjs path/to/mymcp   (after `npm ci` in tests/ts)
//
// Streamable HTTP with an rw token: tools/list (12), every tool once, a failing call,
// bash_execute with progress, a call the client aborts (its command stops, the server keeps
// serving), a background job polled with job_output, MCP tasks through the SDK's experimental
// tasks client (created, polled, result, listed, cancelled, and asked for unasked); an ro token:
// 5 tools, bash_execute denied; a wrong token: a clear authentication error. Then `mymcp stdio`
// through StdioClientTransport, and mcp-remote 0.15.1 with a wrong token. Prints 'N passed,
// N failed'; exit 1 on any failure.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, chmodSync, rmSync, readdirSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const binary = resolve(process.argv[2]);

// Live (not zombie) processes in process group `pgid`, from /proc/<pid>/stat.
function liveInGroup(pgid) {
  const out = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const f = stat.slice(stat.lastIndexOf(")") + 1).trim().split(/\s+/);
    if (f[2] === String(pgid) && f[0] !== "Z" && f[0] !== "X") out.push(Number(name));
  }
  return out;
}

// A command that writes its process group to <tag>.pid and would touch <tag>.marker after 5 s;
// `stopped()` waits up to 4 s for the group to be gone and the marker still absent.
function abandonedCommand(dir, tag) {
  const pidFile = join(dir, `${tag}.pid`);
  const marker = join(dir, `${tag}.marker`);
  return {
    command: `echo $$ > ${pidFile}; sleep 5; touch ${marker}`,
    async stopped() {
      const deadline = Date.now() + 4000;
      while (Date.now() < deadline) {
        let pgid = NaN;
        try {
          pgid = Number(readFileSync(pidFile, "utf8").trim());
        } catch {}
        if (pgid > 0 && liveInGroup(pgid).length === 0) return !existsSync(marker);
        await new Promise((r) => setTimeout(r, 50));
      }
      return false;
    },
  };
}
const results = { passed: 0, failed: 0 };
function check(name, cond, detail = "") {
  if (cond) {
    results.passed++;
    console.log(`ok   ${name}`);
  } else {
    results.failed++;
    console.log(`FAIL ${name} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
}
const body = (res) => JSON.parse(res.content[0].text);
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MYMCP_")));

// `mymcp serve` in temp-token mode on port 0: resolves with the process, tokens and address.
function startServer(cwd) {
  return new Promise((ok, fail) => {
    const proc = spawn(binary, ["serve", "--port", "0"], { cwd, env: cleanEnv(), stdio: ["ignore", "ignore", "pipe"] });
    const tokens = {};
    const lines = createInterface({ input: proc.stderr });
    lines.on("line", (line) => {
      if (line.includes("temp admin token:")) tokens.admin = line.split(/\s+/).pop();
      else if (line.includes("temp rw token:")) tokens.rw = line.split(/\s+/).pop();
      else if (line.startsWith("[mymcp] serving on ")) ok({ proc, tokens, addr: line.split(/\s+/).pop() });
    });
    proc.on("exit", () => fail(new Error("server exited before it was ready")));
  });
}

async function connect(url, token) {
  const client = new Client({ name: "mymcp-ts-smoke", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

const work = mkdtempSync(join(tmpdir(), "mymcp-ts-"));
const notes = join(work, "notes.txt");
writeFileSync(notes, "alpha\nbeta\n");
const { proc, tokens, addr } = await startServer(work);
const url = `http://${addr}/mcp`;
try {
  const c = await connect(url, tokens.rw);
  const tools = await c.listTools();
  check("rw lists 12 tools", tools.tools.length === 12, tools.tools.map((t) => t.name));
  const calls = {
    glob: { pattern: "*.txt", path: work },
    grep: { pattern: "beta", path: work },
    read_file: { file_path: notes },
    write_file: { file_path: join(work, "new.txt"), content: "x\n" },
    edit_file: { file_path: notes, old_string: "alpha", new_string: "gamma" },
    prepare_download: { src_path: notes },
    prepare_upload: { dest_path: join(work, "up.bin") },
    server_overview: {},
  };
  for (const [name, args] of Object.entries(calls)) {
    const res = await c.callTool({ name, arguments: args });
    // No recorder is configured, so server_overview answers a well-formed RecorderDisabled.
    const ok = !res.isError || (name === "server_overview" && body(res).error === "RecorderDisabled");
    check(`call ${name}`, ok, res);
  }
  check("edit_file changed the file", readFileSync(notes, "utf8") === "gamma\nbeta\n");
  const updates = [];
  const ran = await c.callTool(
    { name: "bash_execute", arguments: { command: "for i in 1 2; do echo p$i; sleep 0.6; done" } },
    undefined,
    { onprogress: (p) => updates.push(p.message) },
  );
  check("bash_execute with progress", !ran.isError && body(ran).stdout === "p1\np2\n", ran);
  check("progress notifications received", updates.some((m) => m && m.includes("latest: p")), updates);
  const missing = await c.callTool({ name: "read_file", arguments: { file_path: notes + ".missing" } });
  check("a failing call is isError with the code", missing.isError && body(missing).error === "FileNotFoundError", missing);
  // The client aborts a long call; the SDK sends notifications/cancelled. The command stops,
  // the server keeps serving.
  const abandoned = abandonedCommand(work, "ts-abandoned");
  const abort = new AbortController();
  setTimeout(() => abort.abort("test"), 1000);
  let aborted = false;
  try {
    await c.callTool({ name: "bash_execute", arguments: { command: abandoned.command } }, undefined, { signal: abort.signal });
  } catch {
    aborted = true;
  }
  check("aborted call rejected on the client", aborted);
  check("the aborted call's command was stopped", await abandoned.stopped());
  const again = await c.callTool({ name: "read_file", arguments: { file_path: notes } });
  check("server answers after an aborted call", !again.isError, again);
  // A background job: started at once, then polled with wait until it ends.
  const started = await c.callTool({
    name: "bash_execute",
    arguments: { command: "echo a; sleep 0.5; echo b; exit 4", background: true },
  });
  const job = body(started);
  check("background job started", !started.isError && job.status === "running", started);
  let seen = "";
  let last = {};
  for (let i = 0; i < 20; i++) {
    last = body(await c.callTool({ name: "job_output", arguments: { job_id: job.job_id, wait: 10 } }));
    seen += last.stdout;
    if (last.status !== "running") break;
  }
  check("job output and exit code through job_output", seen === "a\nb\n" && last.status === "exited" && last.exit_code === 4, { seen, last });
  // MCP tasks (2025-11-25) through the SDK's experimental tasks client: created, polled with
  // tasks/get, the result fetched with tasks/result; then listed, and another one cancelled.
  const kinds = [];
  let taskId = "";
  let taskResult = null;
  for await (const m of c.experimental.tasks.callToolStream(
    { name: "bash_execute", arguments: { command: "echo t; sleep 0.5; exit 2" } },
    undefined,
    { task: { ttl: 60000 } },
  )) {
    kinds.push(m.type);
    if (m.type === "taskCreated") taskId = m.task.taskId;
    if (m.type === "result") taskResult = body(m.result);
    if (m.type === "error") kinds.push(String(m.error));
  }
  check("task created, polled and its result fetched",
    kinds[0] === "taskCreated" && kinds.includes("taskStatus") && taskResult?.stdout === "t\n" && taskResult?.exit_code === 2,
    { kinds, taskResult });
  const listed = await c.experimental.tasks.listTasks();
  check("tasks/list has the task", listed.tasks.some((t) => t.taskId === taskId && t.status === "completed"), listed);
  const stream = c.experimental.tasks.callToolStream(
    { name: "bash_execute", arguments: { command: "sleep 60" } },
    undefined,
    { task: {} },
  );
  const first = await stream.next();
  const cancelled = await c.experimental.tasks.cancelTask(first.value.task.taskId);
  check("tasks/cancel stops a running task", cancelled.status === "cancelled", cancelled);
  await stream.return();
  // Advertised support: without an explicit task option the SDK asks for a task by itself.
  const auto = [];
  for await (const m of c.experimental.tasks.callToolStream({ name: "bash_execute", arguments: { command: "echo auto" } })) {
    auto.push(m.type);
  }
  check("the server advertises tasks (the SDK makes a task unasked)", auto[0] === "taskCreated" && auto.at(-1) === "result", auto);
  await c.close();

  const adminReply = await fetch(`http://${addr}/admin/tokens`, {
    method: "POST",
    headers: { Authorization: `Bearer ${tokens.admin}`, "Content-Type": "application/json" },
    body: JSON.stringify({ name: "ts-ro", role: "ro" }),
  });
  const ro = (await adminReply.json()).token;
  const r = await connect(url, ro);
  const roTools = await r.listTools();
  check("ro lists 5 tools", roTools.tools.length === 5, roTools.tools.map((t) => t.name));
  const denied = await r.callTool({ name: "bash_execute", arguments: { command: "id" } });
  check("ro denied bash_execute", denied.isError && body(denied).error === "PermissionDenied", denied);
  await r.close();

  // A wrong token: the SDK must report an authentication failure, not attempt OAuth.
  let authError = "";
  try {
    await connect(url, "tok_wrong_token_for_the_ts_smoke_test_0000");
  } catch (e) {
    authError = String(e && e.message ? e.message : e);
  }
  check("wrong token is a clear 401", /invalid or disabled token|401/i.test(authError) && !/regist/i.test(authError), authError);

  // mcp-remote (the stdio bridge Claude Desktop users run) treats any 401 as an OAuth sign-in
  // and fails at client registration: what it prints must name the real problem.
  const bridge = spawn(
    fileURLToPath(new URL("node_modules/.bin/mcp-remote", import.meta.url)),
    [url, "--header", "Authorization: Bearer tok_wrong_token_for_the_ts_smoke_test_0000"],
    { env: { ...cleanEnv(), HOME: work }, stdio: ["pipe", "ignore", "pipe"] },
  );
  let bridgeErr = "";
  bridge.stderr.on("data", (d) => (bridgeErr += d));
  bridge.stdin.write(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } } }) + "\n");
  const exited = await new Promise((ok) => {
    const t = setTimeout(() => { bridge.kill("SIGKILL"); ok(false); }, 30000);
    bridge.on("exit", () => { clearTimeout(t); ok(true); });
  });
  check("mcp-remote with a wrong token exits and says what is wrong", exited && bridgeErr.includes("does not offer OAuth") && bridgeErr.includes("Authorization header"), bridgeErr.slice(-600));
} finally {
  proc.kill("SIGTERM");
}

// mymcp stdio through the SDK's stdio transport.
const etc = join(work, "etc");
mkdirSync(etc, { mode: 0o700 });
const envFile = join(etc, "stdio.env");
writeFileSync(envFile, "MYMCP_LOG_LEVEL=warning\n");
chmodSync(envFile, 0o600);
const s = new Client({ name: "mymcp-ts-smoke", version: "1" });
await s.connect(new StdioClientTransport({ command: binary, args: ["stdio", "--role", "rw", "--env-file", envFile], env: cleanEnv(), cwd: work, stderr: "inherit" }));
const sTools = await s.listTools();
check("stdio lists 12 tools", sTools.tools.length === 12, sTools.tools.map((t) => t.name));
const user = execFileSync("id", ["-un"]).toString().trim();
const who = await s.callTool({ name: "bash_execute", arguments: { command: "id -un" } });
check("stdio runs commands as this OS user", !who.isError && body(who).stdout === `${user}\n`, who);
await s.close();
rmSync(work, { recursive: true, force: true });

console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
