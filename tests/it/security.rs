//! Regression tests for the adversarial review's findings. Each attack runs against the real
//! binary; each test also has a control step showing the attack path itself works (on an
//! unprotected target), so a test cannot pass merely because the path was never exercised.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::{ADMIN, Layout, Server, tool_result};
use serde_json::{Value, json};

async fn with_tokens(extra: &str) -> (Layout, Server, String, String) {
    let l = Layout::new(extra);
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let (rw, _) = s.admin_create("writer", "rw").await;
    (l, s, ro, rw)
}

fn environ_of(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    String::from_utf8_lossy(&raw).replace('\0', "\n")
}

/// A `sleep` child given `MYMCP_ADMIN_TOKEN`, returned once its exec is done: spawn can return
/// before the new program's environment block is in place (it reads as empty until then).
fn sleeper_with_token() -> std::process::Child {
    let child = std::process::Command::new("sleep")
        .arg("60")
        .env("MYMCP_ADMIN_TOKEN", ADMIN)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !environ_of(child.id()).contains("MYMCP_ADMIN_TOKEN=") {
        assert!(Instant::now() < deadline, "sleep did not start");
        std::thread::yield_now();
    }
    child
}

/// Finding 1: the admin token must not be readable through /proc by an ro caller.
#[tokio::test]
async fn ro_cannot_read_server_secrets_through_proc() {
    let l = Layout::new("");
    let env = l.env_file();
    // The token also arrives as a variable, as it did with the old unit's EnvironmentFile=.
    let s = Server::start_with_env(&l, &[("MYMCP_ADMIN_TOKEN", ADMIN)]);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let pid = s.child.id();

    // Control: a process given the same variable shows it in /proc/<pid>/environ.
    let mut sleeper = sleeper_with_token();
    assert!(
        environ_of(sleeper.id()).contains(ADMIN),
        "{}",
        environ_of(sleeper.id())
    );
    // ...and an ro caller can read /proc files of other processes in general.
    let (e, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": format!("/proc/{}/status", sleeper.id())}),
        )
        .await;
    assert!(!e, "{v}");
    assert!(v["content"].as_str().unwrap().contains("sleep"), "{v}");

    // The server blanked its own block: the name stays, the value is gone.
    let own = environ_of(pid);
    assert!(!own.contains(ADMIN), "token still in /proc/{pid}/environ");
    assert!(own.lines().any(|l| l == "MYMCP_ADMIN_TOKEN="), "{own}");

    let paths = [
        "/proc/self/environ".to_string(),
        "/proc/thread-self/environ".to_string(),
        format!("/proc/{pid}/environ"),
        format!("/proc/{pid}/task/{pid}/environ"),
        format!("/proc/{pid}/status"),
        format!("/proc/{pid}/maps"),
        "/proc/self/mem".to_string(),
        format!("/proc/{}/environ", sleeper.id()),
        format!("/proc/{}/maps", sleeper.id()),
        "/proc/kcore".to_string(),
        "/proc/kmsg".to_string(),
        format!("/proc/self/root{}", env.display()),
        format!("/proc/{}/root{}", sleeper.id(), env.display()),
    ];
    for p in paths
        .iter()
        .filter(|p| p.as_str() != "/proc/kcore" || std::path::Path::new(p).exists())
    {
        let (e, v) = s.call(&ro, "read_file", json!({"file_path": p})).await;
        assert!(e, "{p}: {v}");
        assert_eq!(v["error"], "ProtectedPath", "{p}: {v}");
    }
    let (e, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "TOKEN", "path": "/proc/self/environ"}),
        )
        .await;
    assert!(e && v["error"] == "ProtectedPath", "{v}");
    let (e, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "TOKEN", "path": format!("/proc/{pid}")}),
        )
        .await;
    assert!(e && v["error"] == "ProtectedPath", "{v}");
    let (e, v) = s
        .call(
            &ro,
            "prepare_download",
            json!({"src_path": "/proc/self/environ"}),
        )
        .await;
    assert!(e && v["error"] == "ProtectedPath", "{v}");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
}

