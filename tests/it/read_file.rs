//! read_file over real HTTP: formats, clamps, every error code, protected paths.

use crate::common::{Layout, Server, redact};
use serde_json::json;

async fn setup(extra: &str) -> (Layout, Server, String) {
    let l = Layout::new(extra);
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    (l, s, ro)
}

#[tokio::test]
async fn happy_paths_and_clamps() {
    let (l, s, ro) = setup("MYMCP_READ_FILE_MAX_LINE_BYTES=10").await;
    let f = l.data().join("a.txt");
    std::fs::write(
        &f,
        b"line1\nline2\r\nthis line is long\n\xff\xfe bytes\nlast",
    )
    .unwrap();
    let p = f.to_str().unwrap();
    let mut outputs = Vec::new();
    for args in [
        json!({"file_path": p}),
        json!({"file_path": p, "offset": 2, "limit": 2}),
        json!({"file_path": p, "offset": 0, "limit": 0}),
        json!({"file_path": p, "offset": -5, "limit": 999_999}),
        json!({"file_path": p, "offset": 99}),
    ] {
        let (err, v) = s.call(&ro, "read_file", args.clone()).await;
        assert!(!err, "{v}");
        outputs.push(json!({"args": redact(&l, &args), "result": v}));
    }
    insta::assert_json_snapshot!("read_file_outputs", outputs);

    let empty = l.data().join("empty");
    std::fs::write(&empty, "").unwrap();
    let (_, v) = s.call(&ro, "read_file", json!({"file_path": empty})).await;
    assert_eq!(
        v,
        json!({"content":"","total_lines":0,"truncated":false,
               "sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
    );
}

#[tokio::test]
async fn large_file_window_counts_all_lines() {
    let (l, s, ro) = setup("").await;
    let f = l.data().join("big.log");
    let text: String = (1..=200_000).map(|i| format!("entry {i}\n")).collect();
    std::fs::write(&f, text).unwrap();
    let (_, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": f, "offset": 100_000, "limit": 2}),
        )
        .await;
    assert_eq!(v["sha256"], crate::evidence::sha256sum(&f));
    assert_eq!(
        v,
        json!({"content":"100000\tentry 100000\n100001\tentry 100001","total_lines":200_000,"truncated":true,
               "sha256": v["sha256"]})
    );
}

#[tokio::test]
async fn error_codes() {
    let (l, s, ro) = setup("").await;
    let d = l.data();
    let fifo = d.join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let missing = d.join("missing.txt");
    let cases = vec![
        ("not_found", json!({"file_path": missing})),
        ("directory", json!({"file_path": d})),
        ("relative", json!({"file_path": "etc/passwd"})),
        ("empty", json!({"file_path": ""})),
        ("device", json!({"file_path": "/dev/zero"})),
        ("fifo", json!({"file_path": fifo})),
    ];
    let mut out = Vec::new();
    for (name, args) in cases {
        let (err, v) = s.call(&ro, "read_file", args).await;
        assert!(err, "{name}: {v}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("read_file_errors", out);
}

#[tokio::test]
async fn protected_paths_hold_even_through_symlinks() {
    let l = Layout::new("");
    let secret_dir = l.root().join("secret");
    std::fs::create_dir(&secret_dir).unwrap();
    std::fs::write(secret_dir.join("key"), "s3cr3t").unwrap();
    std::fs::write(l.root().join("log-placeholder"), "").unwrap();
    std::fs::create_dir_all(l.root().join("log")).unwrap();
    std::fs::write(l.root().join("log/audit.log"), "{}").unwrap();
    // Append MYMCP_PROTECTED_PATHS to the env file.
    let mut env = std::fs::read_to_string(l.env_file()).unwrap();
    env.push_str(&format!(
        "MYMCP_PROTECTED_PATHS= , {} ,\n",
        secret_dir.display()
    ));
    std::fs::write(l.env_file(), env).unwrap();
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    std::os::unix::fs::symlink(l.env_file(), l.data().join("env-link")).unwrap();
    std::os::unix::fs::symlink(&secret_dir, l.data().join("dir-link")).unwrap();
    let targets = [
        l.env_file(),
        l.token_file(),
        l.root().join("etc/.tokens.json.lock-or-anything"),
        l.root().join("log/audit.log"),
        secret_dir.join("key"),
        l.data().join("env-link"),
        l.data().join("dir-link/key"),
        l.root().join("data/../secret/key"),
    ];
    for t in targets {
        let (err, v) = s.call(&ro, "read_file", json!({"file_path": t})).await;
        assert!(err, "{t:?} {v}");
        if t.exists() {
            assert_eq!(v["error"], "ProtectedPath", "{t:?} {v}");
            assert!(
                v["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Access denied: path is within protected directory "),
                "{v}"
            );
        }
    }
    // The recorder directory is protected for writes only: reading it is fine.
    std::fs::create_dir_all(l.root().join("recorder/overview")).unwrap();
    std::fs::write(l.root().join("recorder/overview/overview.md"), "# host\n").unwrap();
    let (err, v) = s
        .call(
            &ro,
            "read_file",
            json!({"file_path": l.root().join("recorder/overview/overview.md")}),
        )
        .await;
    assert!(!err, "{v}");
}

#[tokio::test]
async fn symlink_swap_never_leaks_protected_content() {
    // A local process flips a path between a harmless file and a symlink to a protected one
    // while the client reads it. Every answer must be the harmless content or ProtectedPath.
    let (l, s, ro) = setup("").await;
    let harmless = l.data().join("harmless");
    std::fs::write(&harmless, "public").unwrap();
    let race = l.data().join("race");
    let flipper = crate::common::Flipper::symlinks(race.clone(), l.env_file(), harmless.clone());
    let mut leaked = 0;
    for _ in 0..300 {
        let (_, v) = s.call(&ro, "read_file", json!({"file_path": race})).await;
        if v.to_string().contains("MYMCP_ADMIN_TOKEN") {
            leaked += 1;
        }
    }
    drop(flipper);
    assert_eq!(leaked, 0);
}
