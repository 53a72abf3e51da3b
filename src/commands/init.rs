//! `mymcp init` / `uninstall-service`: set the server up as a systemd service, or take it
//! down again. The unit is rendered from the same file the packages ship
//! (`packaging/systemd/mymcp.service`), so there is one definition of how mymcp runs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::system::{connect_host, is_root, systemd_running};
use crate::cli::{Dirs, InitArgs, UninstallArgs};
use crate::config::{self, Config};
use crate::error::{PathIo, io_at};
use crate::tokens::{self, Role, TokenFile};

/// The unit the packages install; `init` rewrites a few lines of it.
pub(crate) const UNIT_TEMPLATE: &str = include_str!("../../packaging/systemd/mymcp.service");
/// First line of a unit written by `init`: `uninstall-service` only deletes units carrying it.
pub(crate) const UNIT_MARKER: &str =
    "# Written by `mymcp init`; `mymcp uninstall-service` removes it.";
/// Unit name.
pub(crate) const UNIT_NAME: &str = "mymcp.service";

/// Why a service command failed (exit 1).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    /// Needs root.
    #[error(
        "{0} manages systemd and system directories: run it as root (sudo mymcp {0}), or pass --files-only"
    )]
    NotRoot(&'static str),
    /// systemd is not PID 1.
    #[error(
        "systemd is not running on this host (/run/systemd/system is missing): pass --files-only to only write files, then run `mymcp serve --env-file …` under your supervisor"
    )]
    NoSystemd,
    /// Interactive confirmation impossible or refused.
    #[error("{0}")]
    NotConfirmed(String),
    /// A path the unit file cannot carry.
    #[error("{0}: paths with whitespace, quotes or control characters cannot go into a unit file")]
    BadPath(PathBuf),
    /// A directory this user cannot create or write.
    #[error(
        "{0} is not writable by this user: choose directories you own (--config-dir, --log-dir, …) or run as root"
    )]
    NotWritable(PathBuf),
    /// A directory too close to `/` to delete.
    #[error("refusing to delete {0}: it is not a dedicated mymcp directory")]
    UnsafeDelete(PathBuf),
    /// A failing file operation.
    #[error(transparent)]
    Io(#[from] PathIo),
    /// A failing external command.
    #[error("`{cmd}` failed: {detail}")]
    Command {
        /// Command line.
        cmd: String,
        /// Exit status and stderr.
        detail: String,
    },
    /// Existing configuration that does not parse.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Token store problem.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
    /// The certificate and key given cannot be served.
    #[error("--tls-cert/--tls-key: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// `--tls-cert` with an env file that init keeps (it never rewrites one).
    #[error(
        "--tls-cert/--tls-key: {0} exists and init keeps it as it is: add MYMCP_TLS_CERT and MYMCP_TLS_KEY to it (absolute paths), then systemctl restart mymcp"
    )]
    TlsWithExistingEnv(PathBuf),
    /// A relative certificate or key path (the service's working directory differs).
    #[error("--tls-cert/--tls-key: {0} is not an absolute path")]
    TlsRelative(PathBuf),
    /// Started, but never became healthy.
    #[error(
        "the service did not answer /health on {0} within 15 s; see `journalctl -u mymcp` and `mymcp doctor`"
    )]
    Unhealthy(String),
}