/// Finding 9: a protected file reached under another name (hard link; bind mount when root)
/// is refused by identity.
#[tokio::test]
async fn protected_files_are_recognised_by_identity() {
    let l = Layout::new("");
    let secret_dir = l.data().join("secret");
    std::fs::create_dir_all(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("key"), "s3cret").unwrap();
    std::fs::write(l.data().join("plain"), "plain").unwrap();
    let solo = l.data().join("solo-secret");
    std::fs::write(&solo, "s3cret").unwrap();
    let env = std::fs::read_to_string(l.env_file()).unwrap();
    std::fs::write(
        l.env_file(),
        format!(
            "{env}MYMCP_PROTECTED_PATHS={},{}\n",
            secret_dir.display(),
            solo.display()
        ),
    )
    .unwrap();
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let other = l.data().join("other");
    std::fs::create_dir_all(&other).unwrap();
    // Control: a hard link to an unprotected file reads fine.
    std::fs::hard_link(l.data().join("plain"), other.join("plain-link")).unwrap();
    let (e, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": other.join("plain-link")}),
        )
        .await;
    assert!(
        !e && v["content"].as_str().unwrap().contains("plain"),
        "{v}"
    );
    // The same trick on a protected file is refused (ro cannot make links; this is about
    // links that already exist).
    std::fs::hard_link(&solo, other.join("key-link")).unwrap();
    let (e, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": other.join("key-link")}),
        )
        .await;
    assert!(e && v["error"] == "ProtectedPath", "{v}");

    // Bind mounts need root; the identity check is the same code path.
    if rustix::process::geteuid().is_root() {
        let bind = l.data().join("bind");
        std::fs::create_dir_all(&bind).unwrap();
        let st = std::process::Command::new("mount")
            .args(["--bind"])
            .arg(&secret_dir)
            .arg(&bind)
            .status();
        if st.is_ok_and(|s| s.success()) {
            let (e, v) = s
                .call(&ro, "read_file", json!({"file_path": bind.join("key")}))
                .await;
            let (ge, gv) = s
                .call(&ro, "grep", json!({"pattern": "s3cret", "path": l.data()}))
                .await;
            let _ = std::process::Command::new("umount").arg(&bind).status();
            assert!(e && v["error"] == "ProtectedPath", "{v}");
            assert!(!ge, "{gv}");
            assert_eq!(gv["match_count"], 0, "{gv}");
        }
    }
}

/// Finding 2: pattern bombs are refused before compiling, and the server stays up.
#[tokio::test]
async fn glob_and_regex_bombs_are_refused() {
    let (l, s, ro, _) = with_tokens("").await;
    std::fs::write(l.data().join("a.txt"), "hello\n").unwrap();
    // Control: nested braces and Unicode classes work at sensible sizes.
    let (e, v) = s
        .call(
            &ro,
            "glob",
            json!({"pattern": "{a,{b,c}}.txt", "path": l.data()}),
        )
        .await;
    assert!(!e && v["count"] == 1, "{v}");
    let (e, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": r"\p{L}+", "path": l.data(), "glob": "{a,{b,c}}.txt"}),
        )
        .await;
    assert!(!e && v["match_count"] == 1, "{v}");

    let bomb = format!("{}a{}", "{".repeat(20_000), "}".repeat(20_000));
    let (e, v) = s
        .call(&ro, "glob", json!({"pattern": bomb, "path": l.data()}))
        .await;
    assert!(e && v["error"] == "InvalidPattern", "{v}");
    let (e, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "x", "path": l.data(), "glob": bomb}),
        )
        .await;
    assert!(e && v["error"] == "InvalidPattern", "{v}");
    for pattern in [r"\p{L}".repeat(100_000), r"\p{L}".repeat(1_600)] {
        let (e, v) = s
            .call(&ro, "grep", json!({"pattern": pattern, "path": l.data()}))
            .await;
        assert!(e && v["error"] == "InvalidRegex", "{v}");
    }
    let r = reqwest::get(s.url("/health")).await.unwrap();
    assert_eq!(r.status(), 200);
}

