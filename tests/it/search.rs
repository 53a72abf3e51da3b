//! glob and grep over real HTTP on a small generated tree.

use std::path::Path;

use crate::common::{Layout, Server, redact};
use serde_json::json;

/// data/
///   a.log        foo one / bar / foo two / x / y / z / foo three
///   b.txt        nothing
///   bin.dat      binary with foo
///   .hidden/h.log
///   sub/c.log    foo sub
///   sub/deep/d.conf
///   loop -> .    (symlink loop)
fn tree(root: &Path) {
    let w = |p: &str, c: &[u8]| {
        let f = root.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, c).unwrap();
    };
    w("a.log", b"foo one\nbar\nfoo two\nx\ny\nz\nfoo three\n");
    w("b.txt", b"nothing\n");
    w("bin.dat", b"foo\0binary\n");
    w(".hidden/h.log", b"foo hidden\n");
    w("sub/c.log", b"foo sub\n");
    w("sub/deep/d.conf", b"key=--pre=/bin/sh\n");
    std::os::unix::fs::symlink(".", root.join("loop")).unwrap();
    // Distinct mtimes, oldest first: a.log, b.txt, ..., d.conf newest.
    let names = ["a.log", "b.txt", "bin.dat", "sub/c.log", "sub/deep/d.conf"];
    for (i, n) in names.iter().enumerate() {
        let t = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(1_700_000_000 + i as u64 * 100);
        std::fs::File::options()
            .write(true)
            .open(root.join(n))
            .unwrap()
            .set_modified(t)
            .unwrap();
    }
}

async fn setup() -> (Layout, Server, String) {
    let l = Layout::new("MYMCP_GLOB_MAX_RESULTS=3");
    tree(&l.data());
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    (l, s, ro)
}