fn run(cmd: &str, args: &[&str]) -> Result<String, ServiceError> {
    let line = format!("{cmd} {}", args.join(" "));
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| ServiceError::Command {
            cmd: line.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ServiceError::Command {
            cmd: line,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

fn unit_safe(p: &Path) -> Result<String, ServiceError> {
    let s = p.to_string_lossy();
    if !p.is_absolute()
        || s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '%'))
    {
        return Err(ServiceError::BadPath(p.to_path_buf()));
    }
    Ok(s.into_owned())
}

/// Everything `init` decides before touching the disk.
#[derive(Debug, Clone)]
pub(crate) struct InitPlan {
    /// Directories, defaults filled in.
    pub(crate) dirs: Dirs,
    /// `<config-dir>/.env`.
    pub(crate) env_file: PathBuf,
    /// Keep the env file that is already there.
    pub(crate) env_exists: bool,
    /// `<config-dir>/tokens.json` (or what the existing env file names).
    pub(crate) token_file: PathBuf,
    /// Unit path, when one is written.
    pub(crate) unit_path: Option<PathBuf>,
    /// Unit contents.
    pub(crate) unit_text: String,
    /// Address clients use.
    pub(crate) url: String,
    /// Address the health check uses.
    pub(crate) health: String,
    /// The certificate the health check expects, when the service serves HTTPS.
    pub(crate) health_cert: Option<PathBuf>,
}

/// Render the unit for the given options (binary path and directories substituted).
pub(crate) fn render_unit(
    a: &InitArgs,
    dirs: &Dirs,
    binary: &Path,
) -> Result<String, ServiceError> {
    let cfg_dir = unit_safe(&dirs.config)?;
    let bin = unit_safe(binary)?;
    unit_safe(&dirs.log)?;
    unit_safe(&dirs.recorder)?;
    let env = format!("{cfg_dir}/.env");
    let logs = dirs.log.strip_prefix("/var/log").ok();
    let state = dirs.recorder.strip_prefix("/var/lib").ok();
    let mut out = format!("{UNIT_MARKER}\n");
    for line in UNIT_TEMPLATE.lines() {
        let key = line.split('=').next().unwrap_or("");
        let new = match key {
            "User" => format!("User={}", a.service_user),
            "WorkingDirectory" => format!("WorkingDirectory={cfg_dir}"),
            "ExecStart" => format!("ExecStart={bin} serve --env-file {env}"),
            // systemd creates (and chowns to User=) directories under /var/log and /var/lib;
            // elsewhere init creates them itself.
            "LogsDirectory" | "LogsDirectoryMode" => match logs {
                Some(rel) if !rel.as_os_str().is_empty() => {
                    if key == "LogsDirectory" {
                        format!("LogsDirectory={}", rel.display())
                    } else {
                        line.to_string()
                    }
                }
                _ => continue,
            },
            "StateDirectory" | "StateDirectoryMode" => match state {
                Some(rel) if !rel.as_os_str().is_empty() => {
                    if key == "StateDirectory" {
                        format!("StateDirectory={}", rel.display())
                    } else {
                        line.to_string()
                    }
                }
                _ => continue,
            },
            _ => line.to_string(),
        };
        out.push_str(&new);
        out.push('\n');
    }
    Ok(out)
}

/// The env file `init` writes for a fresh install.
pub(crate) fn render_env(a: &InitArgs, dirs: &Dirs, admin: &str, metrics: &str) -> String {
    let audit = a.audit.unwrap_or(!a.no_audit);
    let cfg = dirs.config.display();
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => format!(
            "MYMCP_TLS_CERT={}\nMYMCP_TLS_KEY={}\n",
            c.display(),
            k.display()
        ),
        _ => String::new(),
    };
    format!(
        "# Written by `mymcp init`. Mode 0600: it holds the admin token.\n\
         # All settings: `mymcp config example`. Restart after editing: systemctl restart mymcp\n\
         MYMCP_HOST={host}\n\
         MYMCP_PORT={port}\n\
         MYMCP_ADMIN_TOKEN={admin}\n\
         MYMCP_METRICS_TOKEN={metrics}\n\
         MYMCP_TOKEN_FILE={cfg}/tokens.json\n\
         MYMCP_AUDIT_ENABLED={audit}\n\
         MYMCP_AUDIT_LOG_DIR={log}\n\
         MYMCP_RECORDER_ENABLED=false\n\
         MYMCP_RECORDER_DATA_DIR={rec}\n\
         {tls}",
        host = a.bind,
        port = a.port,
        log = dirs.log.display(),
        rec = dirs.recorder.display(),
    )
}

fn client_host(bind: &str) -> String {
    match bind {
        "0.0.0.0" | "::" | "[::]" => rustix::system::uname()
            .nodename()
            .to_string_lossy()
            .into_owned(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    }
}

/// Work out what `init` will do.
pub(crate) fn plan_init(a: &InitArgs) -> Result<InitPlan, ServiceError> {
    let dirs = a.dirs.resolve(a.files_only);
    let env_file = dirs.config.join(".env");
    let env_exists = env_file.exists();
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(cert), Some(key)) => {
            if env_exists {
                return Err(ServiceError::TlsWithExistingEnv(env_file));
            }
            for p in [cert, key] {
                if !p.is_absolute() {
                    return Err(ServiceError::TlsRelative(p.clone()));
                }
            }
            let files = crate::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                allow_insecure_key_mode: false,
            };
            crate::tls::load(&files, std::time::SystemTime::now())?;
            Some(files)
        }
        _ => None,
    };
    let (host, port, token_file, served) = if env_exists {
        let src = config::discover_env_file(Some(&env_file), &Default::default())?;
        let cfg = Config::resolve(&Default::default(), &src)?;
        (cfg.host, cfg.port, cfg.token_file, cfg.tls)
    } else {
        (a.bind.clone(), a.port, dirs.config.join("tokens.json"), tls)
    };
    let scheme = if served.is_some() { "https" } else { "http" };
    // A package's postinst may run in a chroot without /proc; it writes no unit anyway.
    let binary = match std::env::current_exe() {
        Ok(b) => b,
        Err(_) if a.no_unit => PathBuf::from("/usr/bin/mymcp"),
        Err(e) => return Err(ServiceError::from(io_at(Path::new("/proc/self/exe"))(e))),
    };
    let unit_path = match &dirs.unit {
        Some(d) if !a.no_unit => Some(d.join(UNIT_NAME)),
        _ => None,
    };
    let unit_text = if unit_path.is_some() {
        render_unit(a, &dirs, &binary)?
    } else {
        String::new()
    };
    Ok(InitPlan {
        dirs,
        env_file,
        env_exists,
        token_file,
        unit_path,
        unit_text,
        url: format!("{scheme}://{}:{port}/mcp", client_host(&host)),
        health: format!("{}:{port}", connect_host(&host)),
        health_cert: served.map(|f| f.cert),
    })
}

