//! The recorder against a scripted fake LLM on 127.0.0.1 (both API dialects), and
//! `server_overview` on the real server. Each recorder cycle is one `mymcp recorder --once`
//! process, so state that must survive restarts (cursor, breaker) is exercised too.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Layout, Server, mymcp_cmd};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// One scripted answer of the fake LLM.
#[derive(Clone)]
struct Answer {
    status: u16,
    body: String,
    delay: Duration,
}

#[derive(Default)]
struct Fake {
    script: Mutex<VecDeque<Answer>>,
    seen: Mutex<Vec<(String, HeaderMap, Value)>>,
}

async fn handle(
    State(f): State<Arc<Fake>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: String,
) -> axum::response::Response {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    f.seen
        .lock()
        .unwrap()
        .push((uri.path().to_string(), headers, v));
    let next = f.script.lock().unwrap().pop_front();
    let Some(a) = next else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "script exhausted").into_response();
    };
    tokio::time::sleep(a.delay).await;
    (
        StatusCode::from_u16(a.status).unwrap(),
        [("content-type", "application/json")],
        a.body,
    )
        .into_response()
}

struct FakeLlm {
    state: Arc<Fake>,
    addr: String,
}

impl FakeLlm {
    async fn start() -> FakeLlm {
        let state = Arc::new(Fake::default());
        let app = axum::Router::new()
            .route("/v1/messages", axum::routing::post(handle))
            .route("/v1/chat/completions", axum::routing::post(handle))
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        FakeLlm { state, addr }
    }
    fn push(&self, status: u16, body: String, delay_ms: u64) {
        self.state.script.lock().unwrap().push_back(Answer {
            status,
            body,
            delay: Duration::from_millis(delay_ms),
        });
    }
    fn seen(&self) -> Vec<(String, HeaderMap, Value)> {
        self.state.seen.lock().unwrap().clone()
    }
}

fn anthropic(text: &str, stop: &str) -> String {
    json!({"content":[{"type":"text","text":text}],"stop_reason":stop,
           "usage":{"input_tokens":120,"output_tokens":30}})
    .to_string()
}

fn openai(text: &str, finish: &str) -> String {
    json!({"choices":[{"message":{"role":"assistant","content":text},"finish_reason":finish}],
           "usage":{"prompt_tokens":100,"completion_tokens":20}})
    .to_string()
}

fn merge_json(overview: &str, lines: &[&str]) -> String {
    json!({"updated_overview_md": overview, "new_changelog_lines": lines}).to_string()
}

fn layout(fake: &FakeLlm, provider: &str, extra: &str) -> Layout {
    let base = match provider {
        "openai" => format!("http://{}/v1", fake.addr),
        _ => format!("http://{}", fake.addr),
    };
    Layout::new(&format!(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_METRICS_TOKEN=tok_metrics_for_tests_0123456789\n\
         MYMCP_RECORDER_ENABLED=true\nMYMCP_RECORDER_LLM_PROVIDER={provider}\n\
         MYMCP_RECORDER_LLM_BASE_URL={base}\nMYMCP_RECORDER_LLM_API_KEY=sk-test-key\n\
         MYMCP_RECORDER_LLM_MODEL=test-model\nMYMCP_RECORDER_LLM_RETRIES=0\n\
         MYMCP_RECORDER_LLM_TIMEOUT_SEC=1\nMYMCP_RECORDER_BOOTSTRAP_MAX_ITERATIONS=2\n\
         MYMCP_RECORDER_BOOTSTRAP_PROBE_TIMEOUT_SEC=5\nMYMCP_RECORDER_CIRCUIT_BREAKER_THRESHOLD=3\n{extra}"
    ))
}

/// One `mymcp recorder --once`; returns the cycle's reason.
async fn cycle(l: &Layout) -> String {
    let env = l.env_file();
    let root = l.root().to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        mymcp_cmd()
            .args(["recorder", "--once", "--env-file"])
            .arg(env)
            .current_dir(root)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["reason"].as_str().unwrap().to_string()
}

fn rec(l: &Layout) -> PathBuf {
    l.root().join("recorder")
}

fn overview(l: &Layout) -> Option<String> {
    std::fs::read_to_string(rec(l).join("overview/overview.md")).ok()
}

fn metric(l: &Layout, series: &str) -> f64 {
    let text = std::fs::read_to_string(rec(l).join("metrics.prom")).unwrap_or_default();
    crate::common::parse_prometheus(&text)
        .into_iter()
        .find(|s| format!("{}{}", s.name, s.labels_text()) == series)
        .map_or(0.0, |s| s.value)
}

