//! The binary's edge: argument parsing, logging set-up, running one command and mapping its
//! outcome to an exit code (0 ok, 1 failure, 2 usage). `anyhow` is used here and nowhere else.

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{self, Cli, Command, ConfigCommand};
use crate::commands::{self, assets, doctor, init as service};
use crate::config::{self, LogFormat};
use crate::{daemon, otel, recorder, sandbox, scrub};

/// Parse the command line, run the command, print a failure as `<command>: <error>` and
/// map it to the exit code (0 ok, 1 failure, 2 usage; clap exits 0/2 itself).
pub fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    // The ro shell's helper runs once per confined command: parse its arguments alone,
    // without building (twice) the whole command tree.
    if raw.get(1).is_some_and(|a| a == "confine-exec") {
        use clap::{Args, FromArgMatches};
        let cmd = cli::ConfineArgs::augment_args(clap::Command::new("confine-exec"));
        let parsed = cmd
            .try_get_matches_from(&raw[1..])
            .and_then(|m| cli::ConfineArgs::from_arg_matches(&m));
        match parsed {
            Ok(a) => sandbox::fail(&sandbox::confine_exec(&helper_args(a))),
            Err(e) => e.exit(),
        }
    }
    let args = cli::normalize_args(raw);
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version with exit 0 and usage errors with exit 2.
            e.exit();
        }
    };
    let name = command_name(cli.command.as_ref());
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            // Our errors' messages already include their causes: print the top one only.
            eprintln!("{name}: {e}");
            ExitCode::from(1)
        }
    }
}

/// The subcommand's name as failures are prefixed with.
fn command_name(c: Option<&Command>) -> &'static str {
    match c {
        Some(Command::Token(_)) => "token",
        Some(Command::Serve(_)) => "serve",
        Some(Command::Stdio(_)) => "stdio",
        Some(Command::Init(_)) => "init",
        Some(Command::UninstallService(_)) => "uninstall-service",
        Some(Command::Doctor(_)) => "doctor",
        Some(Command::Recorder(_)) => "recorder",
        Some(Command::GenerateAssets { .. }) => "generate-assets",
        Some(Command::ConfineExec(_)) => "confine-exec",
        Some(Command::Config(_)) => "config",
        Some(Command::Version) | None => "mymcp",
    }
}

