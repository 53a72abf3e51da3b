//! Background jobs: `bash_execute` with `background` or `detach_after`, and `job_output`,
//! `job_kill`, `job_list`, against the real binary. Commands wait for a file the test creates
//! (`GO`) instead of sleeping, so every step happens in a known order.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cancel::{live_in_group, wait_pid};
use crate::common::{Layout, Server, wait_for_line};

const METRICS: &str = "tok_metrics_for_tests_0123456789abcdef";

fn layout(extra: &str) -> Layout {
    Layout::new(&format!(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_METRICS_TOKEN={METRICS}\n{extra}"
    ))
}

/// A shell loop that waits until `go` exists.
fn wait_for(go: &Path) -> String {
    format!("while [ ! -e {} ]; do sleep 0.02; done", go.display())
}

/// `job_output` with `wait`; panics on a tool error.
async fn output(s: &Server, token: &str, id: &str, wait: u64) -> Value {
    let (err, v) = s
        .call(token, "job_output", json!({"job_id": id, "wait": wait}))
        .await;
    assert!(!err, "{v}");
    v
}

/// Poll until the job ends; returns every stdout piece read and the last answer.
async fn until_done(s: &Server, token: &str, id: &str) -> (String, Value) {
    let mut out = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = output(s, token, id, 10).await;
        out.push_str(v["stdout"].as_str().unwrap());
        if v["status"] != "running" {
            return (out, v);
        }
        assert!(Instant::now() < deadline, "job {id} never ended");
    }
}

fn job_id(v: &Value) -> String {
    v["job_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no job_id: {v}"))
        .to_string()
}

#[tokio::test]
async fn a_background_job_reports_output_as_it_comes_then_its_exit() {
    let l = layout("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let go = l.data().join("GO");
    let cmd = format!(
        "echo one; {}; echo two >&2; echo three; exit 3",
        wait_for(&go)
    );
    let started = Instant::now();
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": cmd, "background": true}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["status"], "running", "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "returned at once"
    );
    let id = job_id(&v);

    // The first read waits for output, and returns it while the job still runs.
    let v = output(&s, &rw, &id, 20).await;
    assert_eq!(v["stdout"], "one\n", "{v}");
    assert_eq!(v["status"], "running");
    assert_eq!(v["exit_code"], Value::Null);
    // Nothing new since: a read without wait is empty.
    let v = output(&s, &rw, &id, 0).await;
    assert_eq!(
        (v["stdout"].as_str(), v["stderr"].as_str()),
        (Some(""), Some(""))
    );

    std::fs::write(&go, "").unwrap();
    let (rest, last) = until_done(&s, &rw, &id).await;
    assert_eq!(rest, "three\n", "{last}");
    assert_eq!(last["status"], "exited", "{last}");
    assert_eq!(last["exit_code"], 3, "{last}");
    // Once read, the output is gone; the status stays.
    let v = output(&s, &rw, &id, 0).await;
    assert_eq!(v["stdout"], "");
    assert_eq!(v["exit_code"], 3);

    let (_, list) = s.call(&rw, "job_list", json!({})).await;
    let jobs = list["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{list}");
    assert_eq!(jobs[0]["job_id"], id.as_str());
    assert_eq!(jobs[0]["status"], "exited");
    assert!(jobs[0]["command"].as_str().unwrap().starts_with("echo one"));

    // Audit: the start (background, job id) and the end (exit code, duration).
    let lines = l.audit_lines();
    let start = lines.iter().find(|v| v["tool"] == "bash_execute").unwrap();
    assert_eq!(start["params"]["background"], true, "{start}");
    assert_eq!(start["result"], "ok", "{start}");
    assert_eq!(start["output"]["job_id"], id.as_str(), "{start}");
    let end = lines.iter().find(|v| v["tool"] == "job_exit").unwrap();
    assert_eq!(end["params"]["job_id"], id.as_str(), "{end}");
    assert_eq!(end["error_code"], "ExitCode:3", "{end}");
    assert_eq!(end["output"]["exit_code"], 3, "{end}");
    assert_eq!(end["token_name"], "writer", "{end}");
    assert!(end["duration_ms"].as_u64().is_some(), "{end}");
    let m = s.metrics(METRICS).await;
    assert!(
        m.contains("mymcp_jobs_finished_total{status=\"exited\"} 1"),
        "{m}"
    );
    assert!(m.contains("mymcp_jobs_running 0"), "{m}");

    // What a job prints at once, before the call has even returned, is its first output,
    // not lost (it once was, when the start emptied the buffers as a detach does).
    for i in 0..8 {
        let (_, v) = s
            .call(
                &rw,
                "bash_execute",
                json!({"command": format!("echo at-once-{i}"), "background": true}),
            )
            .await;
        let (out, _) = until_done(&s, &rw, &job_id(&v)).await;
        assert_eq!(out, format!("at-once-{i}\n"));
    }
}

