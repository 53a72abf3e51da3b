//! Man pages and shell completions, rendered from the clap definition.
//!
//! The rendered files are committed (`packaging/man/`, `completions/`) so packaging never has
//! to run the binary it packages (cross builds, Nix); `tests/generated_assets.rs` fails when
//! they no longer match what this module renders.

use std::path::Path;

use clap_complete::Shell;

/// Fixed date in the man pages, so two builds render identical bytes.
const MAN_DATE: &str = "2026-11-24";

/// Shells we ship completions for, with the file name each expects.
pub(crate) const SHELLS: [(Shell, &str); 5] = [
    (Shell::Bash, "mymcp.bash"),
    (Shell::Zsh, "_mymcp"),
    (Shell::Fish, "mymcp.fish"),
    (Shell::Elvish, "mymcp.elv"),
    (Shell::PowerShell, "_mymcp.ps1"),
];

/// Every rendered file as (relative path, contents): `man/*.1`, `completions/*` and the
/// example env file.
pub(crate) fn render() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut cmd = crate::cli::command();
    cmd.build();
    render_man(&cmd, "mymcp", &mut out)?;
    // Shipped by the packages as /etc/mymcp/mymcp.env.example (a conffile; no secrets).
    out.push((
        "packaging/mymcp.env.example".to_string(),
        crate::config::example_env().into_bytes(),
    ));
    for (shell, file) in SHELLS {
        let mut buf = Vec::new();
        let mut visible = without_hidden(&crate::cli::command());
        clap_complete::generate(shell, &mut visible, "mymcp", &mut buf);
        out.push((format!("completions/{file}"), buf));
    }
    Ok(out)
}

/// `cmd` without its hidden subcommands and options, recursively: clap_complete offers
/// hidden items (compatibility spellings, `generate-assets`) to some shells otherwise.
fn without_hidden(cmd: &clap::Command) -> clap::Command {
    let mut out = clap::Command::new(cmd.get_name().to_string()).visible_aliases(
        cmd.get_visible_aliases()
            .map(String::from)
            .collect::<Vec<_>>(),
    );
    if let Some(a) = cmd.get_about() {
        out = out.about(a.clone());
    }
    if let Some(a) = cmd.get_long_about() {
        out = out.long_about(a.clone());
    }
    if let Some(v) = cmd.get_version() {
        out = out.version(v.to_string());
    }
    for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        out = out.arg(a.clone());
    }
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out = out.subcommand(without_hidden(sub));
    }
    out
}

/// One page per visible (sub)command: `mymcp.1`, `mymcp-serve.1`, `mymcp-token-add.1`, …
fn render_man(
    cmd: &clap::Command,
    page: &str,
    out: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let named = cmd.clone().name(page.to_string());
    let man = clap_mangen::Man::new(named)
        .title(page.to_uppercase())
        .date(MAN_DATE)
        .source(format!("mymcp {}", env!("CARGO_PKG_VERSION")))
        .manual("mymcp Manual");
    let mut buf = Vec::new();
    man.render(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    out.push((
        format!("man/{page}.1"),
        with_sections(&text, cmd, page).into_bytes(),
    ));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        render_man(sub, &format!("{page}-{}", sub.get_name()), out)?;
    }
    Ok(())
}

/// Add ENVIRONMENT and FILES to a page clap rendered, before VERSION so the sections keep
/// man(7)'s order. `mymcp` and `mymcp serve` list every setting (from the example env file, so
/// there is one description of each); pages of commands that read an env file point there.
fn with_sections(page_text: &str, cmd: &clap::Command, page: &str) -> String {
    use roff::{Roff, bold, roman};
    let mut extra = Roff::new();
    let reads_env = cmd.get_arguments().any(|a| a.get_id() == "env_file");
    if page == "mymcp" || page == "mymcp-serve" {
        extra.control("SH", ["ENVIRONMENT"]);
        extra.text([roman(
            "Each setting is taken from the process environment, else from the env file (see \
             FILES), else its default. The server reads the env file itself and re-reads it \
             when it changes; keep secrets out of the process environment, where they would \
             shadow the file. `mymcp config example` prints an annotated file.",
        )]);
        extra.control("TP", []);
        extra.text([bold("MYMCP_ENV_FILE")]);
        extra.text([roman("The env file to read when --env-file is not given.")]);
        for (vars, about) in setting_groups(&crate::config::example_env()) {
            // One paragraph per group: every name as a tag (TQ adds tags to the same
            // paragraph), then the explanation and the lines as the example file has them.
            for (i, (name, _)) in vars.iter().enumerate() {
                extra.control(if i == 0 { "TP" } else { "TQ" }, []);
                extra.text([bold(name.clone())]);
            }
            let shown: Vec<String> = vars
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let mut body = about;
            if !shown.is_empty() {
                body.push_str(&format!(" The example file has {}.", shown.join(", ")));
            }
            extra.text([roman(body.trim().to_string())]);
        }
    } else if reads_env {
        extra.control("SH", ["ENVIRONMENT"]);
        extra.control("TP", []);
        extra.text([bold("MYMCP_ENV_FILE")]);
        extra.text([roman(
            "The env file to read when --env-file is not given. Every MYMCP_* setting is \
             described in mymcp-serve(1).",
        )]);
    }
    if page != "mymcp-version" {
        extra.control("SH", ["FILES"]);
        for &(path, about) in &FILES {
            extra.control("TP", []);
            extra.text([bold(path)]);
            extra.text([roman(about)]);
        }
    }
    let sections = extra.to_roff();
    match page_text.find("\n.SH VERSION") {
        Some(at) => format!("{}\n{}{}", &page_text[..at], sections, &page_text[at + 1..]),
        None => format!("{page_text}{sections}"),
    }
}

