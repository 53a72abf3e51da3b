//! Editing with evidence over real HTTP: diffs, dry runs, `expected_sha256` preconditions,
//! edit lists, tolerant matching, near-miss messages, appends and tails. Every failure must
//! leave the file byte-identical and no temp file behind.

use std::path::Path;

use crate::common::{Layout, Server, redact};
use serde_json::{Value, json};

/// The file's SHA-256 as coreutils computes it (independent of the server's code).
pub fn sha256sum(p: &Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(p)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

async fn setup() -> (Layout, Server, String) {
    let l = Layout::new("MYMCP_WRITE_FILE_MAX_BYTES=4096");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("editor", "rw").await;
    (l, s, rw)
}

/// Names in `dir` (to see that no temp file was left).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn edit_results_carry_a_diff_and_the_new_hash() {
    let (l, s, rw) = setup().await;
    let d = l.data();
    let conf: String = (1..=12).map(|i| format!("key{i} = {i}\n")).collect();
    let cases: Vec<(&str, &[u8], Value)> = vec![
        (
            "replace",
            conf.as_bytes(),
            json!({"old_string": "key6 = 6\n", "new_string": "key6 = six\n"}),
        ),
        (
            "replace_all",
            b"a=1\nb=2\na=1\n",
            json!({"old_string": "a=1", "new_string": "a=2", "replace_all": true}),
        ),
        (
            "edits",
            conf.as_bytes(),
            json!({"edits": [
                {"old_string": "key2 = 2", "new_string": "key2 = two"},
                {"old_string": "key11 = 11\n", "new_string": ""},
                {"old_string": "two", "new_string": "TWO"}
            ]}),
        ),
        (
            "insert_at_end",
            b"first\nlast\n",
            json!({"old_string": "last\n", "new_string": "last\nappended\n"}),
        ),
        (
            "line_endings",
            b"[a]\r\nx = 1\r\ny = 2\r\n",
            json!({"old_string": "x = 1\ny = 2\n", "new_string": "x = 10\ny = 20\n"}),
        ),
        (
            "trailing_whitespace",
            b"server {\n    listen 80;   \n    root /srv;\t\n}\n",
            json!({"old_string": "    listen 80;\n    root /srv;\n", "new_string": "    listen 8080;\n    root /srv;\n"}),
        ),
    ];
    let mut out = Vec::new();
    for (name, before, args) in cases {
        let f = d.join(name);
        std::fs::write(&f, before).unwrap();
        let mut a = args.clone();
        a["file_path"] = json!(f);
        let (err, v) = s.call(&rw, "edit_file", a).await;
        assert!(!err, "{name}: {v}");
        // The hash is of the bytes now on disk, as coreutils sees them.
        assert_eq!(v["sha256"], sha256sum(&f), "{name}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("edit_file_evidence", out);
    assert_eq!(
        std::fs::read(d.join("line_endings")).unwrap(),
        b"[a]\r\nx = 10\r\ny = 20\r\n",
        "every CRLF kept"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("edits")).unwrap(),
        conf.replace("key2 = 2", "key2 = TWO")
            .replace("key11 = 11\n", "")
    );
    assert_eq!(
        names(&d),
        [
            "edits",
            "insert_at_end",
            "line_endings",
            "replace",
            "replace_all",
            "trailing_whitespace"
        ]
    );
}

#[tokio::test]
async fn dry_run_and_preconditions() {
    let (l, s, rw) = setup().await;
    let f = l.data().join("app.conf");
    std::fs::write(&f, "port = 80\nhost = a\n").unwrap();
    let before = std::fs::read(&f).unwrap();

    // Dry run: the full result, nothing written.
    let (err, dry) = s
        .call(
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "80", "new_string": "8080", "dry_run": true}),
        )
        .await;
    assert!(!err, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert!(
        dry["diff"]
            .as_str()
            .unwrap()
            .contains("-port = 80\n+port = 8080\n")
    );
    assert_eq!(std::fs::read(&f).unwrap(), before, "a dry run wrote");

    // read_file's hash is the file's; an edit conditioned on it applies, and its result's
    // hash is what the dry run predicted.
    let (_, read) = s.call(&rw, "read_file", json!({"file_path": f})).await;
    let h0 = read["sha256"].as_str().unwrap().to_string();
    assert_eq!(h0, sha256sum(&f));
    let (err, v) = s
        .call(
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "80", "new_string": "8080", "expected_sha256": h0.to_uppercase()}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["sha256"], dry["sha256"]);
    assert_eq!(
        std::fs::read_to_string(&f).unwrap(),
        "port = 8080\nhost = a\n"
    );

    // The same precondition again is stale: FileChanged with the current hash, file untouched.
    let after = std::fs::read(&f).unwrap();
    let (err, v) = s
        .call(
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "host = a", "new_string": "host = b", "expected_sha256": h0}),
        )
        .await;
    assert!(err);
    assert_eq!(v["error"], "FileChanged");
    assert!(
        v["message"].as_str().unwrap().contains(&sha256sum(&f)),
        "{v}"
    );
    assert_eq!(std::fs::read(&f).unwrap(), after);

    // write_file: same precondition rule; the result's hash is the file's.
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "x\n", "expected_sha256": h0}),
        )
        .await;
    assert!(err && v["error"] == "FileChanged", "{v}");
    assert_eq!(std::fs::read(&f).unwrap(), after);
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "x\n", "expected_sha256": sha256sum(&f)}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["sha256"], sha256sum(&f));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "x\n");
    // A precondition on a file that is gone.
    let gone = l.data().join("gone");
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": gone, "content": "x", "expected_sha256": h0}),
        )
        .await;
    assert!(err && v["error"] == "FileChanged", "{v}");
    assert!(!gone.exists());
    assert_eq!(names(&l.data()), ["app.conf"]);
}

