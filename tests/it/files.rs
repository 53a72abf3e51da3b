//! write_file and edit_file over real HTTP: atomic replacement, mode and owner kept, bytes
//! kept, protected paths in every spelling.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::common::{Layout, Server, redact};
use serde_json::{Value, json};

async fn setup() -> (Layout, Server, String) {
    let l = Layout::new("MYMCP_WRITE_FILE_MAX_BYTES=1000\nMYMCP_EDIT_STRING_MAX_BYTES=100");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("writer", "rw").await;
    (l, s, rw)
}

#[tokio::test]
async fn write_file_creates_replaces_atomically_and_keeps_mode_and_owner() {
    let (l, s, rw) = setup().await;
    let f = l.data().join("new/deeper/file.txt");
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "héllo\n"}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(
        v,
        json!({"bytes_written": 7, "success": true, "sha256": crate::evidence::sha256sum(&f)})
    );
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "héllo\n");
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o644
    );

    // Replace: new inode (atomic rename), old mode and owner kept.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
    let is_root = rustix::process::geteuid().is_root();
    if is_root {
        std::os::unix::fs::chown(&f, Some(65534), Some(65534)).unwrap();
    }
    let ino = std::fs::metadata(&f).unwrap().ino();
    let (err, _) = s
        .call(&rw, "write_file", json!({"file_path": f, "content": "v2"}))
        .await;
    assert!(!err);
    let m = std::fs::metadata(&f).unwrap();
    assert_ne!(m.ino(), ino);
    assert_eq!(m.permissions().mode() & 0o777, 0o640);
    if is_root {
        assert_eq!((m.uid(), m.gid()), (65534, 65534));
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "v2");
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(f.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // A symlink is followed: its target is replaced, the link stays a link.
    let target = l.data().join("target.conf");
    std::fs::write(&target, "old").unwrap();
    let link = l.data().join("link.conf");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (err, _) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": link, "content": "via link"}),
        )
        .await;
    assert!(!err);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "via link");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[tokio::test]
async fn write_file_errors() {
    let (l, s, rw) = setup().await;
    let d = l.data();
    std::os::unix::fs::symlink(l.env_file(), d.join("env-link")).unwrap();
    std::os::unix::fs::symlink(l.root().join("etc"), d.join("etc-link")).unwrap();
    let etc = l.root().join("etc");
    let spellings = vec![
        l.env_file().display().to_string(),
        format!("{}/", etc.display()),
        format!("{}//tokens.json", etc.display()),
        format!("{}/../etc/new-file", l.data().display()),
        format!("{}/./x", etc.display()),
        l.token_file().display().to_string(),
        d.join("env-link").display().to_string(),
        d.join("etc-link/planted").display().to_string(),
        l.root().join("log/audit.log").display().to_string(),
        l.root()
            .join("recorder/overview/overview.md")
            .display()
            .to_string(),
    ];
    let before = std::fs::read_to_string(l.env_file()).unwrap();
    for p in spellings {
        let (err, v) = s
            .call(&rw, "write_file", json!({"file_path": p, "content": "x"}))
            .await;
        assert!(err, "{p}");
        assert_eq!(v["error"], "ProtectedPath", "{p}: {v}");
    }
    assert_eq!(std::fs::read_to_string(l.env_file()).unwrap(), before);
    assert!(
        !etc.join("new-file").exists() && !etc.join("planted").exists() && !etc.join("x").exists()
    );
    assert!(
        !l.root().join("log").exists(),
        "no directory may be created in a protected tree"
    );

    let mut out = Vec::new();
    for (name, args) in [
        (
            "too_large",
            json!({"file_path": d.join("big"), "content": "x".repeat(1001)}),
        ),
        ("directory", json!({"file_path": d, "content": "x"})),
        ("relative", json!({"file_path": "data/x", "content": "x"})),
        (
            "parent_is_file",
            json!({"file_path": l.env_file().parent().unwrap().parent().unwrap().join("data/f/g"), "content": ""}),
        ),
    ] {
        if name == "parent_is_file" {
            std::fs::write(d.join("f"), "").unwrap();
        }
        let (err, v) = s.call(&rw, "write_file", args).await;
        assert!(err, "{name}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("write_file_errors", out);
    // Exactly at the limit is fine.
    let (err, _) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": d.join("max"), "content": "x".repeat(1000)}),
        )
        .await;
    assert!(!err);
}

#[tokio::test]
async fn edit_file_round_trips() {
    let (l, s, rw) = setup().await;
    let d = l.data();
    let cases: Vec<(&str, &[u8], Value, &[u8])> = vec![
        (
            "latin1",
            b"caf\xe9 name=old\n\xff\xfe\x00binary\n",
            json!({"old_string":"old","new_string":"new"}),
            b"caf\xe9 name=new\n\xff\xfe\x00binary\n",
        ),
        (
            "crlf",
            b"a\r\nb\r\nc\r\n",
            json!({"old_string":"b\nc","new_string":"B\nC"}),
            b"a\r\nB\r\nC\r\n",
        ),
        (
            "bom",
            b"\xef\xbb\xbfkey=1\n",
            json!({"old_string":"key=1","new_string":"key=2"}),
            b"\xef\xbb\xbfkey=2\n",
        ),
        (
            "replace_all",
            b"x x x",
            json!({"old_string":"x","new_string":"yy","replace_all":true}),
            b"yy yy yy",
        ),
    ];
    for (name, before, args, after) in cases {
        let f = d.join(name);
        std::fs::write(&f, before).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut a = args.clone();
        a["file_path"] = json!(f);
        let (err, v) = s.call(&rw, "edit_file", a).await;
        assert!(!err, "{name}: {v}");
        assert_eq!(v["success"], true);
        assert_eq!(std::fs::read(&f).unwrap(), after, "{name}");
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{name}"
        );
    }
    let (_, v) = s
        .call(&rw, "edit_file", json!({"file_path": d.join("replace_all"), "old_string":"yy","new_string":"z","replace_all":true}))
        .await;
    let diff = "--- a/[ROOT]/data/replace_all\n+++ b/[ROOT]/data/replace_all\n@@ -1 +1 @@\n-yy yy yy\n\\ No newline at end of file\n+z z z\n\\ No newline at end of file\n";
    assert_eq!(
        redact(&l, &v),
        json!({"replacements": 3, "success": true, "match": "exact", "diff": diff,
               "sha256": crate::evidence::sha256sum(&d.join("replace_all"))})
    );
}

