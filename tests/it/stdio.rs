//! `mymcp stdio`: MCP over the real binary's stdin/stdout. The Python SDK's stdio client is
//! exercised by `tests/python/sdk_smoke.py`; these tests cover what a client library hides:
//! exact output lines, bad input, end of input, the caller's identity in the audit log.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{Layout, mymcp_cmd};

/// A running `mymcp stdio` with line-level access to its streams.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

impl Session {
    fn start(l: &Layout, args: &[&str]) -> Session {
        let mut c: Command = mymcp_cmd();
        c.arg("stdio")
            .args(args)
            .arg("--env-file")
            .arg(l.env_file())
            .current_dir(l.root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let stdin = child.stdin.take();
        let out = lines_of(child.stdout.take().unwrap());
        let err = lines_of(child.stderr.take().unwrap());
        Session {
            child,
            stdin,
            out,
            err,
        }
    }

    fn send_raw(&mut self, line: &[u8]) {
        let w = self.stdin.as_mut().unwrap();
        w.write_all(line).unwrap();
        w.write_all(b"\n").unwrap();
        w.flush().unwrap();
    }

    fn send(&mut self, msg: Value) {
        self.send_raw(msg.to_string().as_bytes());
    }

    /// The next stdout line, which must be a JSON object.
    fn recv(&self) -> Value {
        let line = self
            .out
            .recv_timeout(Duration::from_secs(20))
            .expect("no output line within 20 s");
        serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"))
    }

    fn initialize(&mut self) -> Value {
        self.send(
            json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},
            "clientInfo":{"name":"stdio-test","version":"1"}}}),
        );
        let v = self.recv();
        self.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
        v
    }

    /// tools/call; returns (isError, the result's JSON text parsed).
    fn call(&mut self, id: u64, tool: &str, args: Value) -> (bool, Value) {
        self.send(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":tool,"arguments":args}}));
        let v = self.recv();
        assert_eq!(v["id"], id, "{v}");
        let text = v["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"));
        (
            v["result"]["isError"].as_bool().unwrap_or(false),
            serde_json::from_str(text).unwrap(),
        )
    }

    /// Close stdin and wait for the exit status.
    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let (tx, rx) = mpsc::channel();
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .expect("mymcp stdio did not exit within 20 s of stdin closing")
            .unwrap()
    }
}

fn lines_of(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn os_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_stdio_session_serves_tools_as_the_os_user_and_exits_0_at_eof() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let note = l.root().join("note.txt");
    std::fs::write(&note, "hello\n").unwrap();
    let mut s = Session::start(&l, &["--role", "rw"]);
    let init = s.initialize();
    assert_eq!(
        init["result"]["serverInfo"]["name"], "linux-server",
        "{init}"
    );

    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
    let list = s.recv();
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"bash_execute") && names.contains(&"write_file"),
        "{names:?}"
    );

    let (err, v) = s.call(2, "read_file", json!({"file_path": note}));
    assert!(!err, "{v}");
    assert!(v["content"].as_str().unwrap().contains("hello"));
    let (err, v) = s.call(3, "bash_execute", json!({"command": "id -un"}));
    assert!(!err, "{v}");
    assert_eq!(v["stdout"].as_str().unwrap().trim(), os_user());

    // The token file is protected here as in the server.
    std::fs::write(l.token_file(), "{}").unwrap();
    let (err, v) = s.call(4, "read_file", json!({"file_path": l.token_file()}));
    assert!(err);
    assert_eq!(v["error"], "ProtectedPath", "{v}");
    // Transfers need the HTTP listener: refused, not a dead link.
    let (err, v) = s.call(5, "prepare_download", json!({"src_path": note}));
    assert!(err);
    assert_eq!(v["error"], "TransferDisabled", "{v}");

    let status = s.finish();
    assert_eq!(status.code(), Some(0));

    // Every call is audited under the OS user's name.
    let audit = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    let lines: Vec<Value> = audit
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{audit}");
    let who = format!("stdio:{}", os_user());
    assert!(
        lines.iter().all(|r| r["token_name"] == who.as_str()),
        "{audit}"
    );
    assert_eq!(lines[1]["tool"], "bash_execute");
    assert_eq!(lines[1]["role"], "rw");
}

