// The official TypeScript MCP SDK doing OAuth discovery by itself against the real server and a
// real authorization server (oidc-provider, tests/oauth/as.mjs):
// 401 + resource_metadata -> protected resource metadata -> authorization server metadata ->
// token by the client credentials grant (with the resource indicator) -> tools/call.
//
// Usage: node tests/ts/oauth.mjs path/to/mymcp   (after `npm ci` in tests/ts and tests/oauth)
//
// Checks: a client with the ro scope gets the 5 ro tools; one with the rw scope gets all 12 and
// runs a command, audited under its subject; one with neither scope is refused (403
// insufficient_scope, after the SDK's own step-up attempt); wrong client credentials fail; a
// client that expects another issuer refuses to send its credentials. Prints 'N passed, N failed'; exit 1 on any failure.
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ClientCredentialsProvider } from "@modelcontextprotocol/sdk/client/auth-extensions.js";

const binary = resolve(process.argv[2]);
const here = dirname(fileURLToPath(import.meta.url));

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
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("MYMCP_")));

// The authorization server: resolves with its issuer URL once it listens.
function startAuthServer() {
  return new Promise((ok, fail) => {
    const proc = spawn(process.execPath, [join(here, "../oauth/as.mjs")], { stdio: ["ignore", "pipe", "ignore"] });
    createInterface({ input: proc.stdout }).once("line", (line) => ok({ proc, issuer: JSON.parse(line).issuer }));
    proc.on("exit", () => fail(new Error("the authorization server exited before it was ready")));
  });
}

// A free port on 127.0.0.1: the audience (this server's URL) has to be known before it starts.
function freePort() {
  return new Promise((ok) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

function startServer(cwd, port, issuer) {
  return new Promise((ok, fail) => {
    const env = {
      ...cleanEnv(),
      MYMCP_OAUTH_ISSUER: issuer,
      MYMCP_PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      MYMCP_AUDIT_ENABLED: "true",
      MYMCP_AUDIT_LOG_DIR: join(cwd, "log"),
    };
    const proc = spawn(binary, ["serve", "--port", String(port)], { cwd, env, stdio: ["ignore", "ignore", "pipe"] });
    if (process.env.MYMCP_TS_DEBUG) createInterface({ input: proc.stderr }).on("line", (l) => console.error(l));
    createInterface({ input: proc.stderr }).on("line", (line) => {
      if (line.startsWith("[mymcp] serving on ")) ok(proc);
    });
    proc.on("exit", () => fail(new Error("server exited before it was ready")));
  });
}

async function connect(url, authProvider) {
  const client = new Client({ name: "mymcp-ts-oauth", version: "1" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider }));
  return client;
}

const work = mkdtempSync(join(tmpdir(), "mymcp-ts-oauth-"));
const as = await startAuthServer();
const port = await freePort();
const server = await startServer(work, port, as.issuer);
const url = `http://127.0.0.1:${port}/mcp`;
try {
  const ro = await connect(url, new ClientCredentialsProvider({ clientId: "agent", clientSecret: "agent-secret", expectedIssuer: as.issuer, scope: "mymcp:ro" }));
  const roTools = (await ro.listTools()).tools.map((t) => t.name);
  check("discovery and an ro token give the 5 ro tools", roTools.length === 5 && !roTools.includes("bash_execute"), roTools);
  const read = await ro.callTool({ name: "read_file", arguments: { file_path: "/etc/hostname" } });
  check("ro reads a file", !read.isError, read);
  await ro.close();

  const rw = await connect(url, new ClientCredentialsProvider({ clientId: "agent", clientSecret: "agent-secret", expectedIssuer: as.issuer, scope: "mymcp:rw" }));
  const rwTools = (await rw.listTools()).tools;
  check("an rw token gives 12 tools", rwTools.length === 12, rwTools.map((t) => t.name));
  const run = await rw.callTool({ name: "bash_execute", arguments: { command: "echo oauth-works" } });
  const out = JSON.parse(run.content[0].text);
  check("rw runs a command", !run.isError && out.stdout.includes("oauth-works"), out);
  await rw.close();
  const audit = readFileSync(join(work, "log", "audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const line = audit.find((a) => a.tool === "bash_execute");
  check("the audit names the subject and client", line?.token_name === "oauth:agent" && line?.client_id === "agent", line);

  let scopeless = null;
  try {
    await connect(url, new ClientCredentialsProvider({ clientId: "agent", clientSecret: "agent-secret", expectedIssuer: as.issuer }));
  } catch (e) {
    scopeless = e;
  }
  check("a token with neither scope is refused (403 insufficient_scope)", String(scopeless).includes("403"), String(scopeless));

  let refused = null;
  try {
    await connect(url, new ClientCredentialsProvider({ clientId: "agent", clientSecret: "wrong", expectedIssuer: as.issuer }));
  } catch (e) {
    refused = e;
  }
  check("wrong client credentials fail to connect", refused !== null, String(refused));

  let kept = null;
  try {
    await connect(url, new ClientCredentialsProvider({ clientId: "agent", clientSecret: "agent-secret", expectedIssuer: "https://not-the-issuer.example" }));
  } catch (e) {
    kept = e;
  }
  check("credentials are not sent to an unexpected issuer", kept !== null, String(kept));
} catch (e) {
  check("no unexpected error", false, e?.stack ?? String(e));
} finally {
  server.kill("SIGTERM");
  as.proc.kill();
}
console.log(`${results.passed} passed, ${results.failed} failed`);
process.exit(results.failed === 0 ? 0 : 1);
