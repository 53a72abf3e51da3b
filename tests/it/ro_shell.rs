//! The confined shell for `ro` callers (`MYMCP_RO_SHELL=true`), against the real kernel's
//! Landlock. Every refusal is paired with a control step: the same action as the same
//! unprivileged user *without* the sandbox (setpriv) succeeds, so what stops it is the
//! sandbox, not file permissions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::{ADMIN, Layout, Server, mymcp_cmd};
use serde_json::{Value, json};

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `sh -c script` as nobody, outside any sandbox.
fn as_nobody(script: &str) -> std::process::Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sh",
            "-c",
            script,
        ])
        .output()
        .unwrap()
}

/// A layout whose files nobody could read if only file permissions stood in the way.
fn open_layout(extra: &str) -> Layout {
    let l = Layout::new(extra);
    let root = l.root();
    chmod(root, 0o755);
    chmod(&root.join("etc"), 0o755);
    chmod(&root.join("data"), 0o755);
    chmod(&l.env_file(), 0o644);
    l
}

#[tokio::test]
async fn ro_shell_is_confined_by_the_kernel() {
    if !is_root() {
        eprintln!("not root: the ro shell switches users; skipped");
        return;
    }
    let l = open_layout("MYMCP_RO_SHELL=true\nMYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("looker", "ro").await;
    let (rw, _) = s.admin_create("doer", "rw").await;
    assert!(
        s.tool_names(&ro)
            .await
            .contains(&"bash_execute".to_string())
    );
    let data = l.data();
    let run = |cmd: String, dir: Option<&Path>| {
        let s = &s;
        let ro = ro.clone();
        let mut args = json!({"command": cmd});
        if let Some(d) = dir {
            args["working_dir"] = json!(d);
        }
        async move {
            let (err, v) = s.call(&ro, "bash_execute", args).await;
            assert!(!err, "{v}");
            v
        }
    };
    let code = |v: &Value| v["exit_code"].as_i64().unwrap();

    // Who and what it can read.
    let v = run("id -u; id -G".into(), None).await;
    assert_eq!(v["stdout"], "65534\n65534\n", "{v}");
    let v = run("cat /etc/hostname".into(), None).await;
    assert_eq!(
        v["stdout"].as_str().unwrap(),
        std::fs::read_to_string("/etc/hostname").unwrap()
    );

    // No writes: /tmp, a mode-1777 directory, its own working directory.
    let shared = data.join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let ctl = shared.join("control");
    assert!(
        as_nobody(&format!("touch {}", ctl.display()))
            .status
            .success(),
        "control: nobody may write there without the sandbox"
    );
    let tmp_target = format!("/tmp/mymcp-ro-test-{}", std::process::id());
    for (cmd, dir, target) in [
        (format!("touch {tmp_target}"), None, tmp_target.clone()),
        (
            format!("touch {}/x", shared.display()),
            None,
            shared.join("x").display().to_string(),
        ),
        (
            "touch here".into(),
            Some(shared.as_path()),
            shared.join("here").display().to_string(),
        ),
        (
            format!("echo x > {}/y", shared.display()),
            None,
            shared.join("y").display().to_string(),
        ),
    ] {
        let v = run(cmd.clone(), dir).await;
        assert_ne!(code(&v), 0, "{cmd}: {v}");
        assert!(!Path::new(&target).exists(), "{cmd} created {target}");
    }

    // Protected files stay hidden even when world-readable.
    let env = l.env_file();
    let control = as_nobody(&format!("cat {}", env.display()));
    assert!(
        String::from_utf8_lossy(&control.stdout).contains(ADMIN),
        "control: the env file is world-readable"
    );
    let root = l.root().display().to_string();
    for cmd in [
        format!("cat {}", env.display()),
        format!("ls -la {root}/etc"),
        format!("find {root} 2>&1"),
        format!("grep -r {ADMIN} {root} 2>&1"),
    ] {
        let v = run(cmd.clone(), None).await;
        let out = format!("{}{}", v["stdout"], v["stderr"]);
        assert!(!out.contains(ADMIN), "{cmd} leaked the admin token: {out}");
        assert!(
            !out.contains("tokens.json\n"),
            "{cmd} listed the token file: {out}"
        );
    }
    let v = run(format!("cat {}", env.display()), None).await;
    assert_ne!(code(&v), 0);

    // no_new_privs: a setuid-root program does not raise privileges.
    let suid = data.join("suid-id");
    std::fs::copy("/usr/bin/id", &suid).unwrap();
    chmod(&suid, 0o4755);
    let control = as_nobody(&format!("{} -u", suid.display()));
    assert_eq!(
        String::from_utf8_lossy(&control.stdout),
        "0\n",
        "control: setuid works"
    );
    let v = run(format!("{} -u", suid.display()), None).await;
    assert_eq!(v["stdout"], "65534\n", "{v}");

    // Signals stay inside the sandbox: the same user's process outside cannot be reached.
    let mut outsider = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    let pid = outsider.id();
    assert!(
        as_nobody(&format!("kill -0 {pid}")).status.success(),
        "control"
    );
    let v = run(format!("kill -0 {pid}"), None).await;
    assert_ne!(code(&v), 0, "{v}");
    let _ = outsider.kill();
    let _ = outsider.wait();

    // Its own temp directory works, and is gone after the call.
    let v = run(
        "echo hi > \"$TMPDIR/f\" && cat \"$TMPDIR/f\" && echo \"$TMPDIR\" && [ \"$HOME\" = \"$TMPDIR\" ]".into(),
        None,
    )
    .await;
    assert_eq!(code(&v), 0, "{v}");
    let out = v["stdout"].as_str().unwrap();
    let dir = out.lines().nth(1).unwrap();
    assert!(
        out.starts_with("hi\n") && dir.contains("mymcp-ro-"),
        "{out}"
    );
    assert!(!Path::new(dir).exists(), "{dir} outlived the call");

    // No listening sockets.
    if Command::new("python3").arg("-V").output().is_ok() {
        let v = run(
            "python3 -c 'import socket; socket.socket().bind((\"127.0.0.1\", 0))'".into(),
            None,
        )
        .await;
        assert_ne!(code(&v), 0, "{v}");
        assert!(
            v["stderr"].as_str().unwrap().contains("PermissionError"),
            "{v}"
        );
    }

    // rw is not confined.
    let mark = data.join("rw-wrote");
    let (err, v) = s
        .call(
            &rw,
            "bash_execute",
            json!({"command": format!("touch {}", mark.display())}),
        )
        .await;
    assert!(!err && v["exit_code"] == 0, "{v}");
    assert!(mark.exists());

    // Nothing a confined command starts outlives its call: no background jobs, no detaching,
    // and nothing runs (control: the same command ran for rw just above).
    let late = data.join("ro-job");
    for extra in [json!({"background": true}), json!({"detach_after": 1})] {
        let mut args = json!({"command": format!("touch {}", late.display())});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (err, v) = s.call(&ro, "bash_execute", args).await;
        assert!(err && v["error"] == "InvalidArguments", "{extra}: {v}");
    }
    assert!(!late.exists());

    // The audit says which calls were confined.
    let text = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|x| serde_json::from_str(x).unwrap())
        .filter(|x: &Value| x["tool"] == "bash_execute")
        .collect();
    assert!(lines.iter().any(|x| x["role"] == "ro"));
    for x in &lines {
        assert_eq!(x["confined"] == true, x["role"] == "ro", "{x}");
    }
}

