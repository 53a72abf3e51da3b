//! End-to-end tests of the server core: the real binary on 127.0.0.1, spoken to over HTTP.

use std::time::Duration;

use crate::common::{ADMIN, Layout, Server, tool_result};
use serde_json::{Value, json};

#[tokio::test]
async fn health_version_and_unknown_routes() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let h: Value = s
        .client
        .get(s.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        h,
        json!({"status":"ok","version": env!("CARGO_PKG_VERSION")})
    );
    let v: Value = s
        .client
        .get(s.url("/version"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v, json!({"version": env!("CARGO_PKG_VERSION")}));
    let r = s.client.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let r = s
        .client
        .get(s.url("/mcp"))
        .bearer_auth(&rw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    // No metrics token configured: 503 with the reference body.
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn initialize_is_optional_and_stateless() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}});
    let r = s.post_mcp(Some(&rw), &body).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("mcp-session-id").is_none());
    assert!(r.headers().get("x-request-id").is_some());
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["serverInfo"]["name"], "linux-server");
    assert_eq!(v["result"]["protocolVersion"], "2025-06-18");
    assert!(v["result"]["capabilities"]["tools"].is_object());
    // A tools/list with no prior initialize works.
    assert_eq!(s.tool_names(&rw).await.len(), crate::common::RW_TOOLS);
    let r = s
        .post_mcp(
            Some(&rw),
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let v = s.rpc(&rw, "ping", json!({})).await;
    assert_eq!(v["result"], json!({}));
    // Like the reference, a request without Accept (plain curl -d) works and gets JSON.
    let r = s
        .client
        .post(s.url("/mcp"))
        .header("Content-Type", "application/json")
        .bearer_auth(&rw)
        .body(json!({"jsonrpc":"2.0","id":5,"method":"tools/list"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["id"], 5);
}

#[tokio::test]
async fn tools_list_is_filtered_by_role() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let (ro, _) = s.admin_create("ro", "ro").await;
    let ro_list = s.rpc(&ro, "tools/list", json!({})).await;
    let rw_list = s.rpc(&rw, "tools/list", json!({})).await;
    insta::assert_json_snapshot!("tools_list_ro_names", s.tool_names(&ro).await);
    insta::assert_json_snapshot!("tools_list_rw", rw_list["result"]["tools"]);
    // Every ro tool object is identical to the rw one.
    for t in ro_list["result"]["tools"].as_array().unwrap() {
        assert!(rw_list["result"]["tools"].as_array().unwrap().contains(t));
    }
}

#[tokio::test]
async fn calls_beyond_the_role_or_unknown_tools_are_denied() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("ro", "ro").await;
    let (err, v) = s.call(&ro, "bash_execute", json!({"command":"id"})).await;
    assert!(err);
    assert_eq!(
        v,
        json!({"success":false,"error":"PermissionDenied","message":"Permission denied: tool 'bash_execute' requires rw role"})
    );
    let (err, v) = s.call(&ro, "nosuchtool", json!({})).await;
    assert!(err);
    assert_eq!(v["message"], "Unknown tool: nosuchtool");
}

