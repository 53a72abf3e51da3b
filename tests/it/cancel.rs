//! Work that stops when the client says stop: a `tools/call` whose HTTP request ends early,
//! whatever the reply's shape or protocol version, and one named by a
//! `notifications/cancelled` of the same caller, arriving on another connection.
//!
//! Every command here writes its shell's pid (its process group) first, so the test knows it
//! runs, and would touch a marker file much later. After the stop the test waits for the
//! call's audit line, which the server writes only once the group is gone, and then checks
//! that no live process is left in the group: with none left, the marker can never appear.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Layout, Server};

/// Live (not zombie) processes whose process group is `pgid`.
pub fn live_in_group(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[2] == pgid.to_string() && f[0] != "Z" && f[0] != "X" {
            out.push(pid);
        }
    }
    out
}

/// Wait until `path` holds a line (a pid), and return it.
pub async fn wait_pid(path: &Path) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(t) = std::fs::read_to_string(path)
            && let Ok(pid) = t.trim().parse()
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "{} never written",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait for the audit line of the bash call whose command mentions `tag`.
async fn audit_line(l: &Layout, tag: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = l.audit_lines().into_iter().find(|v| {
            v["tool"] == "bash_execute"
                && v["params"]["command"]
                    .as_str()
                    .is_some_and(|c| c.contains(tag))
        }) {
            return v;
        }
        assert!(Instant::now() < deadline, "no audit line for {tag}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A command that records its group in `<tag>.pid`, then would touch `<tag>.marker` after 30 s.
pub fn slow_command(dir: &Path, tag: &str) -> (String, PathBuf, PathBuf) {
    let (pid, marker) = (
        dir.join(format!("{tag}.pid")),
        dir.join(format!("{tag}.marker")),
    );
    let cmd = format!(
        "echo $$ > {}; sleep 30; touch {}",
        pid.display(),
        marker.display()
    );
    (cmd, pid, marker)
}

fn tools_call(id: Value, command: &str, meta: Option<Value>) -> Value {
    let mut params = json!({"name": "bash_execute", "arguments": {"command": command}});
    if let Some(m) = meta {
        params["_meta"] = m;
    }
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params})
}

/// The stopped call left exactly one audit line, `Cancelled`, and nothing of its group.
pub async fn assert_stopped(l: &Layout, tag: &str, pgid: i32, marker: &Path) -> Value {
    let line = audit_line(l, tag).await;
    assert_eq!(line["result"], "error", "{tag}: {line}");
    assert_eq!(line["error_code"], "Cancelled", "{tag}: {line}");
    assert_eq!(live_in_group(pgid), Vec::<i32>::new(), "{tag}: group left");
    assert!(!marker.exists(), "{tag}: the command ran on");
    line
}

#[tokio::test]
async fn a_call_stops_when_its_request_ends_in_every_shape() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let dir = l.data();

    // Control: left alone, the same kind of command runs to its end and touches its marker.
    let control = dir.join("control.marker");
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("echo $$ > /dev/null; sleep 0.2; touch {}", control.display())}),
        )
        .await;
    assert!(!err && control.exists(), "{v}");

    let v2026 = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let shapes: [(&str, Option<Value>, Option<&str>); 4] = [
        // Plain JSON: answered by the fast path.
        ("plain", None, None),
        // Any `_meta` sends the call through rmcp.
        ("meta", Some(json!({})), None),
        // A progress token with an event-stream Accept: the reply is SSE.
        ("sse", Some(json!({"progressToken": "p1"})), None),
        // The per-request protocol, where closing the request is the only way to cancel.
        ("v2026", Some(v2026), Some("2026-07-28")),
    ];
    for (tag, meta, version) in shapes {
        let (cmd, pidfile, marker) = slow_command(&dir, tag);
        let mut req = s
            .mcp_request(Some(&rw))
            .body(tools_call(json!(1), &cmd, meta).to_string());
        if let Some(v) = version {
            req = req
                .header("MCP-Protocol-Version", v)
                .header("Mcp-Method", "tools/call")
                .header("Mcp-Name", "bash_execute");
        }
        let call = tokio::spawn(async move {
            let r = req.send().await?;
            r.bytes().await
        });
        let pgid = wait_pid(&pidfile).await;
        assert!(!live_in_group(pgid).is_empty(), "{tag}: not running");
        call.abort();
        let _ = call.await;
        let line = assert_stopped(&l, tag, pgid, &marker).await;
        assert!(
            line["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("SIGTERM")),
            "{line}"
        );
    }
    // Nothing else was disturbed: the server answers.
    let (err, v) = s
        .call(&rw, "bash_execute", json!({"command": "echo still here"}))
        .await;
    assert!(!err && v["stdout"] == "still here\n", "{v}");
}

