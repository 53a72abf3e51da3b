//! OAuth 2.1 resource server against a real authorization server: oidc-provider (a certified
//! OpenID provider, `tests/oauth/as.mjs`) on 127.0.0.1, issuing tokens by the client
//! credentials grant with resource indicators. Each refusal has a control: the same kind of
//! token, made right, is accepted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::common::*;

const AUD: &str = "https://mymcp.test/mcp";
const METRICS: &str = "metrics_token_for_oauth_tests_0123456789";

/// The test authorization server, killed on drop.
struct AuthServer {
    child: Child,
    issuer: String,
    http: reqwest::Client,
}

impl Drop for AuthServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

static NPM: Once = Once::new();

impl AuthServer {
    fn start() -> AuthServer {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oauth");
        NPM.call_once(|| {
            if !dir.join("node_modules/oidc-provider").exists() {
                let ok = Command::new("npm")
                    .args(["ci", "--silent", "--no-audit", "--no-fund"])
                    .current_dir(&dir)
                    .status()
                    .is_ok_and(|s| s.success());
                assert!(ok, "npm ci in tests/oauth failed: node and npm are needed");
            }
        });
        let mut child = Command::new("node")
            .arg(dir.join("as.mjs"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node is needed for the OAuth tests");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        AuthServer {
            child,
            issuer: v["issuer"].as_str().unwrap().to_string(),
            // A fresh connection per request: no race with Node closing an idle one.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    /// An access token by the client credentials grant.
    async fn token(&self, client: &str, scope: &str, resource: &str) -> String {
        let secret = match client {
            "agent" => "agent-secret",
            "opaque-agent" => "opaque-secret",
            other => panic!("unknown client {other}"),
        };
        let r = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("resource", resource),
            ])
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_string()
    }

    /// A token the provider's key signs with any claims (or, for attacks, another key).
    async fn sign(&self, claims: Value, key: &str) -> String {
        let v: Value = self
            .http
            .post(format!("{}/test/sign", self.issuer))
            .json(&json!({"claims": claims, "key": key}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["token"].as_str().unwrap().to_string()
    }

    async fn post(&self, path: &str) -> Value {
        self.http
            .post(format!("{}{path}", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn jwks_fetches(&self) -> u64 {
        self.stat("jwks_fetches").await
    }

    async fn introspections(&self) -> u64 {
        self.stat("introspections").await
    }

    async fn stat(&self, name: &str) -> u64 {
        let v: Value = self
            .http
            .get(format!("{}/test/stats", self.issuer))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v[name].as_u64().unwrap()
    }
}

fn oauth_layout(issuer: &str, extra: &str) -> Layout {
    Layout::new(&format!(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_OAUTH_ISSUER={issuer}\nMYMCP_OAUTH_AUDIENCE={AUD}\nMYMCP_METRICS_TOKEN={METRICS}\n{extra}"
    ))
}

async fn health(s: &Server) -> Value {
    s.client
        .get(s.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Poll `/health` until `oauth` satisfies `done` (discovery runs in the background).
async fn wait_oauth(s: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let h = health(s).await;
        if done(&h["oauth"]) {
            return h["oauth"].clone();
        }
        assert!(Instant::now() < deadline, "oauth never got there: {h}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// POST tools/list with `token`: the status, the `WWW-Authenticate` header, the body.
async fn list_with(s: &Server, token: &str) -> (u16, String, Value) {
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let r = s.post_mcp(Some(token), &body).await;
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, challenge, r.json().await.unwrap_or(Value::Null))
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn access_tokens_from_a_real_authorization_server_are_checked_and_give_a_role() {
    let auth = AuthServer::start();
    let l = oauth_layout(
        &auth.issuer,
        "MYMCP_OAUTH_CLIENT_ID=mymcp\nMYMCP_OAUTH_CLIENT_SECRET=mymcp-secret",
    );
    let s = Server::start(&l);
    let status = wait_oauth(&s, |o| o["ready"] == true).await;
    assert_eq!(status["introspection"], true, "{status}");
    let fetches_at_start = auth.jwks_fetches().await;
    let d = Doctor::run(&l.root().join("etc"), &[]);
    let oauth = d.check("oauth");
    assert_eq!(oauth["severity"], "ok", "{oauth}");
    assert!(
        oauth["detail"].as_str().unwrap().contains(&auth.issuer),
        "{oauth}"
    );

    // Discovery for clients: RFC 9728 metadata at both addresses, and the challenge names it.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let prm: Value = s
            .client
            .get(s.url(path))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(prm["resource"], AUD);
        assert_eq!(prm["authorization_servers"], json!([auth.issuer]));
        assert_eq!(prm["scopes_supported"], json!(["mymcp:ro", "mymcp:rw"]));
        assert_eq!(prm["bearer_methods_supported"], json!(["header"]));
    }
    let r = s
        .post_mcp(None, &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}))
        .await;
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    let prm_url = format!("http://{}/.well-known/oauth-protected-resource/mcp", s.addr);
    assert!(
        challenge.contains(&format!(r#"resource_metadata="{prm_url}""#)),
        "{challenge}"
    );
    assert!(challenge.contains(r#"scope="mymcp:ro""#), "{challenge}");
    assert!(!challenge.contains("error="), "{challenge}");

    // A JWT with the rw scope: every tool, and the audit names the subject and the client.
    let rw = auth.token("agent", "mymcp:rw", AUD).await;
    assert_eq!(s.tool_names(&rw).await.len(), RW_TOOLS);
    let (err, out) = s
        .call(&rw, "bash_execute", json!({"command": "echo via-oauth"}))
        .await;
    assert!(!err, "{out}");
    let line = l
        .audit_lines()
        .into_iter()
        .find(|a| a["tool"] == "bash_execute")
        .expect("an audit line");
    assert_eq!(line["token_name"], "oauth:agent");
    assert_eq!(line["token_id"], "oauth:agent");
    assert_eq!(line["client_id"], "agent");
    assert_eq!(line["role"], "rw");

    // Jobs and tickets belong to the subject: a fresh token for the same subject sees the job,
    // a static token does not; a ticket the subject minted is redeemed.
    let (err, job) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": "sleep 30", "background": true}),
        )
        .await;
    assert!(!err, "{job}");
    let again = auth.token("agent", "mymcp:rw", AUD).await;
    assert_ne!(again, rw);
    let (err, listed) = s.call(&again, "job_list", json!({})).await;
    assert!(!err, "{listed}");
    assert_eq!(listed["jobs"][0]["job_id"], job["job_id"], "{listed}");
    let (other_tok, _) = s.admin_create("other", "rw").await;
    let (err, out) = s
        .call(&other_tok, "job_kill", json!({"job_id": job["job_id"]}))
        .await;
    assert!(err, "{out}");
    assert_eq!(out["error"], "JobNotFound", "{out}");
    let (err, out) = s
        .call(&again, "job_kill", json!({"job_id": job["job_id"]}))
        .await;
    assert!(!err, "{out}");
    std::fs::write(l.data().join("t.txt"), "ticketed").unwrap();
    let (err, ticket) = s
        .call(
            &rw,
            "prepare_download",
            json!({"src_path": l.data().join("t.txt")}),
        )
        .await;
    assert!(!err, "{ticket}");
    let got = s
        .client
        .get(ticket["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.text().await.unwrap(), "ticketed");

    // The ro scope: the ro tools only.
    let ro = auth.token("agent", "mymcp:ro", AUD).await;
    let names = s.tool_names(&ro).await;
    assert!(names.contains(&"read_file".to_string()), "{names:?}");
    assert!(!names.contains(&"write_file".to_string()), "{names:?}");

    // Neither scope: 403 insufficient_scope.
    let other = auth.token("agent", "other", AUD).await;
    let (code, challenge, _) = list_with(&s, &other).await;
    assert_eq!(code, 403);
    assert!(
        challenge.contains(r#"error="insufficient_scope""#),
        "{challenge}"
    );

    // An opaque token, checked by introspection with the server's own credentials.
    let opaque = auth.token("opaque-agent", "mymcp:ro", AUD).await;
    assert_eq!(opaque.matches('.').count(), 0, "{opaque}");
    let names = s.tool_names(&opaque).await;
    assert!(names.contains(&"read_file".to_string()), "{names:?}");
    assert!(!names.contains(&"bash_execute".to_string()), "{names:?}");

    // Static tokens keep working next to OAuth.
    let (static_tok, _) = s.admin_create("ci", "rw").await;
    assert_eq!(s.tool_names(&static_tok).await.len(), RW_TOOLS);

    // Bad tokens. Control first: claims like these, signed with the provider's key, pass.
    let t = now();
    let good = json!({"sub": "forged", "aud": AUD, "scope": "mymcp:rw", "exp": t + 300});
    let control = auth.sign(good.clone(), "current").await;
    assert_eq!(
        list_with(&s, &control).await.0,
        200,
        "control token refused"
    );
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let header_none = json!({"alg": "none", "typ": "JWT"});
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            auth.sign(with(json!({"exp": t - 3600})), "current").await,
        ),
        (
            "not yet valid",
            auth.sign(with(json!({"nbf": t + 3600})), "current").await,
        ),
        (
            "no exp",
            auth.sign(with(json!({"exp": null})), "current").await,
        ),
        (
            "wrong issuer",
            auth.sign(with(json!({"iss": "https://evil.example"})), "current")
                .await,
        ),
        (
            "wrong audience",
            auth.token("agent", "mymcp:rw", "https://other.test/mcp")
                .await,
        ),
        ("alg none", format!("{}.{}.", b64(&header_none), b64(&good))),
        (
            "HS256 keyed with the public key",
            auth.sign(good.clone(), "hs-public").await,
        ),
        (
            "signed by a key the issuer never published",
            auth.sign(good.clone(), "unknown").await,
        ),
        ("tampered payload", {
            let mut parts: Vec<String> = control.split('.').map(String::from).collect();
            parts[1] = b64(&with(json!({"sub": "admin"})));
            parts.join(".")
        }),
        ("malformed", "a.b.c".to_string()),
        ("not base64", "!!!.???.***".to_string()),
        ("opaque garbage", "x".repeat(40)),
        (
            "20 KB",
            format!("{}.{}.x", "a".repeat(10_000), "b".repeat(10_000)),
        ),
    ];
    for (what, tok) in &cases {
        let (code, challenge, body) = list_with(&s, tok).await;
        assert_eq!(code, 401, "{what}: {body}");
        assert!(
            challenge.contains(r#"error="invalid_token""#)
                && challenge.contains("resource_metadata="),
            "{what}: {challenge}"
        );
    }
    // A 1 MB header is refused before it reaches the token check, and the server goes on.
    let huge = "y".repeat(1 << 20);
    let r = s
        .mcp_request(Some(&huge))
        .body(json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string())
        .send()
        .await;
    assert!(r.map_or(true, |r| r.status().is_client_error()));
    assert_eq!(list_with(&s, &rw).await.0, 200);
    // None of that made the server fetch keys again (a kid it knows, or none to look up).
    assert_eq!(auth.jwks_fetches().await, fetches_at_start);

    // Key rotation: a token signed with a new key is accepted without a restart.
    let rotated = auth.post("/test/rotate").await;
    let fresh = auth.token("agent", "mymcp:rw", AUD).await;
    let kid = jsonwebtoken_kid(&fresh);
    assert_eq!(kid, rotated["kid"].as_str().unwrap());
    assert_eq!(list_with(&s, &fresh).await.0, 200);
    let after_rotation = auth.jwks_fetches().await;
    assert_eq!(after_rotation, fetches_at_start + 1);
    // Made-up kids right after that do not make it fetch again (at most one per 30 s).
    for i in 0..5 {
        let mut parts: Vec<String> = fresh.split('.').map(String::from).collect();
        parts[0] = b64(&json!({"alg": "ES256", "kid": format!("made-up-{i}")}));
        assert_eq!(list_with(&s, &parts.join(".")).await.0, 401);
    }
    assert_eq!(auth.jwks_fetches().await, after_rotation);

    // Counted by method and result; never logged.
    let m = s.metrics(METRICS).await;
    let samples = parse_prometheus(&m);
    let count = |method: &str, result: &str| {
        samples
            .iter()
            .find(|x| {
                x.name == "mymcp_auth_total"
                    && x.labels.get("method").map(String::as_str) == Some(method)
                    && x.labels.get("result").map(String::as_str) == Some(result)
            })
            .map_or(0.0, |x| x.value)
    };
    assert!(count("oauth", "ok") >= 5.0, "{m}");
    assert!(count("oauth", "invalid") >= 10.0, "{m}");
    assert!(count("oauth", "insufficient_scope") >= 1.0, "{m}");
    assert!(count("static", "ok") >= 1.0, "{m}");
    assert!(count("none", "missing") >= 1.0, "{m}");
    let logs = s.stop();
    assert!(logs.success());
}

fn jsonwebtoken_kid(token: &str) -> String {
    let header = token.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn tokens_are_never_written_to_the_logs() {
    let auth = AuthServer::start();
    let l = oauth_layout(&auth.issuer, "MYMCP_LOG_LEVEL=debug");
    let s = Server::start(&l);
    wait_oauth(&s, |o| o["ready"] == true).await;
    let good = auth.token("agent", "mymcp:rw", AUD).await;
    let bad = auth
        .token("agent", "mymcp:rw", "https://other.test/mcp")
        .await;
    assert_eq!(list_with(&s, &good).await.0, 200);
    let (failed, out) = s
        .call(&good, "read_file", json!({"file_path": "/etc/hostname"}))
        .await;
    assert!(!failed, "{out}");
    assert_eq!(list_with(&s, &bad).await.0, 401);
    // The refusal is logged with its reason (this line is the last thing the server says).
    let refusal = wait_for_line(&s, "refused an OAuth access token");
    assert!(refusal.contains("audience"), "{refusal}");
    let mut said = s.stderr_lines();
    said.push(refusal);
    said.push(serde_json::to_string(&l.audit_lines()).unwrap());
    // Signatures are the part no one else can make: neither token's appears anywhere.
    for tok in [&good, &bad] {
        let sig = tok.rsplit('.').next().unwrap();
        assert!(said.iter().all(|x| !x.contains(sig)), "{said:?}");
    }
    assert!(said.iter().any(|x| x.contains("oauth:agent")), "{said:?}");
}

#[tokio::test]
async fn unknown_opaque_tokens_cannot_make_the_server_flood_the_issuer() {
    let auth = AuthServer::start();
    let l = oauth_layout(
        &auth.issuer,
        "MYMCP_OAUTH_CLIENT_ID=mymcp\nMYMCP_OAUTH_CLIENT_SECRET=mymcp-secret",
    );
    let s = Server::start(&l);
    wait_oauth(&s, |o| o["ready"] == true).await;
    // One unknown token is asked about once; asked again, it is refused without a call.
    let before = auth.introspections().await;
    assert_eq!(list_with(&s, &"z".repeat(43)).await.0, 401);
    assert_eq!(auth.introspections().await, before + 1);
    assert_eq!(list_with(&s, &"z".repeat(43)).await.0, 401);
    assert_eq!(auth.introspections().await, before + 1);

    // A flood of made-up tokens: every one refused, and the issuer asked at most 50 times a
    // second (the limit), never once per request.
    let before = auth.introspections().await;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for batch in 0..10 {
        let api = s.api.clone();
        tasks.push(tokio::spawn(async move {
            let mut busy = 0;
            for i in 0..30 {
                let tok = format!("made-up-{batch}-{i}-{}", "q".repeat(30));
                let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
                let r = api.post_mcp(Some(&tok), &body).await;
                assert_eq!(r.status(), 401);
                let challenge = r.headers()["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .to_string();
                busy += usize::from(challenge.contains("too many"));
            }
            busy
        }));
    }
    let mut busy = 0;
    for t in tasks {
        busy += t.await.unwrap();
    }
    let asked = auth.introspections().await - before;
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        asked <= 50 * seconds + 16,
        "{asked} introspections in {seconds} s"
    );
    assert_eq!(asked as usize + busy, 300, "asked {asked}, busy {busy}");

    // A real opaque token still gets in once the second is over.
    let opaque = auth.token("opaque-agent", "mymcp:ro", AUD).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (code, challenge, _) = list_with(&s, &opaque).await;
        if code == 200 {
            break;
        }
        assert!(challenge.contains("too many"), "{challenge}");
        assert!(Instant::now() < deadline, "never let in: {challenge}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn static_tokens_can_be_turned_off() {
    let auth = AuthServer::start();
    let l = oauth_layout(&auth.issuer, "MYMCP_STATIC_TOKENS=false");
    let s = Server::start(&l);
    wait_oauth(&s, |o| o["ready"] == true).await;
    // The admin API still works (it is not a client token), but what it makes is not let in.
    let (static_tok, _) = s.admin_create("legacy", "rw").await;
    let (code, challenge, _) = list_with(&s, &static_tok).await;
    assert_eq!(code, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    let jwt = auth.token("agent", "mymcp:rw", AUD).await;
    assert_eq!(list_with(&s, &jwt).await.0, 200);
}

#[tokio::test]
async fn a_misbehaving_authorization_server_keeps_oauth_closed_and_static_tokens_open() {
    let auth = AuthServer::start();
    for (kind, says) in [
        ("other-issuer", "names issuer"),
        ("garbage", "not the JSON expected"),
    ] {
        let l = oauth_layout(&format!("{}/bad/{kind}", auth.issuer), "");
        let s = Server::start(&l);
        let status = wait_oauth(&s, |o| !o["last_error"].is_null()).await;
        assert_eq!(status["ready"], false, "{status}");
        assert!(
            status["last_error"].as_str().unwrap().contains(says),
            "{kind}: {status}"
        );
        // A token the real issuer made is refused with the reason; static tokens work.
        let tok = auth.token("agent", "mymcp:rw", AUD).await;
        let (code, challenge, body) = list_with(&s, &tok).await;
        assert_eq!(code, 401, "{body}");
        assert!(challenge.contains("not loaded yet"), "{challenge}");
        let (static_tok, _) = s.admin_create("ci", "rw").await;
        assert_eq!(s.tool_names(&static_tok).await.len(), RW_TOOLS);
        let oauth = Doctor::run(&l.root().join("etc"), &[]).check("oauth");
        assert_eq!(oauth["severity"], "fail", "{oauth}");
        assert!(oauth["detail"].as_str().unwrap().contains(says), "{oauth}");
    }
    // A key set that never answers: the server stays responsive meanwhile.
    let l = oauth_layout(&format!("{}/bad/hang", auth.issuer), "");
    let s = Server::start(&l);
    let started = Instant::now();
    let status = health(&s).await;
    assert_eq!(status["oauth"]["ready"], false, "{status}");
    let (static_tok, _) = s.admin_create("ci", "rw").await;
    assert_eq!(s.tool_names(&static_tok).await.len(), RW_TOOLS);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn start_refuses_an_oauth_configuration_that_cannot_be_safe() {
    for (env, says) in [
        (
            "MYMCP_OAUTH_ISSUER=http://sso.example.com\nMYMCP_OAUTH_AUDIENCE=x",
            "must be an https:// URL",
        ),
        (
            "MYMCP_OAUTH_ISSUER=https://sso.example.com",
            "MYMCP_OAUTH_AUDIENCE",
        ),
        (
            "MYMCP_OAUTH_ISSUER=https://sso.example.com\nMYMCP_OAUTH_AUDIENCE=x\nMYMCP_OAUTH_CLIENT_ID=a",
            "MYMCP_OAUTH_CLIENT_SECRET",
        ),
        ("MYMCP_STATIC_TOKENS=false", "no client could ever get in"),
        ("MYMCP_OAUTH_AUDIENCE=x", "MYMCP_OAUTH_ISSUER is not"),
    ] {
        let out = serve_refused(&Layout::new(env));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{env}");
        assert!(err.contains(says), "{env}: {err}");
    }
    // Control: a loopback http issuer and a derived audience are accepted.
    let l = Layout::new(
        "MYMCP_OAUTH_ISSUER=http://127.0.0.1:9\nMYMCP_PUBLIC_BASE_URL=https://h1.example.com",
    );
    let s = Server::start(&l);
    let line = wait_for_line(&s, "oauth:");
    assert!(line.contains("for https://h1.example.com/mcp"), "{line}");
}