#[tokio::test]
async fn bearer_auth_401_bodies() {
    let l = Layout::new("MYMCP_METRICS_TOKEN=tok_metrics_for_tests_000000000000");
    let s = Server::start(&l);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "Missing Bearer token"),
        (Some("bearer tok_x".into()), "Missing Bearer token"),
        (Some("Basic abc".into()), "Missing Bearer token"),
        (
            Some("Bearer tok_unknown".into()),
            "Invalid or disabled token",
        ),
        (Some(format!("Bearer {ADMIN}")), "Invalid or disabled token"),
        (
            Some("Bearer tok_metrics_for_tests_000000000000".into()),
            "Invalid or disabled token",
        ),
    ];
    for (auth, want) in cases {
        let mut r = s
            .client
            .post(s.url("/mcp"))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        // RFC 9110 requires a challenge on every 401; a refused token says invalid_token, so
        // clients report a wrong token instead of starting an OAuth flow.
        let challenge = if want == "Missing Bearer token" {
            r#"Bearer realm="mymcp""#
        } else {
            r#"Bearer realm="mymcp", error="invalid_token""#
        };
        assert_eq!(r.headers()["www-authenticate"], challenge, "{auth:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, json!({"detail": want}), "{auth:?}");
    }
    // Metrics: wrong token 401, right token 200.
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        r#"Bearer realm="mymcp", error="invalid_token""#
    );
    // OAuth clients answer any 401 by registering at /register; the refusal they then show
    // must say what is wrong (the token), not "404 page not found".
    let r = s
        .client
        .post(s.url("/register"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .contains("does not offer OAuth")
            && v["error_description"]
                .as_str()
                .unwrap()
                .contains("Authorization header"),
        "{v}"
    );
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth("tok_metrics_for_tests_000000000000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn admin_api_create_list_revoke() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let url = s.url("/admin/tokens");
    // 401 without bearer, 403 with a non-admin token.
    let r = s.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], r#"Bearer realm="mymcp""#);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail":"Missing Bearer token"})
    );
    let (rw, rw_id) = s.admin_create("rwclient", "rw").await;
    let r = s.client.get(&url).bearer_auth(&rw).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail":"Admin token required"})
    );

    // Role defaults to ro.
    let r = s
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .json(&json!({"name":"bot"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["role"], "ro");
    assert!(v["token"].as_str().unwrap().starts_with("tok_"));
    assert_eq!(s.tool_names(v["token"].as_str().unwrap()).await.len(), 5);

    // Listing never shows token values.
    let r = s.client.get(&url).bearer_auth(ADMIN).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains(&rw), "{text}");
    let list: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[&rw_id]["name"], "rwclient");
    assert_eq!(list[&rw_id]["role"], "rw");
    assert_eq!(list[&rw_id]["enabled"], true);
    // Nor does the file.
    let file = std::fs::read_to_string(l.token_file()).unwrap();
    assert!(!file.contains(&rw) && !file.contains(ADMIN), "{file}");

    // Bad requests.
    for (body, want) in [
        ("{not json", "invalid JSON body"),
        ("", "invalid JSON body"),
        ("[]", "invalid JSON body"),
        (
            "{\"role\":\"ro\"}",
            "name is required and must not be empty",
        ),
        (
            "{\"name\":\"  \"}",
            "name is required and must not be empty",
        ),
        (
            "{\"name\":\"x\",\"role\":\"admin\"}",
            "Invalid role: \"admin\". Must be 'ro' or 'rw'.",
        ),
    ] {
        let r = s
            .client
            .post(&url)
            .bearer_auth(ADMIN)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({"detail": want}),
            "{body}"
        );
    }
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(70_000));
    let r = s
        .client
        .post(&url)
        .bearer_auth(ADMIN)
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);

    // Revoke by value; then unknown is 404; the token is refused at once.
    assert!(s.accepted(&rw).await);
    let r = s
        .client
        .delete(format!("{url}/{rw}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["id"], rw_id);
    assert!(!s.accepted(&rw).await);
    let r = s
        .client
        .delete(format!("{url}/{rw}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"detail":"Token not found"})
    );
    // Revoke by id.
    let (t2, id2) = s.admin_create("second", "ro").await;
    let r = s
        .client
        .delete(format!("{url}/{id2}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!s.accepted(&t2).await);
}

#[tokio::test]
async fn cli_token_add_is_seen_by_running_server_within_2s() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let out = l.cli(&["token", "add", "--role", "rw", "cli-bot"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tok = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(tok.starts_with("tok_"));
    assert!(s.wait_accepted(&tok, true, Duration::from_secs(2)).await);
    assert_eq!(s.tool_names(&tok).await.len(), crate::common::RW_TOOLS);
    // v2 form too.
    let out = l.cli(&["token", "add", "--name", "v2bot", "--role", "ro"]);
    assert!(out.status.success());
    let tok2 = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(s.wait_accepted(&tok2, true, Duration::from_secs(2)).await);
    let list = l.cli(&["token", "list"]);
    let text = String::from_utf8(list.stdout).unwrap();
    assert!(text.contains("cli-bot") && text.contains("v2bot"), "{text}");
    assert!(!text.contains(&tok), "{text}");
}

#[tokio::test]
async fn cli_revoke_is_not_resurrected_by_restart() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (tok, _) = s.admin_create("victim", "rw").await;
    // Use it so last_used is pending in memory.
    assert!(s.accepted(&tok).await);
    let out = l.cli(&["token", "revoke", &tok]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.wait_accepted(&tok, false, Duration::from_secs(2)).await);
    assert!(s.stop().success());
    let file = std::fs::read_to_string(l.token_file()).unwrap();
    assert!(!file.contains("victim"), "{file}");
    let s = Server::start(&l);
    assert!(!s.accepted(&tok).await);
    // Unknown token: exit 1.
    let out = l.cli(&["token", "revoke", "tok_nope"]);
    assert_eq!(out.status.code(), Some(1));
}

#[tokio::test]
async fn reference_token_file_loads_unchanged() {
    let l = Layout::new("");
    std::fs::write(
        l.token_file(),
        r#"{
  "tokens": {
    "tok_11111111111111111111111111111111": {"name": "rwclient", "created_at": "2026-01-01T00:00:00Z", "last_used": null, "enabled": true, "role": "rw"},
    "tok_22222222222222222222222222222222": {"name": "norole", "created_at": "2026-01-01T00:00:00Z", "last_used": null, "enabled": true},
    "tok_33333333333333333333333333333333": {"name": "off", "created_at": "2026-01-01T00:00:00Z", "last_used": null, "enabled": false, "role": "ro"}
  },
  "admin_token": "tok_admin_in_file"
}"#,
    )
    .unwrap();
    let s = Server::start(&l);
    assert_eq!(
        s.tool_names("tok_11111111111111111111111111111111")
            .await
            .len(),
        crate::common::RW_TOOLS
    );
    assert!(!s.accepted("tok_22222222222222222222222222222222").await);
    assert!(!s.accepted("tok_33333333333333333333333333333333").await);
    // A write migrates the file to hashes; the plaintext tokens and admin token disappear.
    s.admin_create("new", "ro").await;
    let file = std::fs::read_to_string(l.token_file()).unwrap();
    assert!(!file.contains("tok_"), "{file}");
    assert!(file.contains("norole"));
    assert_eq!(
        s.tool_names("tok_11111111111111111111111111111111")
            .await
            .len(),
        crate::common::RW_TOOLS
    );
}

#[tokio::test]
async fn temp_token_mode_writes_nothing_and_binds_loopback() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let s = Server::spawn(
        &["--port", "0", "--with-metrics-token"],
        cwd.path(),
        &[("TMPDIR", tmp.path().to_str().unwrap())],
    );
    assert!(s.addr.starts_with("127.0.0.1:"), "{}", s.addr);
    let lines = s.stderr_lines();
    let find = |label: &str| {
        lines
            .iter()
            .find(|l| l.contains(&format!("temp {label} token:")))
            .and_then(|l| l.split_whitespace().last())
            .map(String::from)
            .unwrap_or_else(|| panic!("{label} token not printed: {lines:?}"))
    };
    let rw = find("rw");
    let admin = find("admin");
    let metrics = find("metrics");
    assert_eq!(s.tool_names(&rw).await.len(), crate::common::RW_TOOLS);
    let r = s
        .client
        .get(s.url("/admin/tokens"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(&metrics)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ro, _) = {
        let r = s
            .client
            .post(s.url("/admin/tokens"))
            .bearer_auth(&admin)
            .json(&json!({"name":"x"}))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        (v["token"].as_str().unwrap().to_string(), ())
    };
    assert!(s.accepted(&ro).await);
    assert!(s.stop().success());
    let left: Vec<_> = std::fs::read_dir(cwd.path())
        .unwrap()
        .chain(std::fs::read_dir(tmp.path()).unwrap())
        .collect();
    assert!(left.is_empty(), "temp mode left files: {left:?}");
}

#[test]
fn missing_or_bad_env_file_exits_1() {
    let out = crate::common::mymcp_cmd()
        .args(["serve", "--env-file", "/nonexistent/mymcp/.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/mymcp/.env") && err.contains("does not exist"),
        "{err}"
    );
    // Go-style single-dash flag (v3 systemd units) and MYMCP_ENV_FILE behave the same.
    let out = crate::common::mymcp_cmd()
        .args(["serve", "-env-file", "/nonexistent/x.env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let out = crate::common::mymcp_cmd()
        .arg("serve")
        .env("MYMCP_ENV_FILE", "/nonexistent/y.env")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/y.env"));

    let l = Layout::new("MYMCP_READ_FILE_MAX_LIMIT=lots");
    let out = crate::common::mymcp_cmd()
        .args(["serve", "-env-file", l.env_file().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MYMCP_READ_FILE_MAX_LIMIT"), "{err}");

    // Env file without an admin token.
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join(".env"), "MYMCP_PORT=0\n").unwrap();
    let out = crate::common::mymcp_cmd()
        .args([
            "serve",
            "--env-file",
            d.path().join(".env").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MYMCP_ADMIN_TOKEN"));

    // Usage errors exit 2.
    let out = crate::common::mymcp_cmd()
        .args(["serve", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn version_and_config_example() {
    let out = crate::common::mymcp_cmd()
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("mymcp {}", env!("CARGO_PKG_VERSION"))
    );
    let out = crate::common::mymcp_cmd().arg("version").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("mymcp {}", env!("CARGO_PKG_VERSION"))
    );
    let out = crate::common::mymcp_cmd()
        .args(["config", "example"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("MYMCP_ADMIN_TOKEN=") && text.contains("MYMCP_PORT=8765"));
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_server_keeps_serving() {
    let l = Layout::new("MYMCP_WRITE_FILE_MAX_BYTES=100000");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let send = |body: String| s.mcp_request(Some(&rw)).body(body).send();
    // Malformed JSON: a JSON-RPC parse error.
    let r = send("{\"jsonrpc\":".into()).await.unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], -32700);
    // Unknown method.
    let v = s.rpc(&rw, "no/such/method", json!({})).await;
    assert_eq!(v["error"]["code"], -32601, "{v}");
    // Wrong types and missing fields: tool errors naming the field.
    let (err, v) = s.call(&rw, "read_file", json!({"file_path": 5})).await;
    assert!(err);
    assert_eq!(v["error"], "InvalidArguments");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("'file_path' must be a string"),
        "{v}"
    );
    let (err, v) = s.call(&rw, "read_file", json!({})).await;
    assert!(err);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("'file_path' is a required property")
    );
    let (err, v) = s
        .call(
            &rw,
            "read_file",
            json!({"file_path":"/etc/hostname","limit":1.5}),
        )
        .await;
    assert!(err, "{v}");
    // Huge body: 413 from the headers alone, before any of the body is sent.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(&s.addr).await.unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer {rw}\r\nContent-Length: 200000000\r\n\r\n"
        );
        tcp.write_all(head.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 512];
        let n = tcp.read(&mut buf).await.unwrap();
        let reply = String::from_utf8_lossy(&buf[..n]);
        assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    }
    // A chunked body (no Content-Length) is cut off at the cap too.
    let chunks =
        futures::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024])));
    let r = s
        .mcp_request(Some(&rw))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    // The server drops a connection whose body it refused; talk on a fresh one.
    let mut s = s;
    s.client = reqwest::Client::new();
    // Still serving.
    assert_eq!(s.tool_names(&rw).await.len(), crate::common::RW_TOOLS);
}

#[tokio::test]
async fn json_rpc_errors_carry_the_codes_the_spec_gives_them() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let send = |body: String, version: Option<&'static str>| {
        let mut r = s.mcp_request(Some(&rw)).body(body);
        if let Some(v) = version {
            r = r.header("MCP-Protocol-Version", v);
        }
        r.send()
    };
    // (body, HTTP status, JSON-RPC code, id echoed). Checked on a plain request, which the
    // fast path serves, and under the per-request protocol, which rmcp serves.
    let cases = [
        (
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"glob","arguments":"x"}}"#,
            200,
            -32602,
            json!(7),
        ),
        (
            r#"{"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"arguments":{}}}"#,
            200,
            -32602,
            json!("c"),
        ),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
            400,
            -32600,
            Value::Null,
        ),
        (r#"{"id":3,"method":"tools/list"}"#, 400, -32600, json!(3)),
        (r#"{"jsonrpc":"2.0","id":"#, 400, -32700, Value::Null),
    ];
    for version in [None, Some("2025-06-18"), Some("2026-07-28")] {
        for (body, status, code, id) in &cases {
            let r = send(body.to_string(), version).await.unwrap();
            assert_eq!(r.status(), *status, "{body} {version:?}");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], *code, "{body} {version:?}: {v}");
            assert_eq!(v["id"], *id, "{body} {version:?}: {v}");
        }
    }
    // Control: a valid call still works, and an unknown method is still -32601.
    let (err, _) = s
        .call(&rw, "glob", json!({"pattern":"*","path":"/etc"}))
        .await;
    assert!(!err);
    let v = s.rpc(&rw, "no/such/method", json!({})).await;
    assert_eq!(v["error"]["code"], -32601, "{v}");
}