/// Finding 3: reads of a pseudo-file that waits for events return at once, and the server
/// keeps answering however many of them run.
#[tokio::test]
async fn reads_that_would_block_do_not_freeze_the_server() {
    if std::fs::File::open("/proc/kmsg").is_err() {
        eprintln!("skipped: /proc/kmsg is not readable here");
        return;
    }
    // Control: drained, /proc/kmsg has nothing more, so a blocking read would wait forever.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/proc/kmsg")
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let would_block = (0..100_000).any(
            |_| matches!(f.read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        );
        assert!(would_block, "/proc/kmsg never ran dry");
    }
    let (_l, s, ro, _) = with_tokens("").await;
    let n = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2 + 2;
    let mut calls = Vec::new();
    for _ in 0..n {
        let api = s.api.clone();
        let ro = ro.clone();
        calls.push(tokio::spawn(async move {
            api.call(&ro, "read_file", json!({"file_path": "/proc/kmsg"}))
                .await
        }));
    }
    let all = tokio::time::timeout(Duration::from_secs(20), futures::future::join_all(calls))
        .await
        .expect("reads of /proc/kmsg did not return");
    for r in all {
        let (e, v) = r.unwrap();
        assert!(e, "{v}");
    }
    let health = tokio::time::timeout(Duration::from_secs(5), reqwest::get(s.url("/health")))
        .await
        .expect("/health hung")
        .unwrap();
    assert_eq!(health.status(), 200);
}

fn server_threads(pid: u32) -> u64 {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    st.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Sends a GET for `path` and reads only the status line; the body is never read.
fn get_without_reading(addr: &str, path: &str) -> (TcpStream, u16) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(c, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    c.read_exact(&mut head).unwrap();
    let status = String::from_utf8_lossy(&head[9..12]).parse().unwrap();
    (c, status)
}

/// Finding 4: downloads that are never read cannot pile up threads or stop revocation.
#[tokio::test]
async fn unread_downloads_are_bounded_and_revocation_still_applies() {
    let (l, s, ro, rw) = with_tokens("").await;
    let big = l.data().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let ticket_url = |v: &Value| {
        let url = v["url"].as_str().unwrap();
        url[url.find("/files/").unwrap()..].to_string()
    };
    let (e, v) = s
        .call(&ro, "prepare_download", json!({"src_path": big}))
        .await;
    assert!(!e, "{v}");
    let path = ticket_url(&v);
    // Control: the first GET streams (the attack's held connection is real).
    let (first, status) = get_without_reading(&s.addr, &path);
    assert_eq!(status, 200);
    // More GETs of the same ticket are refused while it streams.
    let mut held = vec![first];
    for _ in 0..20 {
        let (c, status) = get_without_reading(&s.addr, &path);
        assert_eq!(status, 409);
        held.push(c);
    }
    // Fresh tickets: at most MAX_TRANSFERS_PER_TOKEN stream at once for one token.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let (_, v) = s
            .call(&ro, "prepare_download", json!({"src_path": big}))
            .await;
        let (c, status) = get_without_reading(&s.addr, &ticket_url(&v));
        statuses.push(status);
        held.push(c);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        server_threads(s.child.id()) < 64,
        "{}",
        server_threads(s.child.id())
    );

    // Revocation still applies, over the admin API, and tools still answer.
    let (victim, id) = s.admin_create("victim", "rw").await;
    assert!(s.accepted(&victim).await);
    let r = s
        .client
        .delete(s.url(&format!("/admin/tokens/{id}")))
        .bearer_auth(ADMIN)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!s.accepted(&victim).await);
    let (e, v) = s
        .call(&rw, "glob", json!({"pattern": "*.bin", "path": l.data()}))
        .await;
    assert!(!e && v["count"] == 1, "{v}");
    drop(held);
}