#[test]
fn the_default_role_is_ro() {
    let l = Layout::new("");
    let marker = l.root().join("written");
    let mut s = Session::start(&l, &[]);
    s.initialize();
    s.send(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}));
    let list = s.recv();
    let names: Vec<String> = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n == "bash_execute" || n == "write_file"),
        "{names:?}"
    );
    let (err, v) = s.call(
        2,
        "write_file",
        json!({"file_path": marker, "content": "x"}),
    );
    assert!(err);
    assert_eq!(v["error"], "PermissionDenied", "{v}");
    assert!(!marker.exists());
    // Control: the same call in an rw session writes the file.
    assert_eq!(s.finish().code(), Some(0));
    let mut s = Session::start(&l, &["--role", "rw"]);
    s.initialize();
    let (err, v) = s.call(
        2,
        "write_file",
        json!({"file_path": marker, "content": "x"}),
    );
    assert!(!err, "{v}");
    assert!(marker.exists());
    assert_eq!(s.finish().code(), Some(0));
}

#[test]
fn bad_input_gets_json_rpc_errors_and_the_session_goes_on() {
    let l = Layout::new("MYMCP_WRITE_FILE_MAX_BYTES=1000");
    let mut s = Session::start(&l, &[]);
    // Garbage before initialize, too.
    s.send_raw(b"this is not json");
    let v = s.recv();
    assert_eq!(v["error"]["code"], -32700, "{v}");
    assert_eq!(v["id"], Value::Null);
    s.initialize();
    s.send_raw(b"{\"jsonrpc\":");
    assert_eq!(s.recv()["error"]["code"], -32700);
    s.send_raw(&[0xff, 0xfe, b'{']);
    assert_eq!(s.recv()["error"]["code"], -32700);
    // Longer than the /mcp body cap (1000 + 250 + 256 KiB here): refused without being kept.
    let long = vec![b'x'; 2 * 1024 * 1024];
    s.send_raw(&long);
    let v = s.recv();
    assert_eq!(v["error"]["code"], -32700);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("longer than"),
        "{v}"
    );
    s.send(json!({"jsonrpc":"2.0","id":null,"method":"tools/list"}));
    assert_eq!(s.recv()["error"]["code"], -32600);
    s.send(json!({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"glob","arguments":"x"}}));
    let v = s.recv();
    assert_eq!(v["error"]["code"], -32602);
    assert_eq!(v["id"], 8);
    // Blank lines are ignored. Still serving (and every stdout line so far parsed as JSON).
    s.send_raw(b"");
    let (err, v) = s.call(9, "glob", json!({"pattern": "*", "path": l.root()}));
    assert!(!err, "{v}");
    assert_eq!(s.finish().code(), Some(0));
}

#[test]
fn logs_go_to_stderr_and_eof_before_initialize_exits_0() {
    let l = Layout::new("");
    let s = Session::start(&l, &["--log-level", "debug"]);
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|l: &String| l.contains("stdio session starting"))
    {
        match s.err.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => seen.push(line),
            Err(_) => panic!("no start line on stderr; saw {seen:?}"),
        }
    }
    let out = s.out.try_recv();
    assert!(out.is_err(), "stdout got {out:?}");
    assert_eq!(s.finish().code(), Some(0));
}

/// On stdio rmcp matches `notifications/cancelled` to the request itself: the command stops
/// (SIGTERM to its group), the call is audited as `Cancelled`, and the session goes on.
#[tokio::test]
async fn a_cancel_notification_stops_the_command() {
    use crate::cancel::{assert_stopped, slow_command, wait_pid};
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let mut s = Session::start(&l, &["--role", "rw"]);
    s.initialize();
    let (cmd, pidfile, marker) = slow_command(&l.data(), "stdio-cancel");
    s.send(json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
        "params":{"name":"bash_execute","arguments":{"command": cmd}}}));
    let pgid = wait_pid(&pidfile).await;
    s.send(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
        "params":{"requestId":5,"reason":"stop"}}));
    assert_stopped(&l, "stdio-cancel", pgid, &marker).await;
    // The session goes on; the cancelled request gets no reply (the next line is call 6's).
    let (err, v) = s.call(6, "bash_execute", json!({"command": "echo next"}));
    assert!(!err && v["stdout"] == "next\n", "{v}");
    assert!(s.finish().success());
}
