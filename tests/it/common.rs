//! Test harness: starts the real `mymcp` binary on 127.0.0.1 port 0 and talks HTTP to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_mymcp");
/// Tools an rw caller sees: the reference's nine and the three job tools.
pub const RW_TOOLS: usize = 12;
pub const ADMIN: &str = "tok_admin_for_tests_0123456789abcdef";

/// A command for the binary with no inherited `MYMCP_*` variables.
pub fn mymcp_cmd() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("MYMCP_") {
            c.env_remove(k);
        }
    }
    c
}

/// A scratch host layout: config dir (env file + tokens), audit dir, data dir.
pub struct Layout {
    pub dir: tempfile::TempDir,
}

impl Layout {
    pub fn new(extra_env: &str) -> Layout {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let env = format!(
            "MYMCP_ADMIN_TOKEN={ADMIN}\nMYMCP_HOST=127.0.0.1\nMYMCP_PORT=0\nMYMCP_TOKEN_FILE={}\nMYMCP_AUDIT_LOG_DIR={}\nMYMCP_RECORDER_DATA_DIR={}\n{extra_env}\n",
            root.join("etc/tokens.json").display(),
            root.join("log").display(),
            root.join("recorder").display(),
        );
        std::fs::write(root.join("etc/.env"), env).unwrap();
        Layout { dir }
    }
    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn env_file(&self) -> PathBuf {
        self.root().join("etc/.env")
    }
    pub fn token_file(&self) -> PathBuf {
        self.root().join("etc/tokens.json")
    }
    pub fn data(&self) -> PathBuf {
        self.root().join("data")
    }
    /// The audit log's records so far (none yet: empty).
    pub fn audit_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(self.root().join("log/audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|x| serde_json::from_str(x).unwrap())
            .collect()
    }
    /// Run a CLI command against this layout's env file.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut c = mymcp_cmd();
        c.args(args).arg("--env-file").arg(self.env_file());
        c.current_dir(self.root()).output().unwrap()
    }
}

/// A running server process. Derefs to its [`Client`].
pub struct Server {
    pub child: Child,
    pub stderr: mpsc::Receiver<String>,
    pub api: Client,
}

/// Talks HTTP to a server; cheap to clone into tasks.
#[derive(Clone)]
pub struct Client {
    pub addr: String,
    pub client: reqwest::Client,
    /// `http`, or `https` for a server with built-in TLS.
    pub scheme: &'static str,
}

impl std::ops::Deref for Server {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.api
    }
}

impl std::ops::DerefMut for Server {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.api
    }
}

impl Server {
    /// Start `mymcp serve` with `args`, in `cwd`, with `envs`; wait for the banner.
    pub fn spawn(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Server {
        let mut c = mymcp_cmd();
        c.arg("serve");
        Server::spawn_with(c, args, cwd, envs)
    }

    /// `mymcp serve` as uid/gid 65534 (setpriv), the way a service user runs it.
    pub fn spawn_as_nobody(args: &[&str], cwd: &Path) -> Server {
        let mut c = Command::new("setpriv");
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("MYMCP_") {
                c.env_remove(k);
            }
        }
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            BIN,
            "serve",
        ]);
        Server::spawn_with(c, args, cwd, &[])
    }

    /// Start `c` (a command that ends in `serve`) with `args`; wait for the banner.
    fn spawn_with(mut c: Command, args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Server {
        c.args(args).current_dir(cwd);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.stdout(Stdio::null())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = c.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(a) = line.strip_prefix("[mymcp] serving on ") {
                        break a.trim().to_string();
                    }
                    seen.push(line);
                }
                Err(_) => panic!("server did not start; stderr so far:\n{}", seen.join("\n")),
            }
        };
        // Put the lines before the banner back for tests that read them (temp tokens).
        let (tx2, rx2) = mpsc::channel();
        for l in seen {
            let _ = tx2.send(l);
        }
        std::thread::spawn(move || {
            while let Ok(l) = rx.recv() {
                if tx2.send(l).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            stderr: rx2,
            api: Client {
                addr,
                client: reqwest::Client::new(),
                scheme: "http",
            },
        }
    }

    pub fn start(layout: &Layout) -> Server {
        Server::start_with_env(layout, &[])
    }

    /// Start on the layout's env file with extra process environment variables.
    pub fn start_with_env(layout: &Layout, envs: &[(&str, &str)]) -> Server {
        let env = layout.env_file();
        Server::spawn(&["--env-file", env.to_str().unwrap()], layout.root(), envs)
    }

    /// SIGTERM and wait for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        self.child.wait().unwrap()
    }

    /// All stderr lines received so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.try_iter().collect()
    }
}

