//! bash_execute over real HTTP.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::{Layout, Server, tool_result};
use serde_json::{Value, json};

async fn setup(extra: &str) -> (Layout, Server, String) {
    let l = Layout::new(extra);
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("ops", "rw").await;
    (l, s, rw)
}

/// Wait (bounded) until a file exists: the command tells the test it has reached a point.
async fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{path:?} never appeared");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn exit_codes_stdout_stderr_and_bash() {
    let (_l, s, rw) = setup("").await;
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "echo out; echo err >&2; exit 3"}),
        )
        .await;
    assert!(!err);
    assert_eq!(
        v,
        json!({"exit_code":3,"stderr":"err\n","stdout":"out\n","timed_out":false})
    );
    // bash, not sh: arrays and [[ ]] work.
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "a=(x y); [[ ${#a[@]} == 2 ]] && echo bash"}),
        )
        .await;
    assert_eq!(v["stdout"], "bash\n");
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "pwd", "working_dir": "/tmp"}),
        )
        .await;
    assert_eq!(v["stdout"], "/tmp\n");
    let (_, v) = s.call(&rw, "bash_execute", json!({"command": "pwd"})).await;
    assert_eq!(v["stdout"], "/\n");
    // stdin is /dev/null: cat returns at once.
    let (_, v) = s
        .call(&rw, "bash_execute", json!({"command": "cat; echo done"}))
        .await;
    assert_eq!(v["stdout"], "done\n");
    // Invalid UTF-8 becomes U+FFFD in the text.
    let (_, v) = s
        .call(&rw, "bash_execute", json!({"command": "printf 'a\\377b'"}))
        .await;
    assert_eq!(v["stdout"], "a\u{fffd}b");
}

#[tokio::test]
async fn working_dir_errors() {
    let (l, s, rw) = setup("").await;
    let file = l.data().join("f");
    std::fs::write(&file, "x").unwrap();
    let mut out = Vec::new();
    for (name, wd) in [
        ("missing", json!("/nonexistent/dir")),
        ("file", json!(file)),
        ("relative", json!("tmp")),
        ("empty", json!("")),
    ] {
        let (err, v) = s
            .call(
                &rw,
                "bash_execute",
                json!({"command": "pwd", "working_dir": wd}),
            )
            .await;
        assert!(err, "{name}");
        let text = v.to_string().replace(l.root().to_str().unwrap(), "[ROOT]");
        out.push(json!({"case": name, "result": serde_json::from_str::<Value>(&text).unwrap()}));
    }
    insta::assert_json_snapshot!("bash_working_dir_errors", out);
    // Wrong types are refused, not defaulted.
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "true", "timeout": "5"}),
        )
        .await;
    assert!(err);
    assert_eq!(v["error"], "InvalidArguments");
}

#[tokio::test]
async fn timeout_keeps_partial_output_and_signal_is_reported() {
    let (_l, s, rw) = setup("").await;
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "echo partial; echo e >&2; sleep 30", "timeout": 1}),
        )
        .await;
    assert!(!err);
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["exit_code"], -1);
    assert_eq!(v["stdout"], "partial\n");
    assert_eq!(v["stderr"], "e\nCommand timed out after 1s");
    // A shell that ignores SIGTERM is killed 2 s later.
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "trap '' TERM; echo stubborn; sleep 30", "timeout": 1}),
        )
        .await;
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["signal"], "SIGKILL");
    assert_eq!(v["stdout"], "stubborn\n");
    // Death by signal, no timeout.
    let (_, v) = s
        .call(&rw, "bash_execute", json!({"command": "kill -SEGV $$"}))
        .await;
    assert_eq!(v["timed_out"], false);
    assert_eq!(v["signal"], "SIGSEGV");
    assert_eq!(v["exit_code"], -1);
    // Timeout clamps: 0 and negatives mean 1 s.
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "sleep 30", "timeout": -10}),
        )
        .await;
    assert_eq!(v["timed_out"], true);
    assert_eq!(v["stderr"], "Command timed out after 1s");
}

#[tokio::test]
async fn background_child_does_not_hold_the_call() {
    let (l, s, rw) = setup("").await;
    let marker = l.data().join("bg-done");
    let started = Instant::now();
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("(sleep 20; touch {}) & echo started", marker.display()), "timeout": 60}),
        )
        .await;
    assert_eq!(
        v,
        json!({"exit_code":0,"stderr":"","stdout":"started\n","timed_out":false})
    );
    // It returned long before the background child finished (which is still running).
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!marker.exists());
}

#[tokio::test]
async fn environment_is_scrubbed() {
    let l = Layout::new("");
    let env = l.env_file();
    let s = Server::spawn(
        &["--env-file", env.to_str().unwrap()],
        l.root(),
        &[
            ("MYMCP_ADMIN_TOKEN", "tok_from_process_env_should_not_leak"),
            ("MYMCP_EXTRA", "x"),
            ("KEEP_ME", "yes"),
        ],
    );
    let (rw, _) = {
        let r = s
            .client
            .post(s.url("/admin/tokens"))
            .bearer_auth("tok_from_process_env_should_not_leak")
            .json(&json!({"name":"rw","role":"rw"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        (v["token"].as_str().unwrap().to_string(), ())
    };
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "env | grep -c '^MYMCP_'; echo $KEEP_ME"}),
        )
        .await;
    assert_eq!(v["stdout"], "0\nyes\n");
}