fn audit_line(tool: &str, result: &str, path: &str) -> String {
    format!(
        "{}\n",
        json!({"ts":"2026-11-24T10:00:00Z","tool":tool,"result":result,
               "params":{"file_path":path},"token_name":"t","role":"rw"})
    )
}

fn append(p: &Path, s: &str) {
    use std::io::Write;
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(s.as_bytes()).unwrap();
}

fn seed_overview(l: &Layout, text: &str) {
    let d = rec(l).join("overview");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("overview.md"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_then_merge_through_the_real_server() {
    let fake = FakeLlm::start().await;
    let l = layout(&fake, "anthropic", "");
    let srv = Server::start(&l);
    let (rw, _) = srv.admin_create("agent", "rw").await;

    // Before the recorder ran: a clear RecorderDisabled.
    let (err, missing) = srv.call(&rw, "server_overview", json!({})).await;
    assert!(err);
    insta::assert_json_snapshot!(
        "server_overview_missing",
        crate::common::redact(&l, &missing)
    );

    let (err, _) = srv
        .call(
            &rw,
            "write_file",
            json!({"file_path": l.data().join("a.txt"), "content": "x"}),
        )
        .await;
    assert!(!err);

    fake.push(
        200,
        anthropic("# Server Overview\n\n## TL;DR\nA test host.\n", "end_turn"),
        0,
    );
    assert_eq!(cycle(&l).await, "success");
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    let (path, headers, body) = &seen[0];
    assert_eq!(path, "/v1/messages");
    assert_eq!(headers["x-api-key"], "sk-test-key");
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(body["model"], "test-model");
    let prompt = body["messages"][0]["content"].as_str().unwrap();
    assert!(prompt.contains("### os ("), "{prompt}");
    assert!(
        !prompt.contains("### listening ports"),
        "only 2 probes allowed: {prompt}"
    );
    assert!(overview(&l).unwrap().starts_with("# Server Overview"));
    assert_eq!(
        metric(&l, "mymcp_recorder_merge_cycles_total{reason=\"success\"}"),
        1.0
    );
    assert_eq!(
        metric(
            &l,
            "mymcp_recorder_llm_tokens_total{direction=\"input\",phase=\"bootstrap\"}"
        ),
        120.0
    );

    // Bootstrap covered the write: nothing pending. Then one mutating and one read-only call.
    let (_, fresh) = srv.call(&rw, "server_overview", json!({})).await;
    assert_eq!(fresh["pending_events"], 0);
    srv.call(&rw, "bash_execute", json!({"command": "true"}))
        .await;
    srv.call(
        &rw,
        "read_file",
        json!({"file_path": l.data().join("a.txt")}),
    )
    .await;
    let (_, fresh) = srv.call(&rw, "server_overview", json!({})).await;
    assert_eq!(fresh["pending_events"], 1);
    assert_eq!(fresh["stale"], false);
    let mut shown = crate::common::redact(&l, &fresh);
    shown["last_updated"] = json!("[ts]");
    insta::assert_json_snapshot!("server_overview_fresh", shown);

    fake.push(
        200,
        anthropic(
            &merge_json(
                "# Server Overview\n\n## TL;DR\nA test host that ran true.\n",
                &["bash_execute | ran true"],
            ),
            "end_turn",
        ),
        0,
    );
    assert_eq!(cycle(&l).await, "success");
    let merge_prompt = fake.seen()[1].2["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        merge_prompt.contains("\"tool\":\"bash_execute\""),
        "{merge_prompt}"
    );
    assert!(
        !merge_prompt.contains("\"tool\":\"read_file\""),
        "{merge_prompt}"
    );
    assert!(
        !merge_prompt.contains("agent"),
        "token names stay out of prompts"
    );
    assert!(overview(&l).unwrap().contains("ran true"));
    let changelog = std::fs::read_to_string(rec(&l).join("overview/changelog.md")).unwrap();
    let lines: Vec<&str> = changelog.lines().collect();
    assert_eq!(lines.len(), 2, "{changelog}");
    assert!(lines[0].contains("| bootstrap |"));
    assert!(
        lines[1].ends_with("| bash_execute | ran true"),
        "{changelog}"
    );
    let (_, after) = srv.call(&rw, "server_overview", json!({})).await;
    assert_eq!(after["pending_events"], 0);

    // Nothing new: no LLM call.
    assert_eq!(cycle(&l).await, "no_events");
    assert_eq!(fake.seen().len(), 2);

    // The server's /metrics carries the recorder's series.
    let text = srv
        .client
        .get(srv.url("/metrics"))
        .bearer_auth("tok_metrics_for_tests_0123456789")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("mymcp_recorder_merge_cycles_total{reason=\"no_events\"} 1"),
        "{text}"
    );
    assert!(text.contains("mymcp_recorder_pending_events 0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_keep_the_old_overview_and_the_breaker_opens_and_closes() {
    let fake = FakeLlm::start().await;
    let l = layout(&fake, "openai", "");
    let old = "# Server Overview\n\nold\n";
    seed_overview(&l, old);
    let log = l.root().join("log/audit.log");
    append(&log, &audit_line("write_file", "ok", "/etc/one"));

    let cases: [(u16, String, u64, &str); 5] = [
        (
            200,
            openai("I could not do that.", "stop"),
            0,
            "unparseable",
        ),
        (500, "{\"error\":\"boom\"}".into(), 0, "llm_error"),
        (
            200,
            openai(&merge_json("# x", &[]), "stop"),
            1500,
            "llm_error",
        ), // past the 1 s timeout
        (
            200,
            openai(&merge_json("# Server Overview\n\ncut", &[]), "length"),
            0,
            "max_tokens",
        ),
        (200, openai("", "stop"), 0, "empty"),
    ];
    let cursor = rec(&l).join("cursor.json");
    for (i, (status, body, delay, want)) in cases.into_iter().enumerate() {
        if i == 3 {
            // Three failures opened the breaker; only a new event buys another attempt.
            assert_eq!(cycle(&l).await, "circuit_open");
            assert_eq!(fake.seen().len(), 3);
            let state: Value =
                serde_json::from_slice(&std::fs::read(rec(&l).join("state.json")).unwrap())
                    .unwrap();
            assert_eq!(state["circuit_open"], true);
            append(&log, &audit_line("edit_file", "ok", &format!("/etc/{i}")));
        }
        fake.push(status, body, delay);
        assert_eq!(cycle(&l).await, want, "case {i}");
        assert_eq!(
            overview(&l).as_deref(),
            Some(old),
            "case {i} touched the overview"
        );
        assert!(!cursor.exists(), "case {i} moved the cursor");
        assert_eq!(
            metric(
                &l,
                &format!("mymcp_recorder_merge_cycles_total{{reason=\"{want}\"}}")
            ),
            1.0
        );
        if i == 3 {
            append(&log, &audit_line("edit_file", "ok", "/etc/again"));
        }
    }
    assert_eq!(metric(&l, "mymcp_recorder_circuit_open"), 1.0);
    let (path, headers, body) = &fake.seen()[0];
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(headers["authorization"], "Bearer sk-test-key");
    assert_eq!(body["messages"][0]["role"], "system");

    // A schema-invalid answer (no changelog array) is refused too.
    append(&log, &audit_line("write_file", "ok", "/etc/three"));
    fake.push(
        200,
        openai("{\"updated_overview_md\":\"# Server Overview\"}", "stop"),
        0,
    );
    assert_eq!(cycle(&l).await, "schema_invalid");
    assert_eq!(overview(&l).as_deref(), Some(old));

    // A good answer closes the breaker and folds in every pending event.
    append(&log, &audit_line("write_file", "ok", "/etc/four"));
    fake.push(
        200,
        openai(
            &merge_json(
                "# Server Overview\n\nnew\n",
                &["write_file | wrote four files"],
            ),
            "stop",
        ),
        0,
    );
    assert_eq!(cycle(&l).await, "success");
    assert_eq!(overview(&l).as_deref(), Some("# Server Overview\n\nnew\n"));
    assert_eq!(metric(&l, "mymcp_recorder_circuit_open"), 0.0);
    let seen = fake.seen();
    let last = seen.last().unwrap().2["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for p in [
        "/etc/one",
        "/etc/3",
        "/etc/again",
        "/etc/three",
        "/etc/four",
    ] {
        assert!(last.contains(p), "{p} missing from the merge prompt");
    }
    assert_eq!(
        metric(
            &l,
            "mymcp_recorder_events_consumed_total{tool=\"write_file\"}"
        ),
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_loses_no_event_and_retries_recover() {
    let fake = FakeLlm::start().await;
    let l = layout(
        &fake,
        "anthropic",
        "MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE=2\nMYMCP_RECORDER_LLM_RETRIES=1\nMYMCP_RECORDER_LLM_RETRY_BACKOFF_MS=0\n",
    );
    seed_overview(&l, "# Server Overview\n");
    let dir = l.root().join("log");
    let log = dir.join("audit.log");
    for i in 0..3 {
        append(&log, &audit_line("write_file", "ok", &format!("/srv/e{i}")));
        append(&log, &audit_line("read_file", "ok", "/srv/ro"));
    }
    let ok = |n: &str| {
        anthropic(
            &merge_json("# Server Overview\n", &[&format!("write_file | {n}")]),
            "end_turn",
        )
    };
    // First cycle: a 500, retried once, then the answer. Capped at 2 events.
    fake.push(500, "{}".into(), 0);
    fake.push(200, ok("a"), 0);
    assert_eq!(cycle(&l).await, "success");
    assert_eq!(
        metric(
            &l,
            "mymcp_recorder_llm_calls_total{phase=\"merge\",result=\"error\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &l,
            "mymcp_recorder_llm_calls_total{phase=\"merge\",result=\"success\"}"
        ),
        1.0
    );

    // Rotate the way the audit writer does (rename keeps the inode), then log more.
    std::fs::rename(&log, dir.join("audit.log.1")).unwrap();
    for i in 3..5 {
        append(&log, &audit_line("edit_file", "ok", &format!("/srv/e{i}")));
    }
    fake.push(200, ok("b"), 0);
    assert_eq!(cycle(&l).await, "success");
    fake.push(200, ok("c"), 0);
    assert_eq!(cycle(&l).await, "success");
    assert_eq!(cycle(&l).await, "no_events");

    let mut seen_events = Vec::new();
    for (_, _, body) in fake.seen() {
        let p = body["messages"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for i in 0..5 {
            seen_events.extend(std::iter::repeat_n(
                i,
                p.matches(&format!("/srv/e{i}\"")).count(),
            ));
        }
    }
    seen_events.sort();
    // Each of the five events went to the model exactly once (the retried request twice).
    assert_eq!(seen_events, [0, 0, 1, 1, 2, 3, 4]);
    assert_eq!(metric(&l, "mymcp_recorder_event_loss_total"), 0.0);
    let changelog = std::fs::read_to_string(rec(&l).join("overview/changelog.md")).unwrap();
    assert_eq!(changelog.lines().count(), 3, "{changelog}");
}

#[tokio::test]
async fn stale_overview_gets_a_banner() {
    let l = Layout::new("MYMCP_RECORDER_MERGE_INTERVAL_SEC=60\n");
    seed_overview(&l, "# Server Overview\n\nold map\n");
    let f = std::fs::File::options()
        .write(true)
        .open(rec(&l).join("overview/overview.md"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    append(
        &l.root().join("log/audit.log"),
        &audit_line("write_file", "ok", "/x"),
    );
    append(
        &l.root().join("log/audit.log"),
        &audit_line("write_file", "error", "/y"),
    );
    let srv = Server::start(&l);
    let (rw, _) = srv.admin_create("agent", "rw").await;
    let (err, v) = srv.call(&rw, "server_overview", json!({})).await;
    assert!(!err);
    let mut shown = v.clone();
    shown["last_updated"] = json!("[ts]");
    insta::assert_json_snapshot!("server_overview_stale", shown);
}

#[test]
fn disabled_recorder_exits_cleanly_and_prints_its_unit() {
    let l = Layout::new("");
    let out = l.cli(&["recorder", "--once"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("MYMCP_RECORDER_ENABLED"));
    let out = mymcp_cmd()
        .args(["recorder", "--install-unit"])
        .output()
        .unwrap();
    let unit = String::from_utf8_lossy(&out.stdout);
    let exe = std::fs::canonicalize(crate::common::BIN).unwrap();
    assert!(
        unit.contains(&format!(
            "ExecStart={} recorder --env-file /etc/mymcp/.env",
            exe.display()
        )),
        "{unit}"
    );
    // Missing API key for the public API: a clear error, exit 1.
    let l = Layout::new("MYMCP_RECORDER_ENABLED=true\n");
    let out = l.cli(&["recorder", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MYMCP_RECORDER_LLM_API_KEY"));
    // A provider we do not speak, and a non-numeric limit: named, exit 1, nothing written.
    for (extra, named) in [
        (
            "MYMCP_RECORDER_LLM_PROVIDER=gemini\n",
            "MYMCP_RECORDER_LLM_PROVIDER",
        ),
        (
            "MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE=lots\n",
            "MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE",
        ),
    ] {
        let l = Layout::new(&format!(
            "MYMCP_RECORDER_ENABLED=true\nMYMCP_RECORDER_LLM_API_KEY=k\n{extra}"
        ));
        let out = l.cli(&["recorder", "--once"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(named),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!rec(&l).exists());
    }
}