/// Run one command. The only place that turns typed errors into `anyhow`.
fn run(command: Option<Command>) -> anyhow::Result<ExitCode> {
    match command {
        None => commands::status(),
        Some(Command::Version) => println!("mymcp {}", env!("CARGO_PKG_VERSION")),
        Some(Command::Config(ConfigCommand::Example)) => print!("{}", config::example_env()),
        Some(Command::Token(t)) => {
            init_logging("warn", LogFormat::Text);
            commands::token(t)?;
        }
        Some(Command::Serve(a)) => serve(a)?,
        Some(Command::Stdio(a)) => stdio(a)?,
        Some(Command::Init(a)) => {
            if let Some(outcome) = service::init(&a)? {
                service::print_summary(&a, &outcome);
            }
        }
        Some(Command::UninstallService(a)) => service::uninstall(&a)?,
        Some(Command::Doctor(a)) => {
            let checks = doctor::run_checks(&a);
            return Ok(ExitCode::from(doctor::report(&a, &checks)));
        }
        Some(Command::Recorder(a)) => run_recorder(a)?,
        Some(Command::ConfineExec(a)) => sandbox::fail(&sandbox::confine_exec(&helper_args(a))),
        Some(Command::GenerateAssets { dir }) => {
            let n =
                assets::write_to(&dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
            println!("wrote {n} files under {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The helper's command line, as the sandbox module takes it.
fn helper_args(a: cli::ConfineArgs) -> sandbox::HelperArgs {
    sandbox::HelperArgs {
        uid: a.uid,
        gid: a.gid,
        groups: a.groups,
        tmp: a.tmp,
        protect: a.protect,
        probe: a.probe,
        command: a.command,
    }
}

fn serve(a: cli::ServeArgs) -> anyhow::Result<()> {
    let env = config::process_env();
    let scrubbed = scrub::scrub_environment_block();
    let opts = daemon::ServeOptions {
        env_file: a.env_file,
        host: a.host,
        port: a.port,
        with_metrics_token: a.with_metrics_token,
    };
    let prepared = daemon::prepare(&opts, &env)?;
    let cfg = &prepared.state.config;
    let level = a.log.log_level.unwrap_or_else(|| cfg.log_level.clone());
    init_logging(&level, a.log_format.unwrap_or(cfg.log_format));
    log_scrub(scrubbed);
    for w in &prepared.warnings {
        tracing::warn!("{w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let result = rt.block_on(daemon::run(prepared, env));
    otel::shutdown();
    Ok(result?)
}

fn stdio(a: cli::StdioArgs) -> anyhow::Result<()> {
    let env = config::process_env();
    let scrubbed = scrub::scrub_environment_block();
    let role = if a.role == "rw" {
        crate::tokens::Role::Rw
    } else {
        crate::tokens::Role::Ro
    };
    let (state, warnings) = daemon::prepare_local(a.env_file.as_deref(), &env, role)?;
    // Logs go to stderr (init_logging never writes to stdout, which carries the protocol).
    let level = a
        .log
        .log_level
        .unwrap_or_else(|| state.config.log_level.clone());
    init_logging(&level, state.config.log_format);
    log_scrub(scrubbed);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let result = rt.block_on(crate::stdio::run(state, crate::stdio::local_caller(role)));
    otel::shutdown();
    // A pending read of stdin cannot be cancelled; do not wait for it at runtime shutdown.
    rt.shutdown_background();
    Ok(result?)
}

fn run_recorder(a: cli::RecorderArgs) -> anyhow::Result<()> {
    use recorder::{Recorder, RecorderConfig};
    if a.install_unit {
        let bin = std::env::current_exe().unwrap_or_else(|_| "/usr/bin/mymcp".into());
        let env = a
            .env_file
            .clone()
            .unwrap_or_else(|| config::SYSTEM_ENV_FILE.into());
        print!("{}", recorder::unit_text(&bin, &env));
        return Ok(());
    }
    let env = config::process_env();
    let scrubbed = scrub::scrub_environment_block();
    let cfg = config::discover_env_file(a.env_file.as_deref(), &env)
        .map_err(recorder::RecorderError::from)
        .and_then(|src| RecorderConfig::resolve(&env, &src))?;
    init_logging(&env_or(&env, "MYMCP_LOG_LEVEL", "info"), LogFormat::Text);
    log_scrub(scrubbed);
    if !cfg.enabled {
        eprintln!("recorder: disabled (MYMCP_RECORDER_ENABLED is not true); nothing to do");
        return Ok(());
    }
    tracing::info!(config = %recorder::redacted(&cfg), "recorder starting");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    rt.block_on(async {
        let mut rec = Recorder::new(cfg)?;
        if a.once {
            let reason = rec.cycle().await;
            println!("{}", serde_json::json!({"reason": reason.as_str()}));
            return Ok(());
        }
        let stop = async {
            use tokio::signal::unix::{SignalKind, signal};
            match (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! { _ = t.recv() => {}, _ = i.recv() => {} }
                }
                _ => std::future::pending::<()>().await,
            }
        };
        rec.run(stop).await;
        tracing::info!("recorder stopped");
        Ok(())
    })
}

/// Say what happened to secrets in the process environment: they should not be there at all.
fn log_scrub(r: Result<usize, scrub::ScrubError>) {
    match r {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            blanked = n,
            "secrets were passed as environment variables; blanked them in /proc/self/environ \
             (prefer --env-file: see docs/security.md)"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "could not blank secrets in the process environment block")
        }
    }
}

fn env_or(env: &std::collections::BTreeMap<String, String>, k: &str, d: &str) -> String {
    env.get(k).cloned().unwrap_or_else(|| d.to_string())
}

fn init_logging(level: &str, format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let level = match level.to_ascii_lowercase().as_str() {
        "warning" => "warn".to_string(),
        "critical" => "error".to_string(),
        other => other.to_string(),
    };
    use tracing_subscriber::Layer;
    use tracing_subscriber::prelude::*;
    // rmcp logs every stateless request at INFO; keep it to warnings.
    let filter = || {
        EnvFilter::try_new(format!("{level},rmcp=warn"))
            .unwrap_or_else(|_| EnvFilter::new("info,rmcp=warn"))
    };
    let (text, json) = match format {
        LogFormat::Text => (
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    // Colour codes only for a terminal: journald and log files get plain text.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_filter(filter()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_filter(filter()),
            ),
        ),
    };
    let _ = tracing_subscriber::registry()
        .with(text)
        .with(json)
        .with(otel::layer())
        .try_init();
    otel::init_metrics();
}