#[tokio::test]
async fn edit_failures_explain_and_leave_the_file_alone() {
    let (l, s, rw) = setup().await;
    let f = l.data().join("f.py");
    let text = "def main():\n    x = compute(1)   \n    y = compute(2)\n    x = compute(1) \n    return x + y\n";
    std::fs::write(&f, text).unwrap();
    let p = f.to_str().unwrap();
    let mut out = Vec::new();
    for (name, args) in [
        (
            "near_miss",
            json!({"file_path": p, "old_string": "    y = compute(3)\n    x = compute(1)\n", "new_string": "z"}),
        ),
        (
            "ambiguous_trailing_whitespace",
            json!({"file_path": p, "old_string": "    x = compute(1)\n", "new_string": "z"}),
        ),
        (
            "edits_element_fails",
            json!({"file_path": p, "edits": [
                {"old_string": "def main", "new_string": "def start"},
                {"old_string": "return x - y", "new_string": "return 0"}
            ]}),
        ),
        ("edits_empty", json!({"file_path": p, "edits": []})),
        (
            "edits_and_old_string",
            json!({"file_path": p, "old_string": "a", "new_string": "b", "edits": [{"old_string": "a", "new_string": "b"}]}),
        ),
        (
            "edits_element_empty_old",
            json!({"file_path": p, "edits": [{"old_string": "", "new_string": "b"}]}),
        ),
        (
            "edits_element_unknown_field",
            json!({"file_path": p, "edits": [{"old": "a", "new_string": "b"}]}),
        ),
        (
            "bad_expected_sha256",
            json!({"file_path": p, "old_string": "main", "new_string": "m", "expected_sha256": "abc"}),
        ),
        (
            "missing_new_string",
            json!({"file_path": p, "old_string": "main"}),
        ),
    ] {
        let (err, v) = s.call(&rw, "edit_file", args).await;
        assert!(err, "{name}: {v}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text, "{name}");
        assert_eq!(names(&l.data()), ["f.py"], "{name}");
    }
    insta::assert_json_snapshot!("edit_file_evidence_errors", out);
}

#[tokio::test]
async fn append_creates_then_extends_the_same_file() {
    let (l, s, rw) = setup().await;
    let f = l.data().join("logs/app.log");
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "one\n", "append": true}),
        )
        .await;
    assert!(!err, "{v}");
    let ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&f).unwrap());
    // A reader holding the file open sees what is appended (same inode, not a new file).
    let held = std::fs::File::open(&f).unwrap();
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "two\n", "append": true}),
        )
        .await;
    assert!(!err, "{v}");
    assert_eq!(v["bytes_written"], 4);
    assert_eq!(v["sha256"], sha256sum(&f));
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "one\ntwo\n");
    let meta = held.metadata().unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), ino);
    assert_eq!(meta.len(), 8);
    // The size cap applies to what is appended; above MYMCP_WRITE_FILE_MAX_BYTES in total
    // the file gets no hash.
    let (err, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "x".repeat(4097), "append": true}),
        )
        .await;
    assert!(err && v["error"] == "FileTooLarge", "{v}");
    for _ in 0..2 {
        let (err, v) = s
            .call(
                &rw,
                "write_file",
                json!({"file_path": f, "content": "y".repeat(3000), "append": true}),
            )
            .await;
        assert!(!err, "{v}");
    }
    let (_, v) = s
        .call(
            &rw,
            "write_file",
            json!({"file_path": f, "content": "z", "append": true}),
        )
        .await;
    assert!(v.get("sha256").is_none(), "{v}");
    assert_eq!(std::fs::metadata(&f).unwrap().len(), 8 + 6000 + 1);
}