/// Finding 10: a ticket dies with the token that minted it.
#[tokio::test]
async fn tickets_die_with_their_token() {
    let (l, s, _, _) = with_tokens("").await;
    std::fs::write(l.data().join("f"), "data").unwrap();
    let (ro, id) = s.admin_create("short-lived", "ro").await;
    let mint = |tok: String| {
        let api = s.api.clone();
        let f = l.data().join("f");
        async move {
            let (_, v) = api
                .call(&tok, "prepare_download", json!({"src_path": f}))
                .await;
            v["url"].as_str().unwrap().to_string()
        }
    };
    // Control: a ticket of a live token downloads.
    let url = mint(ro.clone()).await;
    assert_eq!(
        reqwest::get(&url).await.unwrap().text().await.unwrap(),
        "data"
    );
    let url = mint(ro.clone()).await;
    let r = s
        .client
        .delete(s.url(&format!("/admin/tokens/{id}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status(), 410);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "ticket_revoked");
}

/// Finding 5: a call whose client disconnects still leaves exactly one audit line.
#[tokio::test]
async fn abandoned_calls_are_audited() {
    let (l, s, _, rw) = with_tokens("MYMCP_AUDIT_ENABLED=true").await;
    let marker = l.data().join("started");
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"bash_execute",
        "arguments":{"command": format!("touch {}; sleep 20", marker.display())}}});
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let r = client
        .post(s.url("/mcp"))
        .bearer_auth(&rw)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(body.to_string())
        .send()
        .await;
    assert!(r.is_err(), "the call should have outlived the client");
    // Control: the call really started and did something.
    assert!(marker.exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let lines = l.audit_lines();
        let bash: Vec<&Value> = lines
            .iter()
            .filter(|v| v["tool"] == "bash_execute")
            .collect();
        if let Some(v) = bash.first() {
            assert_eq!(bash.len(), 1, "{bash:?}");
            break (*v).clone();
        }
        assert!(
            Instant::now() < deadline,
            "no audit line for the abandoned call"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(line["result"], "error", "{line}");
    assert_eq!(line["error_code"], "Cancelled", "{line}");
    assert_eq!(line["token_name"], "writer", "{line}");
}

/// Finding 6: no directory is created inside a protected tree through magic links and `..`,
/// planted names cannot stop rotation, and mutating tools fail closed without an audit log.
#[tokio::test]
async fn writes_cannot_plant_in_protected_trees_and_audit_fails_closed() {
    let (l, s, ro, rw) = with_tokens(
        "MYMCP_AUDIT_ENABLED=true\nMYMCP_AUDIT_MAX_BYTES=4000\nMYMCP_AUDIT_BACKUP_COUNT=3",
    )
    .await;
    // The first record creates the directory.
    let _ = s
        .call(&ro, "read_file", json!({"file_path": "/nonexistent"}))
        .await;
    let log_dir = std::fs::canonicalize(l.root().join("log")).unwrap();
    let data = std::fs::canonicalize(l.data()).unwrap();
    let mut other = sleeper_with_token();
    let root_link = format!("/proc/{}/root/..", other.id());
    // Control: through another process's root link and `..`, a write creates what it names.
    let ok_path = format!("{root_link}{}/made/keep/x", data.display());
    let (e, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": ok_path, "content": "x"}),
        )
        .await;
    assert!(!e, "{v}");
    assert!(data.join("made/keep/x").exists());
    // Into the audit directory the same way, or through our own root link: refused, and
    // nothing created.
    for prefix in [root_link.as_str(), "/proc/self/root/.."] {
        let bad = format!("{prefix}{}/audit.log.1/keep/x", log_dir.display());
        let (e, v) = s
            .call(&rw, "write_file", json!({"file_path": bad, "content": "x"}))
            .await;
        assert!(e && v["error"] == "ProtectedPath", "{v}");
        assert!(!log_dir.join("audit.log.1").exists());
    }
    let _ = other.kill();
    let _ = other.wait();

    // Planted (non-empty) directories at the backups' names do not stop auditing.
    for i in 1..=3 {
        std::fs::create_dir_all(log_dir.join(format!("audit.log.{i}/keep"))).unwrap();
    }
    for i in 0..40 {
        let (e, v) = s
            .call(
                &ro,
                "read_file",
                json!({"file_path": format!("/nonexistent/{i}")}),
            )
            .await;
        assert!(e && v["error"] == "FileNotFoundError", "{v}");
    }
    assert!(
        log_dir.join("audit.log.1").is_file(),
        "rotation did not happen"
    );
    let last = l.audit_lines();
    assert!(
        last.iter()
            .any(|v| v["params"]["file_path"] == "/nonexistent/39"),
        "{last:?}"
    );

    // With the log impossible to write, mutating tools refuse to run.
    std::fs::remove_dir_all(&log_dir).unwrap();
    std::fs::write(&log_dir, "not a directory").unwrap();
    let target = data.join("should-not-exist");
    let (e, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": target, "content": "x"}),
        )
        .await;
    assert!(e && v["error"] == "AuditUnavailable", "{v}");
    assert!(!target.exists());
    let (e, v) = s
        .call(&rw, "bash_execute", json!({"command": "true"}))
        .await;
    assert!(e && v["error"] == "AuditUnavailable", "{v}");
}

/// Finding 7: one call cannot write megabytes into the audit log.
#[tokio::test]
async fn audit_values_are_capped() {
    let (l, s, ro, _) = with_tokens("MYMCP_AUDIT_ENABLED=true").await;
    // Control: an ordinary path is logged whole.
    let (_, _) = s
        .call(&ro, "read_file", json!({"file_path": "/nonexistent/short"}))
        .await;
    let long = format!("/{}", "a".repeat(2 << 20));
    let (e, v) = s.call(&ro, "read_file", json!({"file_path": long})).await;
    assert!(e && v["error"] == "InvalidPath", "{v}");
    let (e, _) = s.call(&ro, &"t".repeat(1 << 20), json!({})).await;
    assert!(e);
    let raw = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert!(lines[0].contains("\"/nonexistent/short\""), "{}", lines[0]);
    for line in &lines {
        assert!(line.len() < 8 * 1024, "audit line of {} bytes", line.len());
    }
    assert!(lines[1].contains("sha256:"), "{}", lines[1]);
}

/// Finding 8: a reply is budgeted after JSON escaping.
#[tokio::test]
async fn read_file_reply_is_budgeted_after_escaping() {
    let (l, s, ro, _) = with_tokens("").await;
    let f = l.data().join("nuls");
    let line = [vec![0u8; 30_000], vec![b'\n']].concat();
    std::fs::write(&f, line.repeat(120)).unwrap(); // 3.6 MB of NULs: 25 MB once escaped
    // Control: a few lines come back whole.
    let (e, v) = s
        .call(&ro, "read_file", json!({"file_path": f, "limit": 3}))
        .await;
    assert!(!e, "{v}");
    assert_eq!(v["content"].as_str().unwrap().lines().count(), 3);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"read_file","arguments":{"file_path": f}}});
    let resp = s.post_mcp(Some(&ro), &body).await;
    let bytes = resp.bytes().await.unwrap();
    assert!(bytes.len() <= 17 << 20, "reply of {} bytes", bytes.len());
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let inner: Value = tool_result(&v).1;
    assert_eq!(inner["truncated"], true);
    assert_eq!(inner["total_lines"], 120);
    assert!(
        inner["note"].as_str().unwrap().contains("offset="),
        "{}",
        inner["note"]
    );
}

