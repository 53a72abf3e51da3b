//! What an operator meets at start and while running: refused placeholder tokens, warnings
//! for unknown settings and a readable env file, env-file syntax as written by shells and by
//! `mymcp config example`, temp mode next to an unrelated `.env`, and token rotation.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::common::{ADMIN, Doctor, Layout, Server, mymcp_cmd, serve_refused, wait_for_line};

#[test]
fn placeholder_and_short_admin_tokens_are_refused_until_rotated() {
    for (bad, why) in [
        (
            "<generate-with-mymcp-token-rotate-admin>",
            "is a placeholder",
        ),
        ("tok_short", "is shorter than 32 characters"),
    ] {
        let l = Layout::new(&format!("MYMCP_ADMIN_TOKEN={bad}"));
        let before = std::fs::read(l.env_file()).unwrap();
        let out = serve_refused(&l);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(&format!("MYMCP_ADMIN_TOKEN {why}")), "{err}");
        assert!(err.contains("mymcp token rotate-admin --env-file"), "{err}");
        assert_eq!(
            std::fs::read(l.env_file()).unwrap(),
            before,
            "env file touched"
        );
        // The remedy the message names works, and then the server starts.
        let rotated = l.cli(&["token", "rotate-admin"]);
        assert!(rotated.status.success(), "{rotated:?}");
        let s = Server::start(&l);
        assert!(s.stop().success());
    }
}

#[test]
fn unknown_settings_are_named_with_the_nearest_known_one() {
    let l = Layout::new("MYMCP_PROT=18770");
    let s = Server::start(&l);
    let lines = s.stderr_lines().join("\n");
    assert!(
        lines.contains("unknown setting MYMCP_PROT is ignored (did you mean MYMCP_PORT?)"),
        "{lines}"
    );
}