impl Client {
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.addr, path)
    }

    /// The `/metrics` text, read with the metrics token `token`.
    pub async fn metrics(&self, token: &str) -> String {
        let r = self
            .client
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// A POST to /mcp with the headers every client sends (JSON body, JSON or SSE reply) and
    /// the bearer token when given; the caller adds the body and anything else.
    pub fn mcp_request(&self, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self
            .client
            .post(self.url("/mcp"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream");
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Raw POST to /mcp with the standard headers.
    pub async fn post_mcp(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        self.mcp_request(token)
            .body(body.to_string())
            .send()
            .await
            .unwrap()
    }

    /// JSON-RPC request; returns the whole response object.
    pub async fn rpc(&self, token: &str, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc":"2.0","id":1,"method":method,"params":params});
        let resp = self.post_mcp(Some(token), &body).await;
        assert_eq!(resp.status(), 200, "rpc {method}");
        resp.json().await.unwrap()
    }

    /// tools/call; returns (isError, parsed JSON of the text block).
    pub async fn call(&self, token: &str, tool: &str, args: Value) -> (bool, Value) {
        let v = self
            .rpc(
                token,
                "tools/call",
                json!({"name": tool, "arguments": args}),
            )
            .await;
        tool_result(&v)
    }

    pub async fn tool_names(&self, token: &str) -> Vec<String> {
        let v = self.rpc(token, "tools/list", json!({})).await;
        v["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Create a token through the admin API.
    pub async fn admin_create(&self, name: &str, role: &str) -> (String, String) {
        let r = self
            .client
            .post(self.url("/admin/tokens"))
            .bearer_auth(ADMIN)
            .json(&json!({"name": name, "role": role}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        (
            v["token"].as_str().unwrap().to_string(),
            v["id"].as_str().unwrap().to_string(),
        )
    }

    /// Is this token accepted on /mcp right now?
    pub async fn accepted(&self, token: &str) -> bool {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
        self.post_mcp(Some(token), &body).await.status() == 200
    }

    /// Poll until `accepted(token) == want`, at most `within`. Returns whether it got there.
    pub async fn wait_accepted(&self, token: &str, want: bool, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.accepted(token).await == want {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Run `mymcp serve` on the layout; it must exit by itself (a refusal). A server that starts
/// instead is killed after 20 s, so the test fails rather than hangs.
pub fn serve_refused(l: &Layout) -> std::process::Output {
    let mut c = mymcp_cmd();
    c.args(["serve", "--env-file"])
        .arg(l.env_file())
        .current_dir(l.root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    let pid = child.id() as i32;
    let (done, exited) = mpsc::channel::<()>();
    let killer = std::thread::spawn(move || {
        if exited.recv_timeout(Duration::from_secs(20)).is_err()
            && let Some(pid) = rustix::process::Pid::from_raw(pid)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    });
    let out = child.wait_with_output().unwrap();
    let _ = done.send(());
    let _ = killer.join();
    out
}

/// Wait until a stderr line contains `needle`; panics with what was seen after 10 s.
pub fn wait_for_line(s: &Server, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match s.stderr.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with {needle:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Under `cargo llvm-cov` the server writes its coverage profile only when it exits on its
        // own, so it gets SIGTERM and a few seconds to shut down; otherwise nothing changes.
        if std::env::var_os("LLVM_PROFILE_FILE").is_some() {
            let pid = rustix::process::Pid::from_raw(self.child.id() as i32);
            if let Some(pid) = pid {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if !matches!(self.child.try_wait(), Ok(None)) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One sample of the Prometheus text format.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub value: f64,
}

impl Sample {
    /// `{k="v",…}` in sorted key order, or empty: `name + labels_text()` names a series.
    pub fn labels_text(&self) -> String {
        if self.labels.is_empty() {
            return String::new();
        }
        let inner: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{{{}}}", inner.join(","))
    }
}

/// A strict parser for the Prometheus text exposition format (0.0.4): comments, `name value`
/// and `name{k="v",…} value` with escaped label values. Panics on anything malformed.
pub fn parse_prometheus(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line
            .find(['{', ' '])
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let name = line[..name_end].to_string();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        let mut labels = std::collections::BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut chars = r.char_indices().peekable();
            let mut key = String::new();
            let end;
            loop {
                let (i, c) = chars
                    .next()
                    .unwrap_or_else(|| panic!("unterminated labels {line:?}"));
                match c {
                    '}' => {
                        end = i + 1;
                        break;
                    }
                    ',' => {}
                    '=' => {
                        assert_eq!(chars.next().map(|x| x.1), Some('"'), "{line}");
                        let mut val = String::new();
                        loop {
                            let (_, c) = chars
                                .next()
                                .unwrap_or_else(|| panic!("unterminated value {line:?}"));
                            match c {
                                '"' => break,
                                '\\' => match chars.next().map(|x| x.1) {
                                    Some('n') => val.push('\n'),
                                    Some(o) => val.push(o),
                                    None => panic!("{line}"),
                                },
                                o => val.push(o),
                            }
                        }
                        labels.insert(std::mem::take(&mut key), val);
                    }
                    o => key.push(o),
                }
            }
            rest = &r[end..];
        }
        let value: f64 = rest
            .split_whitespace()
            .next()
            .unwrap_or_else(|| panic!("{line}"))
            .parse()
            .unwrap_or_else(|_| panic!("bad value {line:?}"));
        out.push(Sample {
            name,
            labels,
            value,
        });
    }
    out
}

/// Replace the layout's root (as given and canonical) with `[ROOT]` for snapshots.
pub fn redact(l: &Layout, v: &Value) -> Value {
    let canon = std::fs::canonicalize(l.root()).unwrap();
    let t = v
        .to_string()
        .replace(canon.to_str().unwrap(), "[ROOT]")
        .replace(l.root().to_str().unwrap(), "[ROOT]");
    serde_json::from_str(&t).unwrap()
}

/// A thread that keeps replacing `race` (atomically, by rename) with whatever `make` creates
/// at a temp path, until dropped. Used to race symlink swaps against the path guard.
pub struct Flipper {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Flipper {
    pub fn start(race: PathBuf, make: impl Fn(u64, &Path) + Send + 'static) -> Flipper {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s2 = stop.clone();
        let tmp = race.with_extension("flip-tmp");
        let handle = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s2.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&tmp);
                make(i, &tmp);
                let _ = std::fs::rename(&tmp, &race);
                i += 1;
            }
        });
        Flipper {
            stop,
            handle: Some(handle),
        }
    }

    /// Alternate between a symlink to `a` and a symlink to `b`.
    pub fn symlinks(race: PathBuf, a: PathBuf, b: PathBuf) -> Flipper {
        Flipper::start(race, move |i, tmp| {
            let _ = std::os::unix::fs::symlink(if i.is_multiple_of(2) { &a } else { &b }, tmp);
        })
    }
}

impl Drop for Flipper {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// `mymcp doctor --json --config-dir DIR` with extra environment; its checks by name.
pub struct Doctor {
    /// The checks as printed.
    pub checks: Vec<Value>,
    /// The process output (exit status, the JSON text).
    pub out: std::process::Output,
}

impl Doctor {
    pub fn run(config_dir: &Path, envs: &[(&str, &str)]) -> Doctor {
        let mut c = mymcp_cmd();
        c.args(["doctor", "--json", "--config-dir"]).arg(config_dir);
        for (k, v) in envs {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        Doctor {
            checks: serde_json::from_slice(&out.stdout).unwrap(),
            out,
        }
    }

    /// The check called `name` (panics, listing them all, when there is none).
    pub fn check(&self, name: &str) -> Value {
        self.checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.checks))
            .clone()
    }
}

/// A `tools/call` JSON-RPC reply taken apart: whether it is an error, and its text content
/// parsed as JSON. Panics with the whole reply when it has no text content.
pub fn tool_result(v: &Value) -> (bool, Value) {
    let result = &v["result"];
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    let is_error = result["isError"].as_bool().unwrap_or(false);
    let parsed = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {v}"));
    (is_error, parsed)
}