#[tokio::test]
async fn a_cancel_notification_stops_the_callers_own_call_only() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let (other, _) = s.admin_create("other", "rw").await;
    let dir = l.data();
    // Each notification goes over a connection of its own, as a client's separate POST may.
    let cancel = |token: &str, id: Value| {
        let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": "user pressed stop"}});
        let req = s.mcp_request(Some(token)).body(body.to_string());
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 202);
        }
    };

    // Another caller naming the same id stops nothing: the command waits for GO, sent only
    // after that cancel was answered, and then finishes normally.
    let go = dir.join("GO");
    let waits = dir.join("waits.marker");
    let cmd = format!(
        "echo $$ > {}; while [ ! -e {} ]; do sleep 0.02; done; touch {}",
        dir.join("waits.pid").display(),
        go.display(),
        waits.display()
    );
    let req = s
        .mcp_request(Some(&rw))
        .body(tools_call(json!(41), &cmd, None).to_string());
    let call = tokio::spawn(async move { req.send().await.unwrap().json::<Value>().await });
    wait_pid(&dir.join("waits.pid")).await;
    cancel(&other, json!(41)).await;
    // The same number as a string is another id.
    cancel(&rw, json!("41")).await;
    std::fs::write(&go, "").unwrap();
    let v = call.await.unwrap().unwrap();
    assert_eq!(v["result"]["isError"], false, "{v}");
    assert!(waits.exists());

    // The caller's own cancel stops its call, on the fast path (no `_meta`) and through rmcp
    // (`_meta` present), numeric and string ids.
    for (tag, id, meta) in [
        ("own-plain", json!(42), None),
        ("own-rmcp", json!("call-43"), Some(json!({}))),
    ] {
        let (cmd, pidfile, marker) = slow_command(&dir, tag);
        let req = s
            .mcp_request(Some(&rw))
            .body(tools_call(id.clone(), &cmd, meta).to_string());
        let call = tokio::spawn(async move {
            let r = req.send().await.unwrap();
            r.text().await.unwrap()
        });
        let pgid = wait_pid(&pidfile).await;
        let started = Instant::now();
        cancel(&rw, id).await;
        // The open request gets the outcome (the client may ignore it): Cancelled.
        let reply = call.await.unwrap();
        assert!(reply.contains("Cancelled"), "{tag}: {reply}");
        assert!(started.elapsed() < Duration::from_secs(5), "{tag}");
        assert_stopped(&l, tag, pgid, &marker).await;
    }
}

#[tokio::test]
async fn a_command_that_ignores_sigterm_is_killed_two_seconds_later() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let dir = l.data();
    let (term, pidfile, marker) = (
        dir.join("got-term"),
        dir.join("stubborn.pid"),
        dir.join("stubborn.marker"),
    );
    // The trap notes the SIGTERM and carries on; only SIGKILL ends it.
    let cmd = format!(
        "trap 'echo > {}' TERM; echo $$ > {}; for i in $(seq 300); do sleep 0.1; done; touch {}",
        term.display(),
        pidfile.display(),
        marker.display()
    );
    let req = s
        .mcp_request(Some(&rw))
        .body(tools_call(json!(1), &cmd, None).to_string());
    let call = tokio::spawn(async move { req.send().await.map(|_| ()) });
    let pgid = wait_pid(&pidfile).await;
    call.abort();
    let line = assert_stopped(&l, "stubborn", pgid, &marker).await;
    assert!(term.exists(), "SIGTERM came first");
    assert!(line["duration_ms"].as_u64().unwrap() >= 2000, "{line}");
    assert!(
        line["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("SIGKILL")),
        "{line}"
    );
}
