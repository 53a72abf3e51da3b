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
    out.push((format!("man/{page}.1"), buf));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        render_man(sub, &format!("{page}-{}", sub.get_name()), out)?;
    }
    Ok(())
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