/// Finding 10: strict Host, setuid bits dropped on replace, no forged log lines.
#[tokio::test]
async fn host_setuid_and_log_injection() {
    let (l, s, _, rw) = with_tokens("").await;
    let port = s.addr.rsplit(':').next().unwrap().to_string();
    let status_for = |host: String| {
        let addr = s.addr.clone();
        move || {
            let mut c = TcpStream::connect(addr).unwrap();
            write!(
                c,
                "GET /mcp HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            let _ = c.read_to_string(&mut out);
            out[9..12].to_string()
        }
    };
    // Control: a well-formed loopback Host passes the check (401: no token).
    assert_eq!(status_for(format!("[::1]:{port}"))(), "401");
    assert_eq!(status_for(format!("[::1]evil:{port}"))(), "403");
    assert_eq!(status_for("[::1]evil".into())(), "403");

    let f = l.data().join("suid");
    std::fs::write(&f, "old").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o4755)).unwrap();
    // Control: the bit is really there before the write.
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o4755
    );
    let (e, v) = s
        .call(&rw, "write_file", json!({"file_path": f, "content": "new"}))
        .await;
    assert!(!e, "{v}");
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o7777,
        0o755
    );

    let forged = "x\n2099-01-01T00:00:00Z  INFO mymcp: FORGED\u{1b}[2J";
    let (e, _) = s.call(&rw, forged, json!({})).await;
    assert!(e);
    let r = reqwest::get(s.url("/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    let lines = s.stderr_lines();
    assert!(
        lines.iter().any(|l| l.contains("FORGED")),
        "the attempt was not logged at all: {lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("2099") || l.contains('\u{1b}')),
        "{lines:?}"
    );
}

/// An upload whose client disconnects mid-body commits nothing, leaves no temp file behind
/// and is audited once.
#[tokio::test]
async fn cut_off_uploads_leave_nothing_and_are_audited() {
    let (l, s, _, rw) = with_tokens("MYMCP_AUDIT_ENABLED=true").await;
    let dir = std::fs::canonicalize(l.data()).unwrap();
    let mint = |name: &str| {
        let api = s.api.clone();
        let rw = rw.clone();
        let dest = dir.join(name);
        async move {
            let (e, v) = api
                .call(&rw, "prepare_upload", json!({"dest_path": dest}))
                .await;
            assert!(!e, "{v}");
            let url = v["url"].as_str().unwrap().to_string();
            url[url.find("/files/").unwrap()..].to_string()
        }
    };
    let send = |path: String, declared: usize, sent: usize| {
        let mut c = TcpStream::connect(&s.addr).unwrap();
        write!(
            c,
            "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {declared}\r\n\r\n"
        )
        .unwrap();
        c.write_all(&vec![b'x'; sent]).unwrap();
        c
    };
    // Control: a complete body lands.
    let mut c = send(mint("whole").await, 1000, 1000);
    let mut reply = String::new();
    c.read_to_string(&mut reply).unwrap_or_default();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert_eq!(std::fs::read(dir.join("whole")).unwrap().len(), 1000);
    // Cut off half way: the connection closes under the handler.
    let c = send(mint("cut").await, 1000, 500);
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    let line = loop {
        let lines = l.audit_lines();
        let ups: Vec<&Value> = lines
            .iter()
            .filter(|v| {
                v["tool"] == "transfer_upload"
                    && v["params"]["path"].as_str().unwrap().ends_with("/cut")
            })
            .collect();
        if let Some(v) = ups.first() {
            assert_eq!(ups.len(), 1, "{ups:?}");
            break (*v).clone();
        }
        assert!(
            Instant::now() < deadline,
            "no audit line for the cut-off upload"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(line["result"], "error", "{line}");
    assert!(!dir.join("cut").exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
