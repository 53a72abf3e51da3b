//! `init`, `uninstall-service`, `doctor` and the systemd readiness protocol, against the real
//! binary. systemd itself is not running here: the `--files-only` paths, the refusals and the
//! notify socket are what can be observed (the packaging check boots a real systemd).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use crate::common::{BIN, Doctor, Server, mymcp_cmd};
use serde_json::{Value, json};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

struct Dirs {
    _t: tempfile::TempDir,
    cfg: std::path::PathBuf,
    log: std::path::PathBuf,
    rec: std::path::PathBuf,
    unit: std::path::PathBuf,
}

fn dirs() -> Dirs {
    let t = tempfile::tempdir().unwrap();
    let r = t.path().to_path_buf();
    Dirs {
        cfg: r.join("etc/mymcp"),
        log: r.join("log/mymcp"),
        rec: r.join("lib/mymcp/recorder"),
        unit: r.join("units"),
        _t: t,
    }
}

/// `mymcp <args…>` pointed at the scratch directories, stdin closed.
fn with_dirs(args: &[&str], d: &Dirs, extra: &[&str]) -> Output {
    mymcp_cmd()
        .args(args)
        .arg("--config-dir")
        .arg(&d.cfg)
        .arg("--log-dir")
        .arg(&d.log)
        .arg("--recorder-data-dir")
        .arg(&d.rec)
        .arg("--unit-dir")
        .arg(&d.unit)
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn init(d: &Dirs, extra: &[&str]) -> Output {
    with_dirs(&["init"], d, extra)
}

fn uninstall(d: &Dirs, extra: &[&str]) -> Output {
    with_dirs(&["uninstall-service", "--files-only", "--yes"], d, extra)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn printed_token(out: &str) -> String {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("client token: "))
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no client token in:\n{out}"))
        .to_string()
}

fn env_value(file: &Path, key: &str) -> String {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test]
async fn init_files_only_gives_a_working_server_and_doctor_passes() {
    let d = dirs();
    let out = init(&d, &["--files-only", "--yes", "--port", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let token = printed_token(&text);
    assert!(
        text.contains(&format!(
            "claude mcp add --transport http mymcp http://127.0.0.1:0/mcp --header \"Authorization: Bearer {token}\""
        )),
        "{text}"
    );

    let env = d.cfg.join(".env");
    assert_eq!(mode(&env), 0o600);
    assert_eq!(mode(&d.cfg.join("tokens.json")), 0o600);
    for dir in [&d.cfg, &d.log, &d.rec] {
        assert_eq!(mode(dir), 0o750, "{}", dir.display());
    }
    assert_eq!(env_value(&env, "MYMCP_HOST"), "127.0.0.1");
    assert_eq!(env_value(&env, "MYMCP_AUDIT_ENABLED"), "true");
    let admin = env_value(&env, "MYMCP_ADMIN_TOKEN");
    assert!(admin.starts_with("tok_") && admin.len() > 30, "{admin}");
    assert!(!env_value(&env, "MYMCP_METRICS_TOKEN").is_empty());

    let unit = std::fs::read_to_string(d.unit.join("mymcp.service")).unwrap();
    assert!(unit.starts_with("# Written by `mymcp init`"), "{unit}");
    let exe = std::fs::canonicalize(BIN).unwrap();
    for want in [
        "Type=notify".to_string(),
        "User=root".to_string(),
        format!(
            "ExecStart={} serve --env-file {}",
            exe.display(),
            env.display()
        ),
    ] {
        assert!(
            unit.lines().any(|l| l == want),
            "missing {want:?} in\n{unit}"
        );
    }
    // Secrets stay out of the process environment (/proc/<pid>/environ): the server reads
    // the env file itself.
    assert!(!unit.contains("EnvironmentFile"), "{unit}");
    // Directories outside /var/log and /var/lib are made by init, not by systemd.
    assert!(!unit.contains("LogsDirectory"), "{unit}");

    let env_s = env.to_str().unwrap();
    let srv = Server::spawn(&["--env-file", env_s], d.cfg.parent().unwrap(), &[]);
    let names = srv.tool_names(&token).await;
    assert_eq!(names.len(), crate::common::RW_TOOLS, "{names:?}");

    // Running init again keeps the admin token and adds a second client token.
    let again = init(
        &d,
        &[
            "--files-only",
            "--yes",
            "--client-name",
            "second",
            "--client-role",
            "ro",
        ],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(env_value(&env, "MYMCP_ADMIN_TOKEN"), admin);
    let second = printed_token(&stdout(&again));
    assert_ne!(second, token);
    assert!(
        srv.wait_accepted(&second, true, Duration::from_secs(5))
            .await
    );
    assert_eq!(srv.tool_names(&second).await.len(), 5);
    // A third run with the first run's (default) client name keeps that token: no new one is
    // minted, and the summary says so (doctor below still counts 2).
    let third = init(&d, &["--files-only", "--yes", "--port", "0"]);
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(
        stdout(&third).contains("already exists, kept"),
        "{}",
        stdout(&third)
    );
    assert_eq!(srv.tool_names(&token).await.len(), crate::common::RW_TOOLS);

    // doctor talks to the running server: real tools/list through a probe token it revokes.
    let port = srv.addr.rsplit(':').next().unwrap().to_string();
    let doctor = Doctor::run(&d.cfg, &[("MYMCP_PORT", &port)]);
    let checks = &doctor.checks;
    let doc = &doctor.out;
    let find = |name: &str| doctor.check(name);
    assert_eq!(find("tools/list")["severity"], "ok", "{checks:?}");
    assert_eq!(find("env file mode")["severity"], "ok");
    assert_eq!(find("client tokens")["detail"], "2 enabled");
    assert!(
        checks.iter().all(|c| c["severity"] != "fail"),
        "{checks:#?}"
    );
    assert_eq!(doc.status.code(), Some(0), "{}", stdout(doc));
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(d.cfg.join("tokens.json")).unwrap()).unwrap();
    assert_eq!(
        stored["tokens"].as_object().unwrap().len(),
        2,
        "probe token left behind: {stored}"
    );

    // A world-readable env file is a failure, and --strict turns warnings into exit 1.
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o644)).unwrap();
    let doc = mymcp_cmd()
        .args(["doctor", "--config-dir"])
        .arg(&d.cfg)
        .env("MYMCP_PORT", &port)
        .output()
        .unwrap();
    assert_eq!(doc.status.code(), Some(1));
    assert!(stdout(&doc).contains("chmod 600"), "{}", stdout(&doc));
    drop(srv);

    // uninstall --files-only keeps config unless --purge; the unit goes.
    let un = uninstall(&d, &[]);
    assert!(un.status.success(), "{}", stderr(&un));
    assert!(!d.unit.join("mymcp.service").exists());
    assert!(env.exists());
    let un = uninstall(&d, &["--purge"]);
    assert!(un.status.success(), "{}", stderr(&un));
    for dir in [&d.cfg, &d.log, &d.rec] {
        assert!(!dir.exists(), "{} survived --purge", dir.display());
    }
}

#[test]
fn init_refuses_clearly_and_changes_nothing() {
    let d = dirs();
    // No terminal and no --yes.
    let out = init(&d, &["--files-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("pass --yes"), "{}", stderr(&out));
    assert!(!d.cfg.exists());
    // Dry run prints the plan only.
    let out = init(&d, &["--dry-run"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("would") || stdout(&out).contains("Would"));
    assert!(!d.cfg.exists());
    // Without --files-only: systemd is not PID 1 on this machine (or we are not root).
    if !Path::new("/run/systemd/system").is_dir() {
        let out = init(&d, &["--yes"]);
        assert_eq!(out.status.code(), Some(1));
        let e = stderr(&out);
        assert!(
            e.contains("--files-only") && (e.contains("systemd") || e.contains("root")),
            "{e}"
        );
        assert!(!d.cfg.exists());
    }
    // A path systemd cannot carry, in a unit that was asked for.
    let out = mymcp_cmd()
        .args([
            "init",
            "--files-only",
            "--yes",
            "--config-dir",
            "/tmp/has space",
            "--unit-dir",
            "/tmp/mymcp-units-never-written",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("whitespace"), "{}", stderr(&out));
}

#[test]
fn init_as_non_root_refuses_to_touch_systemd() {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let d = dirs();
    // setpriv (util-linux) drops to nobody for one command.
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            BIN,
        ])
        .args(["init", "--yes", "--config-dir"])
        .arg(&d.cfg)
        .output();
    let Ok(out) = out else { return };
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("run it as root"), "{}", stderr(&out));
}

#[test]
fn uninstall_refuses_to_purge_shared_directories() {
    let out = mymcp_cmd()
        .args([
            "uninstall-service",
            "--files-only",
            "--yes",
            "--purge",
            "--config-dir",
            "/etc",
            "--unit-dir",
            "/nonexistent",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refusing to delete /etc"),
        "{}",
        stderr(&out)
    );
    assert!(Path::new("/etc/passwd").exists());
}

#[test]
fn doctor_on_an_empty_host_fails_with_remedies() {
    let t = tempfile::tempdir().unwrap();
    let out = mymcp_cmd()
        .args(["doctor", "--json", "--config-dir"])
        .arg(t.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let env = checks.iter().find(|c| c["name"] == "env file").unwrap();
    assert_eq!(env["severity"], "fail");
    assert_eq!(env["group"], "CONFIG");
    assert!(env["remedy"].as_str().unwrap().contains("mymcp init"));
    for c in &checks {
        for k in ["group", "name", "severity", "detail", "remedy"] {
            assert!(c.get(k).is_some(), "{c}");
        }
    }
}

/// `Type=notify`: READY=1 once listening, WATCHDOG=1 pings, STOPPING=1 on SIGTERM; the
/// notify socket is not passed on to shells.
#[tokio::test]
async fn systemd_notify_readiness_watchdog_and_stopping() {
    let l = crate::common::Layout::new("");
    let sock_path = l.root().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let env = l.env_file();
    let srv = Server::spawn(
        &["--env-file", env.to_str().unwrap()],
        l.root(),
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let mut buf = [0u8; 512];
    let recv = |buf: &mut [u8]| {
        let n = sock.recv(buf).expect("no notification within 10 s");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv(&mut buf);
    assert!(first.lines().any(|l| l == "READY=1"), "{first}");
    assert!(
        first.contains(&format!("STATUS=serving on {}", srv.addr)),
        "{first}"
    );
    let ping = recv(&mut buf);
    assert_eq!(ping.trim(), "WATCHDOG=1");

    let (rw, _) = srv.admin_create("n", "rw").await;
    let (err, v) = srv
        .call(
            &rw,
            "bash_execute",
            json!({"command": "echo ${NOTIFY_SOCKET:-none} ${WATCHDOG_USEC:-none}"}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["stdout"], "none none\n");

    let status = srv.stop();
    assert!(status.success());
    let mut saw_stopping = false;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        if String::from_utf8_lossy(&buf[..n]).contains("STOPPING=1") {
            saw_stopping = true;
            break;
        }
    }
    assert!(saw_stopping);
}

/// Every file below `root`, relative.
fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p.clone());
            }
            out.push(p.strip_prefix(root).unwrap().display().to_string());
        }
    }
    out.sort();
    out
}

/// `--files-only --config-dir X` works without root or systemd: everything it plans and writes
/// is under X, and no unit is written unless `--unit-dir` asks for one.
#[test]
fn init_files_only_keeps_everything_under_the_config_dir() {
    let t = tempfile::tempdir().unwrap();
    let cfg = t.path().join("cfg");
    let run = |extra: &[&str]| {
        mymcp_cmd()
            .args(["init", "--files-only", "--port", "0", "--config-dir"])
            .arg(&cfg)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let plan = run(&["--dry-run"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    let text = stdout(&plan);
    let steps: Vec<&str> = text.lines().filter(|l| l.starts_with("  - ")).collect();
    assert!(steps.len() >= 4, "{text}");
    for s in &steps {
        assert!(
            !s.contains("/var/") && !s.contains("/etc/") && !s.contains("systemctl"),
            "a --files-only plan reaches outside {}: {s}",
            cfg.display()
        );
    }
    assert!(
        text.contains(&cfg.join("log").display().to_string()),
        "{text}"
    );
    assert!(!text.contains("would refuse"), "{text}");
    assert!(!cfg.exists(), "dry run wrote something");

    let out = run(&["--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = cfg.join(".env");
    assert_eq!(
        env_value(&env, "MYMCP_AUDIT_LOG_DIR"),
        cfg.join("log").display().to_string()
    );
    assert_eq!(
        env_value(&env, "MYMCP_RECORDER_DATA_DIR"),
        cfg.join("recorder").display().to_string()
    );
    assert_eq!(
        tree(t.path()),
        [
            "cfg",
            "cfg/.env",
            "cfg/log",
            "cfg/recorder",
            "cfg/tokens.json",
            "cfg/tokens.json.lock"
        ]
    );
    assert!(stdout(&out).contains("Start it: mymcp serve --env-file"));

    // As an unprivileged user, in a directory it owns (the promise of --files-only).
    if rustix::process::geteuid().is_root() {
        let own = t.path().join("nobody");
        std::fs::create_dir(&own).unwrap();
        rustix::fs::chown(
            &own,
            Some(rustix::fs::Uid::from_raw(65534)),
            Some(rustix::fs::Gid::from_raw(65534)),
        )
        .unwrap();
        std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let as_nobody = |dir: &Path, extra: &[&str]| {
            std::process::Command::new("setpriv")
                .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
                .args(["init", "--files-only", "--config-dir"])
                .arg(dir)
                .args(extra)
                .stdin(Stdio::null())
                .output()
                .unwrap()
        };
        let out = as_nobody(&own.join("cfg"), &["--yes"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(own.join("cfg/.env").is_file());
        // Control: a directory it may not write is refused up front, the dry run says so, and
        // nothing is created.
        let locked = t.path().join("locked/cfg");
        let dry = as_nobody(&locked, &["--dry-run"]);
        assert!(dry.status.success(), "{}", stderr(&dry));
        assert!(
            stdout(&dry).contains("the real run would refuse")
                && stdout(&dry).contains("not writable"),
            "{}",
            stdout(&dry)
        );
        let out = as_nobody(&locked, &["--yes"]);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(stderr(&out).contains("not writable"), "{}", stderr(&out));
        assert!(!t.path().join("locked").exists());
    }
}

/// `--dry-run` of a run that would be refused (no systemd, or not root) says so.
#[test]
fn init_dry_run_says_when_the_real_run_would_refuse() {
    let d = dirs();
    let out = init(&d, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let refused =
        !Path::new("/run/systemd/system").is_dir() || !rustix::process::geteuid().is_root();
    assert_eq!(
        text.contains("the real run would refuse"),
        refused,
        "{text}"
    );
    if refused {
        assert!(text.contains("--files-only"), "{text}");
    }
    // Control: the same plan with --files-only into writable scratch directories is fine.
    let out = init(&d, &["--dry-run", "--files-only"]);
    assert!(!stdout(&out).contains("would refuse"), "{}", stdout(&out));
    assert!(!d.cfg.exists());
}

#[test]
fn uninstall_dry_run_lists_the_steps_and_changes_nothing() {
    let d = dirs();
    assert!(init(&d, &["--files-only", "--yes"]).status.success());
    let unit = d.unit.join("mymcp.service");
    assert!(unit.is_file());
    let dry = uninstall(&d, &["--purge", "--dry-run"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let text = stdout(&dry);
    assert!(text.contains("--dry-run: nothing is changed"), "{text}");
    assert!(
        text.contains(&format!("delete {}", unit.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!("delete {} and everything in it", d.cfg.display())),
        "{text}"
    );
    for p in [&unit, &d.cfg, &d.log, &d.rec] {
        assert!(p.exists(), "{} removed by a dry run", p.display());
    }
    // Control: the same command without --dry-run does what the dry run listed.
    assert!(uninstall(&d, &["--purge"]).status.success());
    for p in [&unit, &d.cfg, &d.log, &d.rec] {
        assert!(!p.exists(), "{} survived", p.display());
    }
}

/// doctor finds the `mymcp serve` that uses the env file and talks to the port it really
/// listens on, saying when that is not the file's.
#[tokio::test]
async fn doctor_probes_the_running_servers_port_and_takes_an_env_file() {
    let l = crate::common::Layout::new("");
    let env = l.env_file();
    // The file says port 1 (nothing listens there); the server was started with --port 0.
    let text = std::fs::read_to_string(&env)
        .unwrap()
        .replace("MYMCP_PORT=0", "MYMCP_PORT=1");
    std::fs::write(&env, text).unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(
        std::net::TcpStream::connect("127.0.0.1:1").is_err(),
        "control: the file's port must not answer"
    );
    let srv = Server::spawn(
        &["--env-file", env.to_str().unwrap(), "--port", "0"],
        l.root(),
        &[],
    );
    let (_, _) = srv.admin_create("client", "ro").await;
    let out = mymcp_cmd()
        .args(["doctor", "--json", "--env-file"])
        .arg(&env)
        .output()
        .unwrap();
    let checks: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let find = |n: &str| {
        checks
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("no {n} in {checks:#?}"))
            .clone()
    };
    let proc_check = find("server process");
    assert_eq!(proc_check["severity"], "warn", "{proc_check}");
    let detail = proc_check["detail"].as_str().unwrap();
    assert!(
        detail.contains(&srv.addr) && detail.contains("says port 1"),
        "{detail}"
    );
    assert!(proc_check["remedy"].as_str().unwrap().contains("restart"));
    assert_eq!(find("health")["severity"], "ok", "{checks:#?}");
    assert_eq!(find("tools/list")["severity"], "ok", "{checks:#?}");
    assert_eq!(find("env file mode")["severity"], "ok");
}