fn describe(a: &InitArgs, p: &InitPlan) -> Vec<String> {
    let mut v = Vec::new();
    for d in [&p.dirs.config, &p.dirs.log, &p.dirs.recorder] {
        v.push(format!("create directory {} (0750)", d.display()));
    }
    if p.env_exists {
        v.push(format!(
            "keep existing {} (admin token unchanged)",
            p.env_file.display()
        ));
    } else {
        v.push(format!(
            "write {} (0600) with a new admin token{}",
            p.env_file.display(),
            if metrics_wanted(a) {
                " and metrics token"
            } else {
                ""
            }
        ));
    }
    if !a.no_client_token {
        v.push(format!(
            "add client token {:?} ({}) to {} (0600)",
            a.client_name,
            a.client_role,
            p.token_file.display()
        ));
    }
    if a.service_user == "mymcp" {
        v.push("create system user mymcp if missing; give it the directories above".into());
    }
    if let Some(u) = &p.unit_path {
        v.push(format!("write {} (User={})", u.display(), a.service_user));
    }
    if !a.files_only {
        v.push("systemctl daemon-reload; systemctl enable mymcp".into());
        if start_wanted(a) {
            v.push(format!(
                "systemctl restart mymcp; wait for {}://{}/health",
                if p.health_cert.is_some() {
                    "https"
                } else {
                    "http"
                },
                p.health
            ));
        }
    }
    v
}

fn metrics_wanted(a: &InitArgs) -> bool {
    !a.no_metrics
}

fn start_wanted(a: &InitArgs) -> bool {
    !a.no_start && a.start.unwrap_or(true)
}

fn confirm(question: &str, yes: bool) -> Result<(), ServiceError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(ServiceError::NotConfirmed(
            "standard input is not a terminal: pass --yes to proceed without a prompt".into(),
        ));
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
        Ok(())
    } else {
        Err(ServiceError::NotConfirmed(
            "aborted; nothing changed".into(),
        ))
    }
}

fn make_dir(d: &Path) -> Result<(), ServiceError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if !d.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(d)
            .map_err(io_at(d))?;
        // DirBuilder's mode is filtered by the umask; state it exactly.
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o750)).map_err(io_at(d))?;
    }
    Ok(())
}

