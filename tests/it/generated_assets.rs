//! The committed man pages (`packaging/man/`) and completions (`completions/`) must be what
//! the binary renders now. Refresh with `UPDATE_GENERATED=1 cargo test --test it generated_assets`.

use std::path::{Path, PathBuf};

/// What the binary renders now, as (path relative to the output dir, contents), by running
/// its hidden `generate-assets` command into a scratch directory.
fn render() -> Vec<(String, Vec<u8>)> {
    let out = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_mymcp"))
        .arg("generate-assets")
        .arg(out.path())
        .status()
        .unwrap();
    assert!(status.success(), "generate-assets failed: {status}");
    let mut files = Vec::new();
    let mut dirs = vec![out.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                let rel = p
                    .strip_prefix(out.path())
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn committed_path(rel: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    match rel.strip_prefix("man/") {
        Some(page) => root.join("packaging/man").join(page),
        None => root.join(rel),
    }
}

#[test]
fn committed_man_pages_and_completions_are_fresh() {
    let files = render();
    let update = std::env::var_os("UPDATE_GENERATED").is_some();
    let mut stale = Vec::new();
    for (rel, data) in &files {
        let p = committed_path(rel);
        if std::fs::read(&p).ok().as_deref() != Some(data.as_slice()) {
            if update {
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, data).unwrap();
            }
            stale.push(p.display().to_string());
        }
    }
    // A page for a subcommand that no longer exists is stale too.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["packaging/man", "completions"] {
        for e in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = e.path();
            if !files.iter().any(|(rel, _)| committed_path(rel) == p) {
                if update {
                    std::fs::remove_file(&p).unwrap();
                }
                stale.push(format!("{} (no longer generated)", p.display()));
            }
        }
    }
    assert!(
        update || stale.is_empty(),
        "stale generated files (run UPDATE_GENERATED=1 cargo test --test it generated_assets):\n{}",
        stale.join("\n")
    );
}

#[test]
fn one_man_page_per_visible_subcommand() {
    let files = render();
    let pages: Vec<&str> = files
        .iter()
        .filter_map(|(rel, _)| rel.strip_prefix("man/"))
        .collect();
    for want in [
        "mymcp.1",
        "mymcp-serve.1",
        "mymcp-init.1",
        "mymcp-doctor.1",
        "mymcp-uninstall-service.1",
        "mymcp-token.1",
        "mymcp-token-add.1",
        "mymcp-config-example.1",
    ] {
        assert!(pages.contains(&want), "{want} missing from {pages:?}");
    }
    assert!(!pages.iter().any(|p| p.contains("generate-assets")));
    let completions = files
        .iter()
        .filter(|(r, _)| r.starts_with("completions/"))
        .count();
    assert_eq!(completions, 5);
    // Hidden commands and compatibility spellings are not offered to the shell.
    for (rel, data) in files.iter().filter(|(r, _)| r.starts_with("completions/")) {
        let text = String::from_utf8_lossy(data);
        for hidden in ["generate-assets", "skip-ripgrep", "install-ripgrep"] {
            assert!(!text.contains(hidden), "{rel} offers {hidden}");
        }
        assert!(
            text.contains("rotate-admin"),
            "{rel} lost a visible command"
        );
    }
}
