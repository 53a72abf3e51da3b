//! Audit log and Prometheus metrics over real HTTP.

use std::os::unix::fs::PermissionsExt;

use crate::common::{ADMIN, Layout, Server};
use serde_json::{Value, json};

const METRICS: &str = "tok_metrics_for_tests_000000000000";

fn scrub(l: &Layout, v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["ts", "request_id", "duration_ms", "token_id"] {
            if o.contains_key(k) {
                o.insert(k.into(), json!(format!("[{k}]")));
            }
        }
    }
    let t = v.to_string().replace(l.root().to_str().unwrap(), "[ROOT]");
    serde_json::from_str(&t).unwrap()
}

#[tokio::test]
async fn audit_records_every_outcome() {
    let l = Layout::new(&format!(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_METRICS_TOKEN={METRICS}"
    ));
    let s = Server::start(&l);
    let (rw, rw_id) = s.admin_create("rwclient", "rw").await;
    let (ro, ro_id) = s.admin_create("roclient", "ro").await;
    let f = l.data().join("f.txt");
    let calls = vec![
        (
            &rw,
            "write_file",
            json!({"file_path": f, "content": "secret line\nmore\n"}),
        ),
        (
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "more", "new_string": "less\nand more"}),
        ),
        (&ro, "read_file", json!({"file_path": f})),
        (
            &ro,
            "read_file",
            json!({"file_path": l.data().join("missing")}),
        ),
        (&ro, "bash_execute", json!({"command": "id"})),
        (&ro, "nosuchtool", json!({})),
        (
            &rw,
            "bash_execute",
            json!({"command": "echo top-$((6*7))-output; exit 3"}),
        ),
        (&rw, "bash_execute", json!({"command": "echo hi"})),
        (
            &rw,
            "bash_execute",
            json!({"command": "sleep 5", "timeout": 1}),
        ),
        (&ro, "glob", json!({"pattern": "*", "path": l.data()})),
        (&ro, "grep", json!({"pattern": "(", "path": l.data()})),
        (&rw, "read_file", json!({"file_path": 3})),
        (&ro, "write_file", json!({"file_path": f, "content": "x"})),
        (
            &rw,
            "write_file",
            json!({"file_path": l.env_file(), "content": "x"}),
        ),
        (
            &ro,
            "edit_file",
            json!({"file_path": f, "old_string": "a", "new_string": "b"}),
        ),
        (
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "absent", "new_string": "b"}),
        ),
        (&ro, "glob", json!({"pattern": "[", "path": l.data()})),
        (&ro, "grep", json!({"pattern": "secret", "path": l.data()})),
        (
            &ro,
            "prepare_upload",
            json!({"dest_path": l.data().join("u")}),
        ),
        (
            &rw,
            "prepare_upload",
            json!({"dest_path": l.data().join("u")}),
        ),
        (&rw, "prepare_upload", json!({"dest_path": "relative"})),
        (&ro, "prepare_download", json!({"src_path": f})),
        (
            &ro,
            "prepare_download",
            json!({"src_path": l.data().join("missing")}),
        ),
        (&ro, "server_overview", json!({})),
    ];
    for (tok, tool, args) in &calls {
        s.call(tok, tool, args.clone()).await;
    }
    let lines = l.audit_lines();
    assert_eq!(lines.len(), calls.len());
    let text = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    assert!(
        !text.contains("secret line") && !text.contains("top-42-output"),
        "{text}"
    );
    // Each line names its token by id as well as by name (ids are random: checked here, then
    // scrubbed for the snapshot).
    for v in &lines {
        let want = if v["token_name"] == "rwclient" {
            &rw_id
        } else {
            &ro_id
        };
        assert_eq!(v["token_id"], json!(want), "{v}");
    }
    let scrubbed: Vec<Value> = lines.iter().map(|v| scrub(&l, v)).collect();
    insta::assert_json_snapshot!("audit_lines", scrubbed);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&l.root().join("log/audit.log")), 0o600);
    assert_eq!(mode(&l.root().join("log")), 0o750);
    // Key order is the reference's.
    let first = text.lines().next().unwrap();
    assert!(first.starts_with("{\"ts\":"), "{first}");
    assert!(first.find("\"token_name\"") < first.find("\"params\""));

    // Metrics moved by exactly the calls made.
    let body = s.metrics(METRICS).await;
    let samples = crate::common::parse_prometheus(&body);
    let count = |tool: &str, role: &str, result: &str| -> f64 {
        samples
            .iter()
            .filter(|x| x.name == "mymcp_tool_calls_total")
            .filter(|x| {
                x.labels.get("tool").map(String::as_str) == Some(tool)
                    && x.labels.get("role").map(String::as_str) == Some(role)
                    && x.labels.get("result").map(String::as_str) == Some(result)
            })
            .map(|x| x.value)
            .sum()
    };
    assert_eq!(count("bash_execute", "rw", "error"), 2.0);
    assert_eq!(count("bash_execute", "rw", "ok"), 1.0);
    assert_eq!(count("bash_execute", "ro", "denied"), 1.0);
    assert_eq!(count("<unknown>", "ro", "denied"), 1.0);
    assert_eq!(count("read_file", "ro", "ok"), 1.0);
    assert_eq!(count("read_file", "ro", "error"), 1.0);
    assert!(!body.contains("nosuchtool"));
    assert!(!body.contains(&rw) && !body.contains(ADMIN));
    assert!(body.contains("process_resident_memory_bytes"));
    assert!(body.contains("mymcp_bash_inflight_processes 0"));
}