fn ensure_service_user() -> Result<(), ServiceError> {
    if Command::new("id")
        .args(["-u", "mymcp"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Ok(());
    }
    run(
        "useradd",
        &[
            "--system",
            "--user-group",
            "--home-dir",
            "/nonexistent",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            "--comment",
            "mymcp MCP server",
            "mymcp",
        ],
    )
    .map(|_| ())
}

/// What `init` produced, for the summary.
#[derive(Debug)]
pub(crate) struct InitOutcome {
    /// The plan that was carried out.
    pub(crate) plan: InitPlan,
    /// The new client token, when one was made.
    pub(crate) client_token: Option<String>,
}

/// `mymcp init`: returns what was done (the caller prints the summary).
pub(crate) fn init(a: &InitArgs) -> Result<Option<InitOutcome>, ServiceError> {
    let plan = plan_init(a)?;
    let mut places = vec![&plan.dirs.config, &plan.dirs.log, &plan.dirs.recorder];
    places.extend(plan.unit_path.as_ref());
    let refusal = refusal("init", a.files_only, &places);
    if a.dry_run {
        println!("mymcp init --dry-run: nothing is changed. Would:");
        for step in describe(a, &plan) {
            println!("  - {step}");
        }
        if let Some(e) = refusal {
            println!();
            println!("Note: the real run would refuse: {e}");
        }
        return Ok(None);
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    let files_only = a.files_only;
    if !a.yes {
        println!("mymcp init will:");
        for step in describe(a, &plan) {
            println!("  - {step}");
        }
    }
    confirm("Proceed?", a.yes)?;

    if a.service_user == "mymcp" && is_root() {
        ensure_service_user()?;
    }
    for d in [&plan.dirs.config, &plan.dirs.log, &plan.dirs.recorder] {
        make_dir(d)?;
    }
    if !plan.env_exists {
        let admin = tokens::generate_token();
        let metrics = if metrics_wanted(a) {
            tokens::generate_token()
        } else {
            String::new()
        };
        crate::fsutil::atomic_write(
            &plan.env_file,
            render_env(a, &plan.dirs, &admin, &metrics).as_bytes(),
            0o600,
        )
        .map_err(io_at(&plan.env_file))?;
    }
    let file = TokenFile::new(&plan.token_file);
    let client_token = if a.no_client_token {
        // Still create the (empty) store so the file exists with the right mode.
        file.modify(|_| Ok(((), true)))?;
        None
    } else {
        let role = Role::parse(&a.client_role).unwrap_or(Role::Rw);
        // Re-running init keeps the client token it made the first time (its value was
        // shown then and may be in use); revoke it to have a new one minted.
        let (tok, _) = file.modify(|s| match s.id_of_name(&a.client_name) {
            Some(_) => Ok((None, false)),
            None => Ok((Some(s.add(&a.client_name, role)?.0), true)),
        })?;
        tok
    };
    if a.service_user == "mymcp" && is_root() {
        let mut args = vec!["-R".to_string(), "mymcp:mymcp".to_string()];
        for d in [&plan.dirs.config, &plan.dirs.log, &plan.dirs.recorder] {
            args.push(d.to_string_lossy().into_owned());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        run("chown", &refs)?;
    }
    if let Some(u) = &plan.unit_path {
        if let Some(parent) = u.parent() {
            std::fs::create_dir_all(parent).map_err(io_at(parent))?;
        }
        crate::fsutil::atomic_write(u, plan.unit_text.as_bytes(), 0o644).map_err(io_at(u))?;
    }
    if !files_only {
        run("systemctl", &["daemon-reload"])?;
        run("systemctl", &["enable", "--quiet", UNIT_NAME])?;
        if start_wanted(a) {
            run("systemctl", &["restart", UNIT_NAME])?;
            wait_healthy(&plan.health, plan.health_cert.as_deref())?;
        }
    }
    Ok(Some(InitOutcome { plan, client_token }))
}

/// Print the end-of-init summary: URL, token, a ready `claude mcp add` line.
pub(crate) fn print_summary(a: &InitArgs, o: &InitOutcome) {
    println!("mymcp is set up.");
    println!("  URL:          {}", o.plan.url);
    match &o.client_token {
        Some(t) => println!(
            "  client token: {t}   ({}, name {:?}; shown only now)",
            a.client_role, a.client_name
        ),
        None if !a.no_client_token => println!(
            "  client token: {:?} already exists, kept (revoke it, see `mymcp token list`, and re-run init for a new one)",
            a.client_name
        ),
        None => {}
    }
    println!(
        "  admin token:  MYMCP_ADMIN_TOKEN in {}",
        o.plan.env_file.display()
    );
    if let Some(u) = &o.plan.unit_path {
        println!("  unit:         {}", u.display());
    }
    if let Some(t) = &o.client_token {
        println!();
        println!("Claude Code:");
        println!(
            "  claude mcp add --transport http mymcp {} --header \"Authorization: Bearer {t}\"",
            o.plan.url
        );
    }
    if a.bind == "0.0.0.0" || a.bind == "::" {
        println!();
        println!(
            "Note: the server listens on all interfaces over plain HTTP; put a TLS proxy in front."
        );
    }
    println!();
    if a.files_only {
        println!(
            "Start it: mymcp serve --env-file {}",
            o.plan.env_file.display()
        );
    } else if o.plan.dirs.config == Path::new("/etc/mymcp") {
        println!("Check it: sudo mymcp doctor");
    } else {
        println!(
            "Check it: sudo mymcp doctor --config-dir {}",
            o.plan.dirs.config.display()
        );
    }
}

/// Why the real run of `cmd` would stop before changing anything, if it would: not root or no
/// systemd (unless `--files-only`), or a place it must write that this user cannot.
fn refusal(cmd: &'static str, files_only: bool, places: &[&PathBuf]) -> Option<ServiceError> {
    if !files_only && !is_root() {
        return Some(ServiceError::NotRoot(cmd));
    }
    if !files_only && !systemd_running() {
        return Some(ServiceError::NoSystemd);
    }
    places
        .iter()
        .find(|p| !writable(p))
        .map(|p| ServiceError::NotWritable(p.to_path_buf()))
}

/// Whether this user can write `p`, or create it: the nearest existing ancestor decides.
fn writable(p: &Path) -> bool {
    let mut at = Some(p);
    while let Some(d) = at {
        if d.exists() {
            return rustix::fs::access(d, rustix::fs::Access::WRITE_OK).is_ok();
        }
        at = d.parent();
    }
    false
}

fn wait_healthy(addr: &str, cert: Option<&Path>) -> Result<(), ServiceError> {
    let target = match cert {
        None => super::system::Target::plain(addr),
        Some(c) => super::system::Target::pinned(addr, c)
            .map_err(|e| ServiceError::Unhealthy(format!("{addr} ({e})")))?,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if super::system::http_get_status(&target, "/health").is_ok_and(|s| s == 200) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(ServiceError::Unhealthy(addr.to_string()))
}

/// Directories `uninstall-service --purge` will not delete, whatever it is told.
fn deletable(d: &Path) -> bool {
    let deny = [
        "/", "/etc", "/var", "/var/log", "/var/lib", "/usr", "/home", "/root", "/tmp", "/opt",
        "/srv", "/run",
    ];
    // `/etc/mymcp` has three components (root, etc, mymcp); anything shallower is shared.
    d.is_absolute() && d.components().count() >= 3 && !deny.iter().any(|x| Path::new(x) == d)
}

/// `mymcp uninstall-service [--purge]`.
pub(crate) fn uninstall(a: &UninstallArgs) -> Result<(), ServiceError> {
    let dirs = a.dirs.resolve(a.files_only);
    let unit = dirs.unit.as_ref().map(|d| d.join(UNIT_NAME));
    let ours = unit.as_ref().is_some_and(|u| {
        std::fs::read_to_string(u)
            .map(|t| t.starts_with(UNIT_MARKER))
            .unwrap_or(false)
    });
    let mut steps = Vec::new();
    if !a.files_only {
        steps.push("systemctl disable --now mymcp".to_string());
    }
    match &unit {
        Some(u) if ours => steps.push(format!("delete {}", u.display())),
        Some(u) if u.exists() => {
            steps.push(format!("keep {} (not written by mymcp init)", u.display()))
        }
        _ => {}
    }
    let purged = [&dirs.config, &dirs.log, &dirs.recorder];
    if a.purge {
        for d in purged {
            if !deletable(d) {
                return Err(ServiceError::UnsafeDelete(d.to_path_buf()));
            }
            steps.push(format!("delete {} and everything in it", d.display()));
        }
    } else {
        steps.push(format!(
            "keep {}, {} and {} (pass --purge to delete them)",
            dirs.config.display(),
            dirs.log.display(),
            dirs.recorder.display()
        ));
    }
    let mut places: Vec<&PathBuf> = Vec::new();
    if ours {
        places.extend(unit.as_ref());
    }
    if a.purge {
        places.extend(purged.iter().copied().filter(|d| d.exists()));
    }
    let refusal = refusal("uninstall-service", a.files_only, &places);
    if a.dry_run {
        println!("mymcp uninstall-service --dry-run: nothing is changed. Would:");
        for s in &steps {
            println!("  - {s}");
        }
        if let Some(e) = refusal {
            println!();
            println!("Note: the real run would refuse: {e}");
        }
        return Ok(());
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    println!("mymcp uninstall-service will:");
    for s in &steps {
        println!("  - {s}");
    }
    confirm("Proceed?", a.yes)?;
    if !a.files_only {
        // A unit that is not loaded (never installed) is fine; anything else is reported.
        if let Err(e) = run("systemctl", &["disable", "--now", "--quiet", UNIT_NAME]) {
            eprintln!("warning: {e}");
        }
    }
    if let (true, Some(u)) = (ours, &unit) {
        std::fs::remove_file(u).map_err(io_at(u))?;
    }
    if !a.files_only {
        run("systemctl", &["daemon-reload"])?;
    }
    if a.purge {
        for d in purged {
            match std::fs::remove_dir_all(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ServiceError::from(io_at(d)(e))),
            }
        }
    }
    println!("done.");
    Ok(())
}