#[tokio::test]
async fn a_job_belongs_to_its_caller_and_ro_has_no_jobs() {
    let l = layout("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let (other, _) = s.admin_create("other", "rw").await;
    let (ro, _) = s.admin_create("reader", "ro").await;
    let go = l.data().join("GO");
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": wait_for(&go), "background": true}),
        )
        .await;
    let id = job_id(&v);
    for (tool, args) in [
        ("job_output", json!({"job_id": id})),
        ("job_kill", json!({"job_id": id, "signal": "KILL"})),
    ] {
        let (err, v) = s.call(&other, tool, args).await;
        assert!(err && v["error"] == "JobNotFound", "{tool}: {v}");
    }
    let (_, v) = s.call(&other, "job_list", json!({})).await;
    assert_eq!(v["jobs"], json!([]), "{v}");
    for bad in ["job_0", "", "../../etc/passwd"] {
        let (err, v) = s.call(&rw, "job_output", json!({"job_id": bad})).await;
        assert!(err && v["error"] == "JobNotFound", "{bad}: {v}");
    }
    let (err, v) = s
        .call(&rw, "job_kill", json!({"job_id": id, "signal": "STOP"}))
        .await;
    assert!(err && v["error"] == "InvalidArguments", "{v}");
    // ro sees no job tools and cannot start a job.
    let names = s.tool_names(&ro).await;
    assert!(!names.iter().any(|n| n.starts_with("job_")), "{names:?}");
    let (err, v) = s.call(&ro, "job_list", json!({})).await;
    assert!(err && v["error"] == "PermissionDenied", "{v}");
    // The owner's job ran on untouched by all of that.
    let v = output(&s, &rw, &id, 0).await;
    assert_eq!(v["status"], "running", "{v}");
    std::fs::write(&go, "").unwrap();
    let (_, v) = until_done(&s, &rw, &id).await;
    assert_eq!(
        (v["status"].as_str(), v["exit_code"].as_i64()),
        (Some("exited"), Some(0))
    );
}

#[tokio::test]
async fn kill_timeout_and_the_running_limit() {
    let l = layout("MYMCP_JOBS_MAX_RUNNING=2");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let dir = l.data();
    let pidfile = dir.join("k.pid");
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("echo $$ > {}; sleep 60", pidfile.display()), "background": true}),
        )
        .await;
    let killed = job_id(&v);
    let pgid = wait_pid(&pidfile).await;
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "sleep 60", "background": true, "timeout": 1}),
        )
        .await;
    let timed = job_id(&v);
    // Two running: a third is Busy, and runs nothing.
    let marker = dir.join("third");
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("touch {}", marker.display()), "background": true}),
        )
        .await;
    assert!(err && v["error"] == "Busy", "{v}");
    assert!(!marker.exists());

    let (err, v) = s.call(&rw, "job_kill", json!({"job_id": killed})).await;
    assert!(!err, "{v}");
    assert_eq!(v["status"], "killed", "{v}");
    assert_eq!(v["signal"], "SIGTERM", "{v}");
    assert_eq!(live_in_group(pgid), Vec::<i32>::new());
    let (_, v) = until_done(&s, &rw, &timed).await;
    assert_eq!(v["status"], "timed_out", "{v}");
    assert_eq!(v["exit_code"], -1, "{v}");

    // Slots are free again.
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("touch {}", marker.display()), "background": true}),
        )
        .await;
    assert!(!err, "{v}");
    until_done(&s, &rw, &job_id(&v)).await;
    assert!(marker.exists());
    let m = s.metrics(METRICS).await;
    for status in ["killed", "timed_out"] {
        assert!(
            m.contains(&format!(
                "mymcp_jobs_finished_total{{status=\"{status}\"}} 1"
            )),
            "{m}"
        );
    }
}

