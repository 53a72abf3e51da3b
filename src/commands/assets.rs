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
        clap_complete::generate(shell, &mut crate::cli::command(), "mymcp", &mut buf);
        out.push((format!("completions/{file}"), buf));
    }
    Ok(out)
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