#[tokio::test]
async fn without_the_ro_shell_ro_gets_no_bash() {
    let l = Layout::new("");
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("looker", "ro").await;
    assert!(
        !s.tool_names(&ro)
            .await
            .contains(&"bash_execute".to_string())
    );
    let (err, v) = s.call(&ro, "bash_execute", json!({"command": "id"})).await;
    assert!(err && v["error"] == "PermissionDenied", "{v}");
}

#[test]
fn ro_shell_refuses_to_start_with_an_unknown_user_or_group() {
    if !is_root() {
        return;
    }
    for (extra, want) in [
        ("MYMCP_RO_SHELL_USER=no-such-user-here", "no such user"),
        ("MYMCP_RO_SHELL_GROUPS=no-such-group-here", "no such group"),
    ] {
        let l = Layout::new(&format!("MYMCP_RO_SHELL=true\n{extra}"));
        let out = mymcp_cmd()
            .args(["serve", "--env-file"])
            .arg(l.env_file())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("MYMCP_RO_SHELL") && err.contains(want),
            "{err}"
        );
    }
}

/// doctor reports the kernel's Landlock ABI and the policy.
#[test]
fn doctor_reports_the_ro_shell() {
    if !is_root() {
        return;
    }
    let l = Layout::new("MYMCP_RO_SHELL=true\nMYMCP_RO_SHELL_GROUPS=adm");
    let d = crate::common::Doctor::run(&l.root().join("etc"), &[]);
    let c = d.check("ro shell");
    assert_eq!(c["severity"], "ok", "{c}");
    let detail = c["detail"].as_str().unwrap();
    assert!(
        detail.contains("Landlock ABI")
            && detail.contains("runs as nobody")
            && detail.contains("adm"),
        "{detail}"
    );
}