/// The files a packaged install uses, for the FILES section.
const FILES: [(&str, &str); 7] = [
    (
        "/etc/mymcp/.env",
        "Settings and the admin and metrics tokens; mode 0600. Found through --env-file, else \
         MYMCP_ENV_FILE, else this path, else ./.env when that file sets MYMCP_* names.",
    ),
    (
        "/etc/mymcp/tokens.json",
        "Client tokens with their roles, stored as SHA-256 hashes (MYMCP_TOKEN_FILE); mode 0600. \
         Managed with mymcp token.",
    ),
    (
        "/etc/mymcp/mymcp.env.example",
        "Every setting with its default, as the packages install it (no secrets).",
    ),
    (
        "/var/log/mymcp/audit.log",
        "The audit trail, one JSON line per tool call, rotated by size to audit.log.1, … \
         (MYMCP_AUDIT_LOG_DIR).",
    ),
    (
        "/var/lib/mymcp/recorder/",
        "The recorder's host overview and changelog (MYMCP_RECORDER_DATA_DIR).",
    ),
    (
        "/usr/lib/systemd/system/mymcp.service",
        "The unit the .deb and .rpm install; mymcp init and the tarball write \
         /etc/systemd/system/mymcp.service instead.",
    ),
    (
        "/usr/share/doc/mymcp/",
        "README and the guides: install, service, operations (TLS proxy, logs, troubleshooting), \
         security, decisions. The tarball installs them under /usr/local/share/doc/mymcp/.",
    ),
];

/// The example env file as groups of (settings with their defaults, the comment above them).
/// A comment that follows settings starts a new group; the file's header (no settings) is
/// skipped.
fn setting_groups(example: &str) -> Vec<(Vec<(String, String)>, String)> {
    let mut groups = Vec::new();
    let (mut vars, mut about): (Vec<(String, String)>, Vec<&str>) = (Vec::new(), Vec::new());
    let mut flush = |vars: &mut Vec<(String, String)>, about: &mut Vec<&str>| {
        if !vars.is_empty() {
            groups.push((std::mem::take(vars), about.join(" ")));
        }
        about.clear();
    };
    for line in example.lines() {
        let bare = line.trim_start_matches('#').trim();
        if line.trim().is_empty() {
            flush(&mut vars, &mut about);
        } else if let Some((k, v)) = bare.split_once('=').filter(|(k, _)| {
            k.starts_with("MYMCP_")
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        }) {
            let v = v.split("  #").next().unwrap_or("").trim();
            // The admin token's placeholder is not a default.
            let v = if v.starts_with('<') { "" } else { v };
            vars.push((k.to_string(), v.to_string()));
        } else {
            if !vars.is_empty() {
                flush(&mut vars, &mut about);
            }
            about.push(bare);
        }
    }
    flush(&mut vars, &mut about);
    groups
}

/// Write every rendered file under `dir` (creating `man/` and `completions/`).
pub(crate) fn write_to(dir: &Path) -> std::io::Result<usize> {
    let files = render()?;
    for (rel, data) in &files {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&p, data)?;
    }
    Ok(files.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(name: &str) -> String {
        let files = render().unwrap();
        let (_, data) = files
            .iter()
            .find(|(p, _)| p == &format!("man/{name}.1"))
            .unwrap();
        String::from_utf8(data.clone()).unwrap()
    }

    #[test]
    fn serve_page_documents_every_setting_and_the_files() {
        let text = page("mymcp-serve");
        let env_at = text.find(".SH ENVIRONMENT").expect("no ENVIRONMENT");
        let files_at = text.find(".SH FILES").expect("no FILES");
        assert!(env_at < files_at);
        let env = &text[env_at..files_at];
        for key in crate::config::known_keys() {
            // roff escapes nothing in these names; each is a bold tag of its own.
            assert!(
                env.contains(&format!("\\fB{key}\\fR")),
                "{key} missing from ENVIRONMENT"
            );
        }
        for (path, _) in FILES {
            assert!(text[files_at..].contains(path), "{path} missing from FILES");
        }
    }

    #[test]
    fn pages_that_read_an_env_file_point_at_the_settings() {
        let token = page("mymcp-token-add");
        assert!(token.contains(".SH ENVIRONMENT") && token.contains("mymcp\\-serve(1)"));
        let init = page("mymcp-init");
        assert!(!init.contains(".SH ENVIRONMENT") && init.contains(".SH FILES"));
        assert!(!page("mymcp-version").contains(".SH FILES"));
    }
}