// Multi-threaded: the test blocks on the server's log while a spawned call runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detach_after_turns_a_long_call_into_a_job_and_stays_if_no_slot() {
    let l = layout("MYMCP_JOBS_MAX_RUNNING=1");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let dir = l.data();
    let go = dir.join("GO");
    let cmd = format!("echo early; {}; echo late", wait_for(&go));
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": cmd, "detach_after": 1}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["status"], "running", "{v}");
    assert_eq!(v["stdout"], "early\n", "{v}");
    assert_eq!(v["exit_code"], Value::Null, "{v}");
    let id = job_id(&v);

    // The only job slot is taken: the next call that would detach stays in the foreground
    // and finishes normally.
    let go2 = dir.join("GO2");
    let cmd2 = format!("{}; echo foreground", wait_for(&go2));
    let api = s.api.clone();
    let rw2 = rw.clone();
    let second = tokio::spawn(async move {
        api.call(
            &rw2,
            "bash_execute",
            json!({"command": cmd2, "detach_after": 1}),
        )
        .await
    });
    wait_for_line(&s, "no job slot is free");
    std::fs::write(&go2, "").unwrap();
    let (err, v) = second.await.unwrap();
    assert!(!err, "{v}");
    assert_eq!(v["stdout"], "foreground\n", "{v}");
    assert_eq!(v["exit_code"], 0, "{v}");
    assert!(v.get("job_id").is_none(), "{v}");

    std::fs::write(&go, "").unwrap();
    let (rest, v) = until_done(&s, &rw, &id).await;
    assert_eq!(rest, "late\n");
    assert_eq!(
        (v["status"].as_str(), v["exit_code"].as_i64()),
        (Some("exited"), Some(0))
    );
    // Without detach_after nothing changes: a quick command answers as before.
    let (err, v) = s
        .call(&rw, "bash_execute", json!({"command": "echo plain"}))
        .await;
    assert!(
        !err && v["stdout"] == "plain\n" && v.get("job_id").is_none(),
        "{v}"
    );
}