#[test]
fn a_readable_env_file_is_warned_about() {
    let l = Layout::new("");
    std::fs::set_permissions(l.env_file(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = Server::start(&l);
    let lines = s.stderr_lines().join("\n");
    assert!(lines.contains("is mode 0644"), "{lines}");
    drop(s);
    // Control: the same layout at 0600 starts without it.
    std::fs::set_permissions(l.env_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = Server::start(&l);
    let lines = s.stderr_lines().join("\n");
    assert!(!lines.contains("is mode"), "{lines}");
}

#[test]
fn every_line_of_the_config_example_works_uncommented() {
    let out = mymcp_cmd().args(["config", "example"]).output().unwrap();
    assert!(out.status.success());
    let example = String::from_utf8(out.stdout).unwrap();
    let mut text = String::new();
    let mut uncommented = 0;
    for line in example.lines() {
        match line.strip_prefix("# ").filter(|l| l.starts_with("MYMCP_")) {
            Some(setting) => {
                uncommented += 1;
                text.push_str(setting);
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    assert!(uncommented > 30, "{uncommented}");
    // What a real host would fill in: a token, writable places and a certificate (later lines
    // win).
    let l = Layout::new("");
    let root = l.root();
    let pair = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(root.join("cert.pem"), pair.cert.pem()).unwrap();
    std::fs::write(root.join("key.pem"), pair.signing_key.serialize_pem()).unwrap();
    std::fs::set_permissions(root.join("key.pem"), std::fs::Permissions::from_mode(0o600)).unwrap();
    text.push_str(&format!(
        "MYMCP_ADMIN_TOKEN={ADMIN}\nMYMCP_PORT=0\nMYMCP_TOKEN_FILE={}\nMYMCP_AUDIT_LOG_DIR={}\nMYMCP_RECORDER_DATA_DIR={}\nMYMCP_TLS_CERT={}\nMYMCP_TLS_KEY={}\n",
        root.join("etc/tokens.json").display(),
        root.join("log").display(),
        root.join("recorder").display(),
        root.join("cert.pem").display(),
        root.join("key.pem").display(),
    ));
    std::fs::write(l.env_file(), &text).unwrap();
    std::fs::set_permissions(l.env_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let s = Server::start(&l);
    let lines = s.stderr_lines().join("\n");
    assert!(!lines.contains("unknown setting"), "{lines}");
    assert!(lines.contains("[mymcp] https: certificate"), "{lines}");
    assert!(s.stop().success());
    // The recorder reads the same file (its values, comments stripped, must all parse).
    let rec = mymcp_cmd()
        .args(["recorder", "--once", "--env-file"])
        .arg(l.env_file())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&rec.stderr);
    assert!(rec.status.success(), "{err}");
    assert!(err.contains("disabled"), "{err}");
}

#[test]
fn temp_mode_ignores_an_unrelated_dot_env() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join(".env"),
        "DATABASE_URL=postgres://app@db/app\n",
    )
    .unwrap();
    let s = Server::spawn(&["--port", "0"], d.path(), &[]);
    let lines = s.stderr_lines().join("\n");
    assert!(lines.contains("temp admin token:"), "{lines}");
    drop(s);
    // Control: a `.env` that configures mymcp is still found and used.
    std::fs::write(
        d.path().join(".env"),
        format!(
            "MYMCP_ADMIN_TOKEN={ADMIN}\nMYMCP_HOST=127.0.0.1\nMYMCP_TOKEN_FILE={}\n",
            d.path().join("tokens.json").display()
        ),
    )
    .unwrap();
    let s = Server::spawn(&["--port", "0"], d.path(), &[]);
    let lines = s.stderr_lines().join("\n");
    assert!(!lines.contains("temp admin token:"), "{lines}");
}

#[tokio::test]
async fn a_rotated_admin_token_applies_or_the_log_says_why_not() {
    // From the file alone: rotation applies and the log names the variable.
    let l = Layout::new("");
    let s = Server::start(&l);
    let out = l.cli(&["token", "rotate-admin"]);
    assert!(out.status.success());
    let new = String::from_utf8(out.stdout).unwrap().trim().to_string();
    wait_for_line(&s, "MYMCP_ADMIN_TOKEN reloaded");
    let r = s
        .client
        .get(s.url("/admin/tokens"))
        .bearer_auth(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(s);
    // Shadowed by the process environment: the old token stays, and the log says so instead
    // of claiming a reload.
    let l = Layout::new("");
    let s = Server::start_with_env(&l, &[("MYMCP_ADMIN_TOKEN", ADMIN)]);
    assert!(l.cli(&["token", "rotate-admin"]).status.success());
    let line = wait_for_line(&s, "MYMCP_ADMIN_TOKEN changed in the env file");
    assert!(line.contains("process environment"), "{line}");
    let r = s
        .client
        .get(s.url("/admin/tokens"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let lines = s.stderr_lines().join("\n");
    assert!(!lines.contains("MYMCP_ADMIN_TOKEN reloaded"), "{lines}");
}

#[tokio::test]
async fn token_names_are_unique_and_listed_with_their_dates() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (_, id) = s.admin_create("laptop", "ro").await;
    // Admin API: a second "laptop" (any role) is a conflict.
    let r = s
        .client
        .post(s.url("/admin/tokens"))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({"name": "laptop", "role": "rw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("already exists") && body.contains(&id),
        "{body}"
    );
    // CLI: the same refusal, and the file still holds one "laptop".
    let out = l.cli(&["token", "add", "--role", "rw", "laptop"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already exists"), "{err}");
    let file = std::fs::read_to_string(l.token_file()).unwrap();
    assert_eq!(file.matches("\"laptop\"").count(), 1, "{file}");
    // Control: another name is fine, and `token list` shows when each was made and used.
    assert!(
        l.cli(&["token", "add", "--role", "rw", "desktop"])
            .status
            .success()
    );
    let list = String::from_utf8(l.cli(&["token", "list"]).stdout).unwrap();
    let laptop = list.lines().find(|x| x.contains("laptop")).unwrap();
    assert!(
        laptop.contains("created 20") && laptop.contains("last used"),
        "{list}"
    );
}

#[test]
fn doctor_without_systemd_or_server_says_how_to_start_it_and_flags_a_placeholder() {
    if std::path::Path::new("/run/systemd/system").is_dir() {
        eprintln!("systemd is running here: the no-systemd advice is not what doctor gives");
        return;
    }
    let l = Layout::new("MYMCP_ADMIN_TOKEN=<generate-with-mymcp-token-rotate-admin>\nMYMCP_PROT=1");
    let doctor = Doctor::run(&l.root().join("etc"), &[]);
    let health = doctor.check("health");
    assert_eq!(health["severity"], "fail");
    let remedy = health["remedy"].as_str().unwrap();
    assert!(
        remedy.contains("mymcp serve --env-file") && !remedy.contains("systemctl"),
        "{remedy}"
    );
    let admin = doctor.check("admin token");
    assert_eq!(admin["severity"], "fail", "{admin}");
    assert!(
        admin["detail"].as_str().unwrap().contains("placeholder"),
        "{admin}"
    );
    let names = doctor.check("setting names");
    assert_eq!(names["severity"], "warn");
    assert!(
        names["detail"]
            .as_str()
            .unwrap()
            .contains("did you mean MYMCP_PORT?"),
        "{names}"
    );
}

#[test]
fn token_add_without_any_configuration_refuses_and_writes_nothing() {
    if std::path::Path::new("/etc/mymcp").exists() {
        eprintln!("/etc/mymcp exists here: this test needs a host without mymcp configured");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = mymcp_cmd()
        .args(["token", "add", "--role", "rw", "laptop"])
        .current_dir(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no mymcp configuration found"), "{err}");
    assert!(!std::path::Path::new("/etc/mymcp").exists());
    // Control: naming the token file is enough, and the message says where it went.
    let tf = d.path().join("tokens.json");
    let out = mymcp_cmd()
        .args(["token", "add", "--role", "rw", "laptop"])
        .env("MYMCP_TOKEN_FILE", &tf)
        .current_dir(d.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&tf.display().to_string()), "{err}");
    assert!(tf.is_file());
}

/// With the service running as an unprivileged user, `sudo mymcp token add` and
/// `token rotate-admin` keep the files' owner, so the running server picks the change up;
/// a file it cannot read is logged and counted, not silently ignored.
#[tokio::test]
async fn root_cli_keeps_the_service_users_files_readable() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: skipped");
        return;
    }
    const METRICS: &str = "tok_metrics_for_tests_000000000000";
    let l = Layout::new(&format!("MYMCP_METRICS_TOKEN={METRICS}"));
    let root = l.root();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for p in [root.join("etc"), root.join("data")] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(l.env_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::chown(l.env_file(), Some(65534), Some(65534)).unwrap();
    // The service user makes its own token file at start.
    let env = l.env_file();
    let s = Server::spawn_as_nobody(&["--env-file", env.to_str().unwrap()], &root.join("data"));
    let owner = |p: &std::path::Path| {
        let m = std::fs::metadata(p).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o777)
    };
    assert_eq!(owner(&l.token_file()), (65534, 65534, 0o600));

    // Root adds a token: the file keeps its owner and the running server accepts the token.
    let out = l.cli(&["token", "add", "--role", "ro", "laptop"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find(|w| w.starts_with("tok_"))
        .unwrap()
        .to_string();
    assert_eq!(owner(&l.token_file()), (65534, 65534, 0o600));
    assert!(
        s.wait_accepted(&token, true, std::time::Duration::from_secs(5))
            .await
    );
    // rotate-admin keeps the env file's owner too.
    let out = l.cli(&["token", "rotate-admin"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(owner(&env), (65534, 65534, 0o600));

    // Control: a root-owned 0600 replacement (what an atomic replace did before) is one the
    // service cannot read: it keeps the old tokens, logs why and counts it.
    let text = std::fs::read_to_string(l.token_file()).unwrap();
    std::fs::remove_file(l.token_file()).unwrap();
    std::fs::write(l.token_file(), text).unwrap();
    std::fs::set_permissions(l.token_file(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let counted = async {
        for _ in 0..50 {
            let body = s.metrics(METRICS).await;
            if body.contains("mymcp_token_file_load_failures_total 1") {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        false
    };
    assert!(counted.await, "the unreadable token file was not counted");
    let logged = s
        .stderr_lines()
        .into_iter()
        .any(|x| x.contains("could not be loaded") && x.contains("chown"));
    assert!(logged, "no log line saying what to do");
    assert!(s.accepted(&token).await, "previous tokens were kept");
}

#[test]
fn doctor_warns_when_the_recorder_has_no_audit_log_to_fold() {
    let l = Layout::new("MYMCP_RECORDER_ENABLED=true\nMYMCP_AUDIT_ENABLED=false");
    let d = Doctor::run(&l.root().join("etc"), &[]);
    let c = d.check("audit source");
    assert_eq!(c["severity"], "warn", "{c}");
    // Control: with the audit log on there is nothing to say.
    let l = Layout::new("MYMCP_RECORDER_ENABLED=true\nMYMCP_AUDIT_ENABLED=true");
    let d = Doctor::run(&l.root().join("etc"), &[]);
    assert!(d.checks.iter().all(|c| c["name"] != "audit source"));
}