#[tokio::test]
async fn glob_outputs() {
    let (l, s, ro) = setup().await;
    let d = l.data();
    let mut out = Vec::new();
    for args in [
        json!({"pattern": "**/*.log", "path": d}),
        json!({"pattern": "*", "path": d}),
        json!({"pattern": "sub/**/*.conf", "path": d}),
        json!({"pattern": "/sub/*", "path": d}),
        json!({"pattern": "**/h.log", "path": d}),
        json!({"pattern": ".hidden/*", "path": d}),
        json!({"pattern": "*.nothing", "path": d}),
        json!({"pattern": "*", "path": d.join("missing")}),
    ] {
        let (err, v) = s.call(&ro, "glob", args.clone()).await;
        assert!(!err, "{args}: {v}");
        out.push(json!({"args": redact(&l, &args), "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("glob_outputs", out);
}

#[tokio::test]
async fn glob_errors_and_protection() {
    let (l, s, ro) = setup().await;
    let mut out = Vec::new();
    for (name, args) in [
        ("bad_pattern", json!({"pattern": "[", "path": l.data()})),
        ("dotdot", json!({"pattern": "../etc/*", "path": l.data()})),
        ("relative_path", json!({"pattern": "*", "path": "data"})),
        (
            "protected_root",
            json!({"pattern": "*", "path": l.root().join("etc")}),
        ),
    ] {
        let (err, v) = s.call(&ro, "glob", args).await;
        assert!(err, "{name}: {v}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("glob_errors", out);
    // Walking over the protected directory finds nothing inside it.
    let (_, v) = s
        .call(&ro, "glob", json!({"pattern": "**/*", "path": l.root()}))
        .await;
    let all = s
        .call(&ro, "glob", json!({"pattern": "**/.env", "path": l.root()}))
        .await
        .1;
    assert_eq!(all["count"], 0, "{all}");
    assert!(!v.to_string().contains("tokens.json"), "{v}");
}

#[tokio::test]
async fn grep_outputs() {
    let (l, s, ro) = setup().await;
    let d = l.data();
    let mut out = Vec::new();
    for args in [
        json!({"pattern": "foo", "path": d}),
        json!({"pattern": "foo", "path": d, "context_lines": 1}),
        json!({"pattern": "foo", "path": d, "output_mode": "files"}),
        json!({"pattern": "foo", "path": d, "output_mode": "count"}),
        json!({"pattern": "foo", "path": d, "max_results": 2}),
        json!({"pattern": "FOO T", "path": d.join("a.log"), "case_insensitive": true}),
        json!({"pattern": "foo", "path": d, "glob": "c.*"}),
        json!({"pattern": "foo", "path": d.join(".hidden/h.log")}),
        json!({"pattern": "--pre=/bin/sh", "path": d}),
        json!({"pattern": "--files", "path": d}),
    ] {
        let (err, v) = s.call(&ro, "grep", args.clone()).await;
        assert!(!err, "{args}: {v}");
        out.push(json!({"args": redact(&l, &args), "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("grep_outputs", out);
}

#[tokio::test]
async fn grep_errors_and_protection() {
    let (l, s, ro) = setup().await;
    let d = l.data();
    std::os::unix::fs::symlink(l.env_file(), d.join("env-link")).unwrap();
    let mut out = Vec::new();
    for (name, args) in [
        ("bad_regex", json!({"pattern": "(", "path": d})),
        (
            "missing_path",
            json!({"pattern": "x", "path": d.join("nope")}),
        ),
        ("relative", json!({"pattern": "x", "path": "data"})),
        (
            "protected_file",
            json!({"pattern": "TOKEN", "path": l.env_file()}),
        ),
        (
            "protected_via_link",
            json!({"pattern": "TOKEN", "path": d.join("env-link")}),
        ),
        (
            "protected_dir",
            json!({"pattern": "TOKEN", "path": l.root().join("etc")}),
        ),
        (
            "bad_mode",
            json!({"pattern": "x", "path": d, "output_mode": "lines"}),
        ),
    ] {
        let (err, v) = s.call(&ro, "grep", args).await;
        assert!(err, "{name}: {v}");
        out.push(json!({"case": name, "result": redact(&l, &v)}));
    }
    insta::assert_json_snapshot!("grep_errors", out);
    // Searching above the protected directory never shows its content.
    let (_, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "MYMCP_ADMIN_TOKEN|sha256", "path": l.root(), "context_lines": 3}),
        )
        .await;
    assert_eq!(v["match_count"], 0, "{v}");
}

#[tokio::test]
async fn grep_symlink_swap_never_leaks() {
    let (l, s, ro) = setup().await;
    let race = l.data().join("race");
    let harmless = l.data().join("harmless");
    std::fs::write(&harmless, "MYMCP_ADMIN_TOKEN=decoy-is-fine-but-not-this\n").unwrap();
    std::fs::write(&harmless, "public\n").unwrap();
    let flipper = crate::common::Flipper::symlinks(race.clone(), l.env_file(), harmless.clone());
    let mut leaked = 0;
    for i in 0..200 {
        let path = if i % 2 == 0 { race.clone() } else { l.data() };
        let (_, v) = s
            .call(&ro, "grep", json!({"pattern": "ADMIN", "path": path}))
            .await;
        if v.to_string().contains("MYMCP_ADMIN_TOKEN=tok") {
            leaked += 1;
        }
    }
    drop(flipper);
    assert_eq!(leaked, 0);
}

#[tokio::test]
async fn grep_and_glob_clamps() {
    let (l, s, ro) = setup().await;
    let d = l.data();
    // max_results 0 and negatives mean 1; values above MYMCP_GREP_MAX_RESULTS are capped.
    for m in [0, -5] {
        let (_, v) = s
            .call(
                &ro,
                "grep",
                json!({"pattern": "foo", "path": d, "max_results": m}),
            )
            .await;
        let lines: Vec<&str> = v["results"].as_str().unwrap().lines().collect();
        assert_eq!(lines.len(), 2, "{v}");
        assert_eq!(lines[1], "[TRUNCATED: 3 more matches not shown]");
    }
    let big: String = (0..6000).map(|i| format!("hit {i}\n")).collect();
    std::fs::write(d.join("big.txt"), big).unwrap();
    let (_, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "^hit", "path": d.join("big.txt"), "max_results": 999_999}),
        )
        .await;
    assert_eq!(v["match_count"], 6000);
    assert!(
        v["results"]
            .as_str()
            .unwrap()
            .ends_with("[TRUNCATED: 1000 more matches not shown]")
    );
    // Negative context means none.
    let (_, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "foo two", "path": d, "context_lines": -3}),
        )
        .await;
    assert_eq!(v["results"].as_str().unwrap().lines().count(), 1);
    // glob keeps MYMCP_GLOB_MAX_RESULTS (3 here) newest and counts all.
    let (_, v) = s
        .call(&ro, "glob", json!({"pattern": "**/*.*", "path": d}))
        .await;
    assert_eq!(v["files"].as_array().unwrap().len(), 3);
    assert_eq!(v["truncated"], true);
    assert!(v["count"].as_u64().unwrap() > 3);
}

/// Parallel search keeps the sequential contract: path order, exact counts, the cap applied
/// across files (a cap that ends mid-file and mid-directory), context groups, and protected
/// directories pruned wherever they are in the walk. The expected output is computed here
/// from the files, the slow obvious way.
#[tokio::test]
async fn grep_on_many_files_is_ordered_and_exact() {
    let l = Layout::new("");
    let data = l.data();
    // 12 directories x 40 files; hit lines at positions that depend on the file.
    let mut expected: Vec<(String, u64, String)> = Vec::new();
    let protected = data.join("d06");
    for d in 0..12 {
        for f in 0..40 {
            let p = data.join(format!("d{d:02}/f{f:02}.log"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            let mut text = String::new();
            for line in 1..=((f % 7) + 3) {
                if (line + f + d) % 3 == 0 {
                    text.push_str(&format!("hit d{d} f{f} l{line}\n"));
                } else {
                    text.push_str(&format!("miss {line}\n"));
                }
            }
            std::fs::write(&p, &text).unwrap();
            if !p.starts_with(&protected) {
                for (i, t) in text.lines().enumerate() {
                    if t.starts_with("hit") {
                        expected.push((p.display().to_string(), i as u64 + 1, t.to_string()));
                    }
                }
            }
        }
    }
    expected.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    // The layout's env is written before the server starts; protect one directory in the middle.
    let env = l.env_file();
    let mut conf = std::fs::read_to_string(&env).unwrap();
    conf.push_str(&format!("MYMCP_PROTECTED_PATHS={}\n", protected.display()));
    std::fs::write(&env, conf).unwrap();
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let root = std::fs::canonicalize(&data).unwrap();
    let expected: Vec<(String, u64, String)> = expected
        .into_iter()
        .map(|(p, n, t)| {
            let rel = Path::new(&p).strip_prefix(&data).unwrap().to_path_buf();
            (root.join(rel).display().to_string(), n, t)
        })
        .collect();
    let files: Vec<&String> = {
        let mut v: Vec<&String> = expected.iter().map(|e| &e.0).collect();
        v.dedup();
        v
    };

    for cap in [1u64, 37, 500, 5000] {
        let (err, v) = s
            .call(
                &ro,
                "grep",
                json!({"pattern": "^hit", "path": data, "max_results": cap}),
            )
            .await;
        assert!(!err, "{v}");
        assert_eq!(v["match_count"], expected.len() as u64, "cap {cap}");
        let want: Vec<String> = expected
            .iter()
            .take(cap as usize)
            .map(|(p, n, t)| format!("{p}:{n}:{t}"))
            .collect();
        let got = v["results"].as_str().unwrap();
        let mut want_text = want.join("\n");
        if (expected.len() as u64) > cap {
            want_text.push_str(&format!(
                "\n[TRUNCATED: {} more matches not shown]",
                expected.len() as u64 - cap
            ));
        }
        assert_eq!(got, want_text, "cap {cap}");
        assert!(!got.contains("/d06/"), "protected directory searched");
    }
    // files and count modes: every matching file once, in order, with exact per-file counts.
    let (_, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "^hit", "path": data, "output_mode": "files", "max_results": 5000}),
        )
        .await;
    let got: Vec<&str> = v["results"].as_str().unwrap().lines().collect();
    assert_eq!(got, files.iter().map(|f| f.as_str()).collect::<Vec<_>>());
    let (_, v) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "^hit", "path": data, "output_mode": "count", "max_results": 5000}),
        )
        .await;
    let want: Vec<String> = files
        .iter()
        .map(|f| format!("{f}:{}", expected.iter().filter(|e| &e.0 == *f).count()))
        .collect();
    assert_eq!(v["results"].as_str().unwrap(), want.join("\n"));
    // Context around a cap that ends inside a file: the last shown match keeps its after
    // context, the first hidden one loses its before context.
    let (_, a) = s
        .call(
            &ro,
            "grep",
            json!({"pattern": "^hit", "path": data, "max_results": 40, "context_lines": 1}),
        )
        .await;
    let text = a["results"].as_str().unwrap();
    let shown_matches = text.lines().filter(|l| l.contains(":hit ")).count();
    assert_eq!(shown_matches, 40, "{text}");
    assert_eq!(a["match_count"], expected.len() as u64);
    let last = &expected[39];
    let (lp, ln) = (&last.0, last.1);
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("[TRUNCATED"))
        .collect();
    let tail = body.last().unwrap();
    assert!(
        tail.starts_with(&format!("{lp}:{ln}:")) || tail.starts_with(&format!("{lp}-{}-", ln + 1)),
        "last line {tail:?} is not the 40th match or its after-context"
    );
}

/// `^`/`$` anchor at every line, and no match spans a line break (`\s`, `[^x]`).
#[tokio::test]
async fn grep_anchors_are_per_line_and_matches_stay_in_one_line() {
    let l = Layout::new("");
    let f = l.data().join("n.txt");
    std::fs::write(&f, "a 7\nb 17\nc 8\nx\ny\n").unwrap();
    let s = Server::start(&l);
    let (ro, _) = s.admin_create("reader", "ro").await;
    let p = std::fs::canonicalize(&f).unwrap().display().to_string();
    for (pattern, want) in [
        ("[0-9]*7$", vec![1, 2]),
        ("^[bc] ", vec![2, 3]),
        ("x\\sy", vec![]),
        ("x[^a]y", vec![]),
    ] {
        let (err, v) = s
            .call(&ro, "grep", json!({"pattern": pattern, "path": f}))
            .await;
        assert!(!err, "{v}");
        let lines: Vec<u64> = v["results"]
            .as_str()
            .unwrap()
            .lines()
            .filter_map(|x| {
                x.strip_prefix(&format!("{p}:"))?
                    .split(':')
                    .next()?
                    .parse()
                    .ok()
            })
            .collect();
        assert_eq!(lines, want, "{pattern}: {v}");
    }
}