#[tokio::test]
async fn http_metrics_use_route_patterns() {
    let l = Layout::new(&format!("MYMCP_METRICS_TOKEN={METRICS}"));
    let s = Server::start(&l);
    for t in ["tok_secret_guess_1", "tok_secret_guess_2"] {
        s.client
            .delete(s.url(&format!("/admin/tokens/{t}")))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
    }
    s.client
        .get(s.url("/some/random/url?x=tok_abc"))
        .send()
        .await
        .unwrap();
    let body = s.metrics(METRICS).await;
    let paths: Vec<String> = crate::common::parse_prometheus(&body)
        .iter()
        .filter(|x| x.name == "mymcp_http_requests_total")
        .filter_map(|x| x.labels.get("path").cloned())
        .collect();
    assert!(
        paths.contains(&"/admin/tokens/{token}".to_string()),
        "{paths:?}\n{body}"
    );
    assert!(paths.contains(&"<unmatched>".to_string()), "{paths:?}");
    assert!(
        !body.contains("tok_secret_guess") && !body.contains("random"),
        "{body}"
    );
}

#[tokio::test]
async fn audit_rotates_by_size() {
    let l = Layout::new(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_AUDIT_MAX_BYTES=1000\nMYMCP_AUDIT_BACKUP_COUNT=2",
    );
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("ro", "ro").await;
    for i in 0..40 {
        s.call(
            &ro,
            "glob",
            json!({"pattern": format!("*{i}"), "path": l.data()}),
        )
        .await;
    }
    let dir = l.root().join("log");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["audit.log", "audit.log.1", "audit.log.2"]);
    for n in &names {
        let text = std::fs::read_to_string(dir.join(n)).unwrap();
        assert!(text.len() < 1000, "{n}: {}", text.len());
        for line in text.lines() {
            serde_json::from_str::<Value>(line).unwrap();
        }
    }
}

#[tokio::test]
async fn bash_output_in_the_audit_line_only_when_asked_for() {
    let command = "printf 'first line\\nmiddle\\nlast line'";
    // Default: sizes and a digest, never the text.
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    s.call(&rw, "bash_execute", json!({"command": command}))
        .await;
    let out = &l.audit_lines()[0]["output"];
    assert_eq!(out["stdout_bytes"], 27);
    assert!(out.get("stdout_head").is_none(), "{out}");
    // Asked for: the first and last bytes, and how many were left out between them.
    let l = Layout::new(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_AUDIT_OUTPUT_BASH_HEAD_BYTES=10\nMYMCP_AUDIT_OUTPUT_BASH_TAIL_BYTES=9",
    );
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    s.call(&rw, "bash_execute", json!({"command": command}))
        .await;
    let out = &l.audit_lines()[0]["output"];
    assert_eq!(out["stdout_head"], "first line");
    assert_eq!(out["stdout_tail"], "last line");
    assert_eq!(out["stdout_truncated_bytes"], 8);
}

#[tokio::test]
async fn concurrent_calls_give_whole_lines() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("ro", "ro").await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let c = s.api.clone();
        let ro = ro.clone();
        let p = l.data();
        tasks.push(tokio::spawn(async move {
            c.call(
                &ro,
                "glob",
                json!({"pattern": format!("x{i}-*"), "path": p}),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let lines = l.audit_lines();
    assert_eq!(lines.len(), 200);
    let mut seen: Vec<String> = lines
        .iter()
        .map(|v| v["params"]["pattern"].as_str().unwrap().to_string())
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 200);
}

#[tokio::test]
async fn unwritable_audit_log_fails_the_call_and_counts() {
    let l = Layout::new(&format!("MYMCP_METRICS_TOKEN={METRICS}"));
    // The audit "directory" sits under a regular file: it can never be created.
    std::fs::write(l.root().join("blocker"), "").unwrap();
    let mut env = std::fs::read_to_string(l.env_file()).unwrap();
    env.push_str(&format!(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_AUDIT_LOG_DIR={}/blocker/log\n",
        l.root().display()
    ));
    std::fs::write(l.env_file(), env).unwrap();
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("ro", "ro").await;
    let (err, v) = s
        .call(&ro, "glob", json!({"pattern": "*", "path": l.data()}))
        .await;
    assert!(err);
    assert_eq!(v["error"], "InternalError", "{v}");
    let body = s.metrics(METRICS).await;
    assert!(
        body.contains("mymcp_audit_write_failures_total 1"),
        "{body}"
    );
}