#[tokio::test]
async fn output_keeps_head_and_tail_within_the_cap() {
    let (_l, s, rw) = setup("").await;
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "echo FIRST; head -c 3000000 /dev/zero | tr '\\0' x; echo; echo LAST", "max_output_bytes": 1000}),
        )
        .await;
    let out = v["stdout"].as_str().unwrap();
    assert!(out.starts_with("FIRST\nxxx"), "{}", &out[..50]);
    assert!(out.ends_with("xxx\nLAST\n"));
    assert!(out.contains("[TRUNCATED: total 3000012 bytes; 2999012 bytes dropped between the first 500 and the last 500 bytes]"), "{out}");
    assert!(out.len() < 1200);
    // The hard cap bounds what a caller may ask for.
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "head -c 3000000 /dev/zero", "max_output_bytes": 100_000_000}),
        )
        .await;
    assert!(v["stdout"].as_str().unwrap().len() < 1_048_576 + 200);
}

#[tokio::test]
async fn concurrency_limit_answers_busy() {
    let (l, s, rw) = setup("MYMCP_BASH_MAX_CONCURRENT=2").await;
    let d = l.data();
    let go = d.join("go");
    let mut calls = Vec::new();
    for i in 0..2 {
        let cmd = format!(
            "touch {}/started{i}; while [ ! -e {} ]; do sleep 0.05; done; echo done{i}",
            d.display(),
            go.display()
        );
        let s2 = s.api.clone();
        let rw = rw.clone();
        calls.push(tokio::spawn(async move {
            s2.call(&rw, "bash_execute", json!({"command": cmd, "timeout": 60}))
                .await
        }));
    }
    wait_for(&d.join("started0")).await;
    wait_for(&d.join("started1")).await;
    let (err, v) = s
        .call(&rw, "bash_execute", json!({"command": "echo third"}))
        .await;
    assert!(err);
    assert_eq!(v["error"], "Busy");
    std::fs::write(&go, "").unwrap();
    for (i, c) in calls.into_iter().enumerate() {
        let (_, v) = c.await.unwrap();
        assert_eq!(v["stdout"], format!("done{i}\n"));
    }
    // Slots are free again.
    let (err, v) = s
        .call(&rw, "bash_execute", json!({"command": "echo again"}))
        .await;
    assert!(!err, "{v}");
}

#[tokio::test]
async fn shutdown_terminates_the_group_and_still_answers() {
    let (l, s, rw) = setup("MYMCP_SHUTDOWN_GRACE_SEC=3").await;
    let ready = l.data().join("ready");
    let child_pid_file = l.data().join("child.pid");
    let cmd = format!(
        "trap 'echo got TERM; exit 7' TERM; sleep 100 & echo $! > {}; touch {}; wait",
        child_pid_file.display(),
        ready.display()
    );
    let client = s.api.clone();
    let call = tokio::spawn(async move {
        client
            .call(&rw, "bash_execute", json!({"command": cmd, "timeout": 120}))
            .await
    });
    wait_for(&ready).await;
    let pid: i32 = std::fs::read_to_string(&child_pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let status = s.stop();
    assert!(status.success());
    let (err, v) = call.await.unwrap();
    assert!(!err);
    assert_eq!(v["exit_code"], 7, "{v}");
    assert_eq!(v["stdout"], "got TERM\n");
    // The background sleep in the same group got the signal too.
    // It may take a moment to die, and may linger as a zombie if nobody reaps it here.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        if stat.is_empty() || state == Some("Z") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "background child {pid} survived shutdown: {stat}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn progress_notifications_stream_when_asked() {
    let (_l, s, rw) = setup("").await;
    let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{
        "name":"bash_execute",
        "arguments":{"command":"for i in 1 2 3; do echo line$i; sleep 0.6; done"},
        "_meta":{"progressToken":"p1"}}});
    let r = s.post_mcp(Some(&rw), &body).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let text = r.text().await.unwrap();
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["method"] == "notifications/progress")
        .collect();
    assert!(!progress.is_empty(), "{text}");
    assert_eq!(progress[0]["params"]["progressToken"], "p1");
    assert!(
        progress
            .iter()
            .any(|p| p["params"]["message"].as_str().unwrap().contains("line")),
        "{text}"
    );
    let last = events.last().unwrap();
    assert_eq!(last["id"], 9);
    let result: Value = tool_result(last).1;
    assert_eq!(result["stdout"], "line1\nline2\nline3\n");
    // Without a token the reply is plain JSON.
    let (_, v) = s
        .call(&rw, "bash_execute", json!({"command":"echo x"}))
        .await;
    assert_eq!(v["stdout"], "x\n");
}

#[tokio::test]
async fn a_progress_token_never_forces_sse_on_a_client_that_did_not_accept_it() {
    let (_l, s, rw) = setup("").await;
    let body = json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{
        "name":"bash_execute",
        "arguments":{"command":"for i in 1 2 3; do echo line$i; sleep 0.4; done"},
        "_meta":{"progressToken":"p2"}}});
    // None: no Accept at all (tolerated, as the reference did); `*/*` is curl's default.
    for accept in [Some("application/json"), None, Some("*/*")] {
        let mut r = s
            .client
            .post(s.url("/mcp"))
            .bearer_auth(&rw)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(a) = accept {
            r = r.header("Accept", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 200, "{accept:?}");
        assert_eq!(
            r.headers()["content-type"],
            "application/json",
            "{accept:?}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["id"], 4, "{accept:?}");
        let result: Value = tool_result(&v).1;
        assert_eq!(result["stdout"], "line1\nline2\nline3\n", "{accept:?}");
    }
    // Control: the same call from a client that accepts an event stream gets its progress.
    let r = s.post_mcp(Some(&rw), &body).await;
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    assert!(r.text().await.unwrap().contains("notifications/progress"));
}
