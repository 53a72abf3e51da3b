//! `mymcp` binary: argument parsing, logging set-up and exit codes (0 ok, 1 failure, 2 usage).

use std::process::ExitCode;

use clap::Parser;
use mymcp::cli::{Cli, Command, ConfigCommand};
use mymcp::config::{self, LogFormat};
use mymcp::{commands, server};

// musl's malloc takes a global lock; see benches/alloc.sh and docs/decisions.md.
#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = mymcp::cli::normalize_args(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version with exit 0 and usage errors with exit 2.
            e.exit();
        }
    };
    match cli.command {
        None => {
            commands::status();
            ExitCode::SUCCESS
        }
        Some(Command::Version) => {
            println!("mymcp {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(Command::Config(ConfigCommand::Example)) => {
            print!("{}", config::example_env());
            ExitCode::SUCCESS
        }
        Some(Command::Token(t)) => {
            init_logging("warn", LogFormat::Text);
            match commands::token(t) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("token: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Some(Command::Serve(a)) => serve(a),
        Some(Command::Init(a)) => match mymcp::service::init(&a) {
            Ok(Some(outcome)) => {
                mymcp::service::print_summary(&a, &outcome);
                ExitCode::SUCCESS
            }
            Ok(None) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("init: {e}");
                ExitCode::from(1)
            }
        },
        Some(Command::UninstallService(a)) => match mymcp::service::uninstall(&a) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("uninstall-service: {e}");
                ExitCode::from(1)
            }
        },
        Some(Command::Doctor(a)) => {
            let checks = mymcp::doctor::run_checks(&a);
            ExitCode::from(mymcp::doctor::report(&a, &checks))
        }
        Some(Command::Recorder(a)) => recorder(a),
        Some(Command::GenerateAssets { dir }) => match mymcp::assets::write_to(&dir) {
            Ok(n) => {
                println!("wrote {n} files under {}", dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("generate-assets: {}: {e}", dir.display());
                ExitCode::from(1)
            }
        },
    }
}

fn serve(a: mymcp::cli::ServeArgs) -> ExitCode {
    let env = config::process_env();
    let scrubbed = mymcp::scrub::scrub_environment_block();
    let opts = server::ServeOptions {
        env_file: a.env_file,
        host: a.host,
        port: a.port,
        with_metrics_token: a.with_metrics_token,
    };
    let prepared = match server::prepare(&opts, &env) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = &prepared.state.config;
    let level = a.log_level.unwrap_or_else(|| cfg.log_level.clone());
    init_logging(&level, a.log_format.unwrap_or(cfg.log_format));
    log_scrub(scrubbed);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serve: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(server::run(prepared, env));
    mymcp::otel::shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::from(1)
        }
    }
}

fn recorder(a: mymcp::cli::RecorderArgs) -> ExitCode {
    use mymcp::recorder::{Recorder, RecorderConfig};
    if a.install_unit {
        let bin = std::env::current_exe().unwrap_or_else(|_| "/usr/bin/mymcp".into());
        let env = a
            .env_file
            .clone()
            .unwrap_or_else(|| config::SYSTEM_ENV_FILE.into());
        print!("{}", mymcp::recorder::unit_text(&bin, &env));
        return ExitCode::SUCCESS;
    }
    let env = config::process_env();
    let scrubbed = mymcp::scrub::scrub_environment_block();
    let cfg = match config::discover_env_file(a.env_file.as_deref(), &env)
        .map_err(mymcp::recorder::RecorderError::from)
        .and_then(|src| RecorderConfig::resolve(&env, &src))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("recorder: {e}");
            return ExitCode::from(1);
        }
    };
    init_logging(&env_or(&env, "MYMCP_LOG_LEVEL", "info"), LogFormat::Text);
    log_scrub(scrubbed);
    if !cfg.enabled {
        eprintln!("recorder: disabled (MYMCP_RECORDER_ENABLED is not true); nothing to do");
        return ExitCode::SUCCESS;
    }
    tracing::info!(config = %mymcp::recorder::redacted(&cfg), "recorder starting");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("recorder: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async {
        let mut rec = match Recorder::new(cfg) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("recorder: {e}");
                return ExitCode::from(1);
            }
        };
        if a.once {
            let reason = rec.cycle().await;
            println!("{}", serde_json::json!({"reason": reason.as_str()}));
            return ExitCode::SUCCESS;
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
        ExitCode::SUCCESS
    })
}

/// Say what happened to secrets in the process environment: they should not be there at all.
fn log_scrub(r: Result<usize, mymcp::scrub::ScrubError>) {
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
        .with(mymcp::otel::layer())
        .try_init();
    mymcp::otel::init_metrics();
}