#[tokio::test]
async fn batches_are_answered_under_2025_03_26_only() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let hostname = l.root().join("host.txt");
    std::fs::write(&hostname, "h1\n").unwrap();
    let send = |body: Value, version: Option<&'static str>| {
        let mut r = s.mcp_request(Some(&rw)).body(body.to_string());
        if let Some(v) = version {
            r = r.header("MCP-Protocol-Version", v);
        }
        r.send()
    };
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"initialize","params":{
            "protocolVersion":"2025-03-26","capabilities":{},
            "clientInfo":{"name":"batch-test","version":"1"}}},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":"two","method":"tools/call","params":{
            "name":"read_file","arguments":{"file_path": hostname}}},
        // A progress token cannot turn a batch into a stream: plain JSON, no progress.
        {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
            "name":"bash_execute","arguments":{"command":"echo hi"},
            "_meta":{"progressToken":"p"}}},
        {"jsonrpc":"2.0","id":null,"method":"ping"},
        {"jsonrpc":"2.0","id":4,"method":"ping"}
    ]);
    for version in [Some("2025-03-26"), None] {
        let r = send(batch.clone(), version).await.unwrap();
        assert_eq!(r.status(), 200, "{version:?}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let v: Value = r.json().await.unwrap();
        let replies = v.as_array().unwrap_or_else(|| panic!("{v}"));
        // One reply per request, in order; the notification has none.
        let ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
        assert_eq!(
            ids,
            [&json!(1), &json!("two"), &json!(3), &Value::Null, &json!(4)],
            "{v}"
        );
        assert_eq!(replies[0]["result"]["serverInfo"]["name"], "linux-server");
        let text = |r: &Value| -> Value { tool_result(r).1 };
        assert!(
            text(&replies[1])["content"]
                .as_str()
                .unwrap()
                .contains("h1"),
            "{v}"
        );
        assert_eq!(text(&replies[2])["stdout"], "hi\n", "{v}");
        assert_eq!(replies[3]["error"]["code"], -32600);
        assert_eq!(replies[4]["result"], json!({}));
    }
    // Only notifications: 202 and no body.
    let r = send(
        json!([{"jsonrpc":"2.0","method":"notifications/initialized"}]),
        Some("2025-03-26"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.text().await.unwrap().is_empty());
    // Empty, over 100 messages, or under any later revision: Invalid Request, nothing runs.
    let marker = l.root().join("ran");
    let run = json!([{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"bash_execute","arguments":{"command": format!("touch {}", marker.display())}}}]);
    let too_many = Value::Array(vec![run[0].clone(); 101]);
    for (body, version) in [
        (json!([]), Some("2025-03-26")),
        (too_many, Some("2025-03-26")),
        (run.clone(), Some("2025-06-18")),
        (run.clone(), Some("2026-07-28")),
    ] {
        let r = send(body.clone(), version).await.unwrap();
        assert_eq!(r.status(), 400, "{body} {version:?}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], -32600, "{v}");
    }
    assert!(!marker.exists());
    // Control: the same batch under 2025-03-26 runs the command.
    let r = send(run, Some("2025-03-26")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(marker.exists());
}

#[tokio::test]
async fn foreign_origin_and_host_are_refused() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let base = || s.mcp_request(Some(&rw)).body(body.clone());
    let r = base()
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = base()
        .header("Origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = base().header("Host", "evil.example").send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = s
        .client
        .get(s.url("/admin/tokens"))
        .bearer_auth(ADMIN)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn preflights_need_no_token_and_cors_goes_only_to_listed_origins() {
    // Listed as an operator might type them: mixed case, a trailing slash.
    let l =
        Layout::new("MYMCP_CORS_ORIGINS=http://localhost:6274, https://Inspector.Example:8443/");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let preflight = |origin: Option<&'static str>| {
        let mut r = s
            .client
            .request(reqwest::Method::OPTIONS, s.url("/mcp"))
            .header("Access-Control-Request-Method", "POST")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type,mcp-protocol-version",
            );
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send()
    };
    let cors_headers = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| k.starts_with("access-control-"))
            .collect()
    };

    // A listed origin: 204 without a token, and everything a browser needs.
    let r = preflight(Some("http://localhost:6274")).await.unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:6274");
    assert!(
        h["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        h["access-control-allow-headers"],
        "authorization,content-type,mcp-protocol-version"
    );
    let r = preflight(Some("https://inspector.example:8443"))
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://inspector.example:8443"
    );

    // Unlisted origins and origin-less preflights: answered (not 401), but no CORS header.
    for origin in [
        Some("http://evil.example"),
        Some("http://localhost:6275"),
        None,
    ] {
        let r = preflight(origin).await.unwrap();
        assert_eq!(r.status(), 204, "{origin:?}");
        assert!(cors_headers(&r).is_empty(), "{origin:?}: {:?}", r.headers());
    }

    // The real request from a listed origin: the reply names it, and exposes the headers a
    // client script reads. A 401 names it too, so the script can see why it failed.
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let post = |origin: &'static str| {
        s.mcp_request(None)
            .header("Origin", origin)
            .body(body.clone())
    };
    let r = post("http://localhost:6274")
        .bearer_auth(&rw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );
    let expose = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(expose.contains("mcp-session-id") && expose.contains("www-authenticate"));
    let r = post("http://localhost:6274").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // A listed origin is let through the Origin check that refuses it when unlisted (the
    // control: the same request from another foreign origin is 403, without CORS headers).
    let r = post("https://inspector.example:8443")
        .bearer_auth(&rw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post("https://other.example:8443")
        .bearer_auth(&rw)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(cors_headers(&r).is_empty());
}