#[tokio::test]
async fn edit_file_errors() {
    let (l, s, rw) = setup().await;
    let d = l.data();
    let f = d.join("conf");
    std::fs::write(&f, "a=1\na=1\n").unwrap();
    let mut out = Vec::new();
    for (name, args) in [
        (
            "not_found",
            json!({"file_path": f, "old_string":"zzz","new_string":"y"}),
        ),
        (
            "ambiguous",
            json!({"file_path": f, "old_string":"a=1","new_string":"y"}),
        ),
        (
            "empty_old",
            json!({"file_path": f, "old_string":"","new_string":"y"}),
        ),
        (
            "old_too_large",
            json!({"file_path": f, "old_string":"x".repeat(101),"new_string":"y"}),
        ),
        (
            "new_too_large",
            json!({"file_path": f, "old_string":"a","new_string":"y".repeat(101)}),
        ),
        (
            "missing_file",
            json!({"file_path": d.join("nope"), "old_string":"a","new_string":"b"}),
        ),
        (
            "directory",
            json!({"file_path": d, "old_string":"a","new_string":"b"}),
        ),
        (
            "protected",
            json!({"file_path": l.env_file(), "old_string":"MYMCP","new_string":"X"}),
        ),
        (
            "relative",
            json!({"file_path": "conf", "old_string":"a","new_string":"b"}),
        ),
    ] {
        let (err, v) = s.call(&rw, "edit_file", args).await;
        assert!(err, "{name}: {v}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("edit_file_errors", out);
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "a=1\na=1\n");
}

#[tokio::test]
async fn symlink_swap_never_touches_protected_files() {
    // A local process flips a path between a plain file and a symlink to the env file while
    // the client edits and writes it. The env file must never change.
    let (l, s, rw) = setup().await;
    let env_before = std::fs::read(l.env_file()).unwrap();
    let race = l.data().join("race");
    let plain = l.data().join("plain");
    let secret = l.env_file();
    let flipper = crate::common::Flipper::start(race.clone(), move |i, tmp| {
        if i.is_multiple_of(2) {
            let _ = std::os::unix::fs::symlink(&secret, tmp);
        } else {
            let _ = std::fs::write(&plain, "MYMCP_ADMIN_TOKEN=decoy\n");
            let _ = std::fs::hard_link(&plain, tmp);
        }
    });
    for i in 0..150 {
        if i % 2 == 0 {
            s.call(
                &rw,
                "edit_file",
                json!({"file_path": race, "old_string":"MYMCP_ADMIN_TOKEN","new_string":"PWNED"}),
            )
            .await;
        } else {
            s.call(
                &rw,
                "write_file",
                json!({"file_path": race, "content":"PWNED"}),
            )
            .await;
        }
    }
    drop(flipper);
    assert_eq!(std::fs::read(l.env_file()).unwrap(), env_before);
}