#[tokio::test]
async fn a_chatty_job_keeps_only_its_cap_and_finished_jobs_are_forgotten() {
    let l = layout("MYMCP_JOB_OUTPUT_MAX_BYTES=65536\nMYMCP_JOB_RETENTION_SEC=0");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap()
    };
    let before = rss();
    // 1 GB through the pipe, unread; the job keeps 64 KiB of it.
    let (go, done) = (l.data().join("GO"), l.data().join("DONE"));
    let cmd = format!(
        "head -c 1000000000 /dev/zero | tr '\\0' a; echo; touch {}; {}",
        done.display(),
        wait_for(&go)
    );
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": cmd, "background": true}),
        )
        .await;
    let id = job_id(&v);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done.exists() {
        assert!(Instant::now() < deadline, "the output never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, v) = s
        .call(
            &rw,
            "job_output",
            json!({"job_id": id, "max_output_bytes": 1000}),
        )
        .await;
    let text = v["stdout"].as_str().unwrap();
    assert!(
        text.contains("[TRUNCATED: total 1000000001 bytes"),
        "{text}"
    );
    assert!(text.len() < 1200, "{}", text.len());
    let grew_kb = rss().saturating_sub(before);
    assert!(grew_kb < 40_000, "server RSS grew by {grew_kb} kB");
    std::fs::write(&go, "").unwrap();
    // With no retention the finished job disappears at the next look.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, v) = s.call(&rw, "job_list", json!({})).await;
        if v["jobs"] == json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (err, v) = s.call(&rw, "job_output", json!({"job_id": id})).await;
    assert!(err && v["error"] == "JobNotFound", "{v}");
}

#[tokio::test]
async fn shutdown_stops_jobs_and_audits_their_end() {
    let l = layout("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let dir = l.data();
    let (bye, pidfile) = (dir.join("bye"), dir.join("j.pid"));
    let cmd = format!(
        "trap 'echo > {}; exit 0' TERM; echo $$ > {}; while :; do sleep 0.05; done",
        bye.display(),
        pidfile.display()
    );
    let (_, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": cmd, "background": true}),
        )
        .await;
    let id = job_id(&v);
    let pgid = wait_pid(&pidfile).await;
    // A disconnect does not touch it: the call is long over and the job runs.
    assert!(!live_in_group(pgid).is_empty());
    assert!(s.stop().success());
    assert!(bye.exists(), "the job got SIGTERM");
    assert_eq!(live_in_group(pgid), Vec::<i32>::new());
    let end = l
        .audit_lines()
        .into_iter()
        .find(|v| v["tool"] == "job_exit")
        .expect("job_exit line");
    assert_eq!(end["params"]["job_id"], id.as_str(), "{end}");
}

/// MCP tasks (2025-11-25): a task-augmented `bash_execute` is a job, read through `tasks/*`.
#[tokio::test]
async fn a_task_augmented_call_runs_as_a_task() {
    let l = layout("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let (other, _) = s.admin_create("other", "rw").await;
    let go = l.data().join("GO");
    let rpc_as = |version: &'static str, token: &str, method: &str, params: Value| {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let req = s
            .mcp_request(Some(token))
            .header("MCP-Protocol-Version", version)
            .body(body.to_string());
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let rpc =
        |token: &str, method: &str, params: Value| rpc_as("2025-11-25", token, method, params);

    // Advertised to 2025-11-25 clients only: the capability and the tool's task support.
    for (version, advertised) in [("2025-11-25", true), ("2025-06-18", false)] {
        let init = rpc_as(
            version,
            &rw,
            "initialize",
            json!({"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "t", "version": "0"}}),
        )
        .await;
        let caps = &init["result"]["capabilities"];
        assert_eq!(
            caps["tasks"]["requests"]["tools"]["call"].is_object(),
            advertised,
            "{init}"
        );
        assert!(caps["tools"].is_object(), "{init}");
        let list = rpc_as(version, &rw, "tools/list", json!({})).await;
        for t in list["result"]["tools"].as_array().unwrap() {
            let marked = t["execution"]["taskSupport"] == "optional";
            assert_eq!(marked, advertised && t["name"] == "bash_execute", "{t}");
        }
    }
    let created = rpc(
        &rw,
        "tools/call",
        json!({"name": "bash_execute", "task": {"ttl": 60000},
               "arguments": {"command": format!("echo out; {}; exit 2", wait_for(&go))}}),
    )
    .await;
    let t = &created["result"]["task"];
    assert_eq!(t["status"], "working", "{created}");
    let id = t["taskId"].as_str().unwrap().to_string();
    for k in ["createdAt", "lastUpdatedAt", "ttl", "pollInterval"] {
        assert!(!t[k].is_null(), "{k}: {created}");
    }
    let got = rpc(&rw, "tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["result"]["status"], "working", "{got}");
    // Another caller sees no such task, and cannot cancel it.
    for m in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let v = rpc(&other, m, json!({"taskId": id})).await;
        assert_eq!(v["error"]["code"], -32602, "{m}: {v}");
    }
    let v = rpc(&other, "tasks/list", json!({})).await;
    assert_eq!(v["result"]["tasks"], json!([]), "{v}");
    // tasks/result waits for the end.
    let api = s.api.clone();
    let (rw2, id2) = (rw.clone(), id.clone());
    let result = tokio::spawn(async move {
        let body = json!({"jsonrpc": "2.0", "id": 8, "method": "tasks/result",
                          "params": {"taskId": id2}});
        let r = api
            .mcp_request(Some(&rw2))
            .header("MCP-Protocol-Version", "2025-11-25")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    });
    std::fs::write(&go, "").unwrap();
    let v = result.await.unwrap();
    let r = &v["result"];
    assert_eq!(
        r["_meta"]["io.modelcontextprotocol/related-task"]["taskId"],
        id.as_str(),
        "{v}"
    );
    let body: Value = serde_json::from_str(r["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(
        (body["stdout"].as_str(), body["exit_code"].as_i64()),
        (Some("out\n"), Some(2)),
        "{v}"
    );
    let got = rpc(&rw, "tasks/get", json!({"taskId": id})).await;
    assert_eq!(got["result"]["status"], "completed", "{got}");
    assert_eq!(got["result"]["statusMessage"], "exit code 2", "{got}");
    let listed = rpc(&rw, "tasks/list", json!({})).await;
    assert_eq!(
        listed["result"]["tasks"][0]["taskId"],
        id.as_str(),
        "{listed}"
    );
    // A finished task cannot be cancelled; a running one can.
    let v = rpc(&rw, "tasks/cancel", json!({"taskId": id})).await;
    assert_eq!(v["error"]["code"], -32602, "{v}");
    let created = rpc(
        &rw,
        "tools/call",
        json!({"name": "bash_execute", "task": {}, "arguments": {"command": "sleep 60"}}),
    )
    .await;
    let long = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = rpc(&rw, "tasks/cancel", json!({"taskId": long})).await;
    assert_eq!(v["result"]["status"], "cancelled", "{v}");
    // Stopping a process group is audited, like job_kill: every cancel above, refused or not.
    let cancels: Vec<Value> = l
        .audit_lines()
        .into_iter()
        .filter(|v| v["tool"] == "tasks/cancel")
        .collect();
    assert_eq!(cancels.len(), 3, "{cancels:?}");
    assert_eq!(cancels[2]["params"]["taskId"], long.as_str());
    assert_eq!(cancels[2]["result"], "ok");
    assert_eq!(cancels[1]["error_code"], "TaskFinished", "{cancels:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while rpc(&rw, "tasks/get", json!({"taskId": long})).await["result"]["lastUpdatedAt"]
        == created["result"]["task"]["lastUpdatedAt"]
    {
        assert!(Instant::now() < deadline, "the cancelled task never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without `task` the same call is an ordinary one.
    let v = rpc(
        &rw,
        "tools/call",
        json!({"name": "bash_execute", "arguments": {"command": "echo plain"}}),
    )
    .await;
    assert!(
        v["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("plain\\n"),
        "{v}"
    );
}

/// The tasks extension of protocol 2026-07-28 (SEP-2663), served through rmcp: a client that
/// declares the extension gets a task for `bash_execute`, reads it with `tasks/get` (the
/// result inlined once it completed) and stops one with `tasks/cancel`.
#[tokio::test]
async fn the_2026_tasks_extension_runs_bash_as_a_task() {
    let l = layout("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    let (other, _) = s.admin_create("other", "rw").await;
    let go = l.data().join("GO");
    let with_tasks = json!({"extensions": {"io.modelcontextprotocol/tasks": {}}});
    let rpc = |token: &str, method: &'static str, mut params: Value, caps: &Value| {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        });
        let mut req = s
            .mcp_request(Some(token))
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", method);
        // The standard headers name the tool, or the task.
        if let Some(name) = params
            .get("name")
            .or_else(|| params.get("taskId"))
            .and_then(Value::as_str)
        {
            req = req.header("Mcp-Name", name);
        }
        let body = json!({"jsonrpc": "2.0", "id": 3, "method": method, "params": params});
        let req = req.body(body.to_string());
        async move {
            let text = req.send().await.unwrap().text().await.unwrap();
            // The reply may come as one SSE event.
            let json = text
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap_or(&text)
                .to_string();
            serde_json::from_str::<Value>(&json).unwrap_or_else(|_| panic!("{text}"))
        }
    };
    let call = json!({"name": "bash_execute",
        "arguments": {"command": format!("echo ext; {}; exit 5", wait_for(&go))}});
    let created = rpc(&rw, "tools/call", call.clone(), &with_tasks).await;
    let r = &created["result"];
    assert_eq!(r["resultType"], "task", "{created}");
    assert_eq!(r["status"], "working", "{created}");
    let id = r["taskId"].as_str().unwrap().to_string();
    // Control: without the extension declared the same call is an ordinary one.
    let plain = rpc(
        &rw,
        "tools/call",
        json!({"name": "bash_execute", "arguments": {"command": "echo plain"}}),
        &json!({}),
    )
    .await;
    assert!(
        plain["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("plain"),
        "{plain}"
    );

    let got = rpc(&rw, "tasks/get", json!({"taskId": id}), &with_tasks).await;
    assert_eq!(got["result"]["status"], "working", "{got}");
    let foreign = rpc(&other, "tasks/get", json!({"taskId": id}), &with_tasks).await;
    assert_eq!(foreign["error"]["code"], -32602, "{foreign}");
    std::fs::write(&go, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let done = loop {
        let v = rpc(&rw, "tasks/get", json!({"taskId": id}), &with_tasks).await;
        if v["result"]["status"] != "working" {
            break v;
        }
        assert!(Instant::now() < deadline, "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done["result"]["status"], "completed", "{done}");
    let text = done["result"]["result"]["content"][0]["text"]
        .as_str()
        .unwrap();
    let body: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        (body["stdout"].as_str(), body["exit_code"].as_i64()),
        (Some("ext\n"), Some(5))
    );
    // Asked again, the same result (it is kept, not consumed).
    let again = rpc(&rw, "tasks/get", json!({"taskId": id}), &with_tasks).await;
    assert_eq!(again["result"]["result"], done["result"]["result"]);

    let long = rpc(
        &rw,
        "tools/call",
        json!({"name": "bash_execute", "arguments": {"command": "sleep 60"}}),
        &with_tasks,
    )
    .await;
    let long_id = long["result"]["taskId"].as_str().unwrap().to_string();
    let ack = rpc(&rw, "tasks/cancel", json!({"taskId": long_id}), &with_tasks).await;
    assert!(ack.get("error").is_none(), "{ack}");
    let v = rpc(&rw, "tasks/get", json!({"taskId": long_id}), &with_tasks).await;
    assert_eq!(v["result"]["status"], "cancelled", "{v}");
}