#[tokio::test]
async fn negative_offsets_read_the_tail_with_real_line_numbers() {
    let (l, s, rw) = setup().await;
    let f = l.data().join("big.log");
    let text: String = (1..=5000).map(|i| format!("entry {i}\n")).collect();
    std::fs::write(&f, &text).unwrap();
    let read = |args: Value| {
        let s = &s;
        let rw = rw.clone();
        async move { s.call(&rw, "read_file", args).await.1 }
    };
    let v = read(json!({"file_path": f, "offset": -2})).await;
    assert_eq!(
        v,
        json!({"content": "4999\tentry 4999\n5000\tentry 5000", "total_lines": 5000, "truncated": false})
    );
    // Beyond the start: the whole file from line 1.
    let small = l.data().join("small");
    std::fs::write(&small, "a\nb").unwrap();
    let v = read(json!({"file_path": small, "offset": -10})).await;
    assert_eq!(v["content"], "   1\ta\n   2\tb");
    assert_eq!(v["sha256"], sha256sum(&small));
    // A limit shorter than the tail.
    let v = read(json!({"file_path": f, "offset": -10, "limit": 2})).await;
    assert_eq!(v["content"], "4991\tentry 4991\n4992\tentry 4992");
    assert_eq!(v["truncated"], true);
    // A pseudo-file (size 0 in stat) still gives its last lines.
    let v = read(json!({"file_path": "/proc/meminfo", "offset": -1})).await;
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let last = meminfo.lines().last().unwrap().split(':').next().unwrap();
    assert!(
        v["content"].as_str().unwrap().contains(last),
        "{v} vs {last}"
    );
}

#[tokio::test]
async fn audit_lines_count_edit_lists_and_mark_dry_runs() {
    let l = Layout::new("MYMCP_AUDIT_ENABLED=true");
    let s = Server::start(&l);
    let (rw, _) = s.admin_create("editor", "rw").await;
    let f = l.data().join("a.txt");
    std::fs::write(&f, "one\ntwo\nthree\n").unwrap();
    let (err, v) = s
        .call(
            &rw,
            "edit_file",
            json!({"file_path": f, "edits": [
                {"old_string": "one\n", "new_string": "one\none-b\n"},
                {"old_string": "three\n", "new_string": ""}
            ]}),
        )
        .await;
    assert!(!err, "{v}");
    let (err, v) = s
        .call(
            &rw,
            "edit_file",
            json!({"file_path": f, "old_string": "two", "new_string": "2", "dry_run": true}),
        )
        .await;
    assert!(!err, "{v}");
    let text = std::fs::read_to_string(l.root().join("log/audit.log")).unwrap();
    let outputs: Vec<Value> = text
        .lines()
        .map(|x| serde_json::from_str::<Value>(x).unwrap())
        .filter(|x| x["tool"] == "edit_file")
        .map(|x| x["output"].clone())
        .collect();
    let path = f.to_str().unwrap();
    assert_eq!(
        outputs,
        [
            json!({"path": path, "lines_added": 2, "lines_removed": 2, "hunk_count": 2}),
            json!({"path": path, "lines_added": 0, "lines_removed": 0, "hunk_count": 1, "dry_run": true}),
        ]
    );
}