#[test]
fn a_cors_origin_that_can_never_match_is_refused_at_start() {
    for bad in [
        "http://localhost:6274/app",
        "*",
        "localhost:6274",
        "http://a b",
    ] {
        let l = Layout::new(&format!("MYMCP_CORS_ORIGINS={bad}"));
        let out = l.cli(&["serve"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{bad}: {err}");
        assert!(err.contains("MYMCP_CORS_ORIGINS"), "{bad}: {err}");
    }
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let l = Layout::new("");
    let s = Server::start(&l);
    assert!(s.stop().success());
}

#[tokio::test]
async fn fast_path_and_rmcp_path_answer_identically() {
    // `_meta` sends a request through rmcp; without it the fast path answers. Same bytes.
    let l = Layout::new("");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("rw", "rw").await;
    let (ro, _) = s.admin_create("ro", "ro").await;
    let f = l.data().join("f.txt");
    std::fs::write(&f, "a \"quoted\" <line>\n\u{e9}t\u{e9}\n").unwrap();
    let cases = vec![
        (rw.clone(), "tools/list", json!({})),
        (ro.clone(), "tools/list", json!({})),
        (rw.clone(), "ping", json!({})),
        (
            ro.clone(),
            "tools/call",
            json!({"name":"read_file","arguments":{"file_path": f}}),
        ),
        (
            ro.clone(),
            "tools/call",
            json!({"name":"read_file","arguments":{"file_path": "/nope"}}),
        ),
        (
            ro.clone(),
            "tools/call",
            json!({"name":"read_file","arguments":{"file_path": 1}}),
        ),
        (
            ro.clone(),
            "tools/call",
            json!({"name":"bash_execute","arguments":{"command":"id"}}),
        ),
        (ro.clone(), "tools/call", json!({"name":"zzz"})),
    ];
    for (tok, method, params) in cases {
        let fast = json!({"jsonrpc":"2.0","id":"x-1","method":method,"params":params});
        let mut slow_params = params.clone();
        slow_params["_meta"] = json!({});
        let slow = json!({"jsonrpc":"2.0","id":"x-1","method":method,"params":slow_params});
        let a = s.post_mcp(Some(&tok), &fast).await;
        let b = s.post_mcp(Some(&tok), &slow).await;
        assert_eq!(a.status(), b.status());
        assert_eq!(a.headers()["content-type"], b.headers()["content-type"]);
        let (a, b) = (a.text().await.unwrap(), b.text().await.unwrap());
        assert_eq!(a, b, "{method} {params}");
    }
}
