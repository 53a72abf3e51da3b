//! `mymcp serve`: start-up (config, tokens, temp-token mode), the accept loop, signals,
//! background reloads and the ticket sweeper, and graceful shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::{self, Config, EnvSource};
use crate::guard::Guard;
use crate::hosts::HostPolicy;
use crate::http;
use crate::state::AppState;
use crate::tokens::{self, Role, TokenFile, TokenStore};
use crate::tools::Services;

/// A connection whose peer accepts none of our bytes for this long is closed: a client that
/// stops reading a download (or any reply) must not hold its buffers and slot forever.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// A TLS handshake not finished in this long is dropped (the same budget as a request head).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Options from the `serve` command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct ServeOptions {
    /// `--env-file`.
    pub(crate) env_file: Option<PathBuf>,
    /// `--host`.
    pub(crate) host: Option<String>,
    /// `--port`.
    pub(crate) port: Option<u16>,
    /// `--with-metrics-token` (temp-token mode only).
    pub(crate) with_metrics_token: bool,
}

/// Start-up failures (exit 1).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServeError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Token file problem.
    #[error(transparent)]
    Tokens(#[from] tokens::TokenError),
    /// Not in temp mode and no admin token.
    #[error(
        "MYMCP_ADMIN_TOKEN is not set in {0} — run `sudo mymcp init` to configure this host, or `mymcp doctor` to diagnose"
    )]
    NoAdminToken(String),
    /// An admin or metrics token that must not be used (placeholder, whitespace, too short).
    #[error("{var} {reason}: make a real one with `{fix}`")]
    WeakToken {
        /// The variable.
        var: &'static str,
        /// What is wrong with its value.
        reason: String,
        /// The command that writes a good one.
        fix: String,
    },
    /// `MYMCP_TLS_CERT`/`MYMCP_TLS_KEY` name a pair that cannot be served.
    #[error("MYMCP_TLS_CERT/MYMCP_TLS_KEY: {0}")]
    Tls(#[from] crate::tls::TlsError),
    /// The OAuth client could not be built (TLS roots).
    #[error("MYMCP_OAUTH_ISSUER: {0}")]
    OAuth(String),
    /// `MYMCP_RO_SHELL=true` but the confinement cannot be had.
    #[error("MYMCP_RO_SHELL: {0}")]
    RoShell(#[from] crate::sandbox::SandboxError),
    /// Could not bind.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
}

/// Prepared server: state plus the resolved bind address.
pub(crate) struct Prepared {
    /// Shared state.
    pub(crate) state: Arc<AppState>,
    /// Tokens to print once in temp-token mode: (label, value).
    pub(crate) temp_tokens: Vec<(&'static str, String)>,
    /// Things the operator should know, logged once logging is set up: unknown settings,
    /// a readable env file, temp tokens on a non-loopback address.
    pub(crate) warnings: Vec<String>,
    /// The env file's identity when the configuration was read from it.
    env_stamp: EnvStamp,
}

/// Resolve configuration and tokens. No socket yet.
pub(crate) fn prepare(
    opts: &ServeOptions,
    env: &BTreeMap<String, String>,
) -> Result<Prepared, ServeError> {
    let source = config::discover_env_file(opts.env_file.as_deref(), env)?;
    let mut cfg = Config::resolve(env, &source)?;
    let temp_mode = matches!(source, EnvSource::None) && !env.contains_key("MYMCP_ADMIN_TOKEN");
    if let Some(h) = &opts.host {
        cfg.host = h.clone();
    } else if temp_mode && !env.contains_key("MYMCP_HOST") {
        // Throwaway tokens never face the network unless asked for: they are printed to a
        // terminal and anyone who reads it could use them from elsewhere.
        cfg.host = "127.0.0.1".to_string();
    }
    if let Some(p) = opts.port {
        cfg.port = p;
    }
    let warnings = start_warnings(&source, &cfg, temp_mode);
    let env_stamp = source.file().and_then(|f| f.stamp);
    let where_ = cfg
        .env_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "the environment".to_string());
    for (var, value, cmd) in [
        ("MYMCP_ADMIN_TOKEN", &cfg.admin_token, "rotate-admin"),
        ("MYMCP_METRICS_TOKEN", &cfg.metrics_token, "rotate-metrics"),
    ] {
        if let Some(reason) = (!value.is_empty())
            .then(|| config::weak_token(value.expose()))
            .flatten()
        {
            let fix = match &cfg.env_file {
                Some(p) => format!("mymcp token {cmd} --env-file {}", p.display()),
                None => format!("mymcp token {cmd} --env-file PATH"),
            };
            return Err(ServeError::WeakToken { var, reason, fix });
        }
    }
    let mut temp_tokens = Vec::new();
    let store;
    if temp_mode {
        store = TokenStore::open(None)?;
        let admin = tokens::generate_token();
        let rw = tokens::generate_token();
        store.set_admin_token(&admin);
        store.insert_ephemeral(&rw, "temp-rw", Role::Rw);
        temp_tokens.push(("admin", admin));
        temp_tokens.push(("rw", rw));
        if opts.with_metrics_token {
            let m = tokens::generate_token();
            store.set_metrics_token(&m);
            temp_tokens.push(("metrics", m));
        } else {
            store.set_metrics_token(cfg.metrics_token.expose());
        }
    } else {
        if cfg.admin_token.is_empty() {
            return Err(ServeError::NoAdminToken(where_));
        }
        let file = TokenFile::new(&cfg.token_file);
        if file.stamp().is_none() {
            // Create it now so operators see where tokens live (and permissions are right).
            file.modify(|_| Ok(((), true)))?;
        }
        store = TokenStore::open(Some(file))?;
        store.set_admin_token(cfg.admin_token.expose());
        store.set_metrics_token(cfg.metrics_token.expose());
    }
    let token_path = (!temp_mode).then(|| cfg.token_file.clone());
    let guard = Guard::from_config(&cfg, token_path.as_deref());
    let mut warnings = warnings;
    let ro_shell = if cfg.ro_shell {
        let shell = ro_shell_of(&cfg, &guard)?;
        warnings.push(format!(
            "MYMCP_RO_SHELL is on: ro tokens can run commands, confined ({}; {})",
            shell.1,
            shell.0.describe()
        ));
        Some(shell.0)
    } else {
        None
    };
    let tls = cfg.tls.clone().map(crate::tls::Tls::new).transpose()?;
    Ok(Prepared {
        state: app_state(cfg, store, temp_mode, guard, ro_shell, tls)?,
        temp_tokens,
        warnings,
        env_stamp,
    })
}

/// The shared state of a server (or a stdio session) from its resolved parts.
fn app_state(
    cfg: Config,
    store: TokenStore,
    temp_mode: bool,
    guard: Guard,
    ro_shell: Option<crate::sandbox::RoShell>,
    tls: Option<crate::tls::Tls>,
) -> Result<Arc<AppState>, ServeError> {
    let hosts = HostPolicy::new(&cfg.host, &cfg.allowed_hosts, &cfg.public_base_url);
    let audit = crate::audit::AuditLog::new(
        cfg.audit_enabled,
        &cfg.audit_log_dir,
        cfg.audit_max_bytes,
        cfg.audit_backup_count,
    );
    let metrics = crate::metrics::Metrics::new().map_err(|e| ServeError::Bind {
        addr: "metrics registry".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let oauth = match &cfg.oauth {
        Some(s) => Some(
            crate::oauth::OAuth::new(s.clone()).map_err(|e| ServeError::OAuth(e.to_string()))?,
        ),
        None => None,
    };
    let state = Arc::new(AppState {
        oauth,
        tools: Arc::new(Services::new(&cfg, guard, ro_shell)),
        config: cfg,
        tokens: store,
        hosts,
        temp_mode,
        audit,
        metrics,
        transfers: Default::default(),
        tls,
        calls: Default::default(),
    });
    state
        .tools
        .bash
        .jobs
        .observe(Arc::new(crate::state::JobReporter(Arc::downgrade(&state))));
    Ok(state)
}

/// Configuration and services for `mymcp stdio`: the server's, without a listener or tokens.
/// The token file stays protected; transfers are off (no listener to redeem a ticket); the
/// ro shell is set up only when it can be used (an `ro` session with `MYMCP_RO_SHELL=true`).
/// Returns the state and the start-up warnings.
pub(crate) fn prepare_local(
    env_file: Option<&std::path::Path>,
    env: &BTreeMap<String, String>,
    role: Role,
) -> Result<(Arc<AppState>, Vec<String>), ServeError> {
    let source = config::discover_env_file(env_file, env)?;
    let mut cfg = Config::resolve(env, &source)?;
    cfg.transfer_enabled = false;
    let warnings = start_warnings(&source, &cfg, false);
    let guard = Guard::from_config(&cfg, Some(&cfg.token_file));
    let ro_shell = if cfg.ro_shell && role == Role::Ro {
        Some(ro_shell_of(&cfg, &guard)?.0)
    } else {
        None
    };
    let store = TokenStore::open(None)?;
    Ok((
        app_state(cfg, store, false, guard, ro_shell, None)?,
        warnings,
    ))
}

/// The ro shell for this configuration, proven by running the confinement once: a kernel
/// without the Landlock features, an unknown user or a non-root server refuses to start.
/// Hidden from it: every read-protected path of the guard and the recorder's data.
pub(crate) fn ro_shell_of(
    cfg: &Config,
    guard: &Guard,
) -> Result<(crate::sandbox::RoShell, String), ServeError> {
    let mut hidden: Vec<std::path::PathBuf> = guard
        .entries()
        .iter()
        .filter(|p| p.read)
        .map(|p| p.canonical.clone())
        .collect();
    hidden.push(crate::guard::canonicalize_lenient(&cfg.recorder_data_dir));
    hidden.sort();
    hidden.dedup();
    let shell = crate::sandbox::RoShell::new(&cfg.ro_shell_user, &cfg.ro_shell_groups, hidden)?;
    let report = shell.probe(std::path::Path::new("/proc/self/exe"))?;
    Ok((shell, report))
}

/// What the operator should hear about at start: unknown `MYMCP_*` names in the env file
/// (typos are otherwise silently ignored), an env file others can read (it holds the admin
/// token), temp-mode tokens on a non-loopback address.
fn start_warnings(source: &EnvSource, cfg: &Config, temp_mode: bool) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut w = Vec::new();
    if let Some(f) = source.file() {
        w.extend(config::unknown_key_warnings(f));
        if let Ok(m) = std::fs::metadata(&f.path)
            && m.mode() & 0o077 != 0
        {
            w.push(format!(
                "{} is mode {:04o}: it holds the admin token, make it 0600 (chmod 600 {})",
                f.path.display(),
                m.mode() & 0o7777,
                f.path.display()
            ));
        }
    }
    let loopback = cfg.host == "localhost"
        || cfg
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if temp_mode && !loopback && cfg.tls.is_none() {
        w.push(format!(
            "temp-token mode on {}: the tokens printed below work from the network, over plain \
             HTTP (no TLS); use this only on a trusted network, or configure a service with \
             `mymcp init`",
            cfg.host
        ));
    }
    w
}

/// Bind, print the banner, serve until SIGTERM/SIGINT, then shut down gracefully.
pub(crate) async fn run(
    prepared: Prepared,
    env: BTreeMap<String, String>,
) -> Result<(), ServeError> {
    let state = prepared.state;
    let cfg = &state.config;
    let addr = format!("{}:{}", bracket(&cfg.host), cfg.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: addr.clone(),
        source,
    })?;
    if state.temp_mode {
        for (label, tok) in &prepared.temp_tokens {
            eprintln!("[mymcp] temp {:<14} {tok}", format!("{label} token:"));
        }
        eprintln!(
            "[mymcp] tokens live in memory only; nothing is written to disk and they vanish on exit."
        );
        eprintln!("[mymcp] to install as a persistent service: sudo mymcp init");
    }
    tracing::info!(
        addr = %local, temp_mode = state.temp_mode,
        env_file = ?cfg.env_file, token_file = ?(!state.temp_mode).then_some(&cfg.token_file),
        protected = state.tools.guard.entries().len(), "mymcp {} serving", env!("CARGO_PKG_VERSION")
    );
    let shutdown = CancellationToken::new();
    spawn_signal_handler(shutdown.clone()).map_err(|source| ServeError::Bind {
        addr: "signal handlers".to_string(),
        source,
    })?;
    if let Some(tls) = &state.tls {
        let info = tls.info();
        state.metrics.tls_not_after.set(info.not_after);
        tracing::info!(
            cert = %tls.files().cert.display(), subject = %info.subject,
            names = %info.names.join(","), not_after = %info.not_after_text(),
            "HTTPS on: clients connect with https://"
        );
        eprintln!(
            "[mymcp] https: certificate {} ({}), valid until {}",
            tls.files().cert.display(),
            if info.names.is_empty() {
                info.subject.clone()
            } else {
                info.names.join(", ")
            },
            info.not_after_text()
        );
    }
    if let Some(o) = &state.oauth {
        let s = o.settings();
        eprintln!(
            "[mymcp] oauth: tokens from {} for {} ({} = rw, {} = ro){}",
            s.issuer,
            s.audience,
            s.scope_rw,
            s.scope_ro,
            if cfg.static_tokens {
                "; static tokens too"
            } else {
                "; static tokens off"
            }
        );
        o.spawn_discovery();
    }
    if !crate::http::DURABLE_UPLOADS {
        eprintln!(
            "[mymcp] WARNING: bench build (feature bench-no-durability): uploads are not fsynced or hashed"
        );
        tracing::warn!("bench build: uploads are not fsynced or hashed");
    }
    eprintln!("[mymcp] serving on {local}");
    spawn_background(state.clone(), env, prepared.env_stamp, shutdown.clone()).map_err(
        |source| ServeError::Bind {
            addr: "reload thread".to_string(),
            source,
        },
    )?;
    let sweeper = spawn_sweeper(state.clone());
    let watchdog = notify_systemd_ready(&local, state.tls.is_some());

    let app = http::router(state.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .keep_alive(true);

    let acceptor = state.tls.as_ref().map(crate::tls::Tls::acceptor);
    loop {
        tokio::select! {
            res = listener.accept() => {
                let (stream, peer) = match res {
                    Ok(x) => x,
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
                stream.set_write_timeout(Some(WRITE_TIMEOUT));
                let stream = Box::pin(stream);
                let svc = app.clone().map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                    req
                });
                let svc = TowerToHyperService::new(svc);
                match &acceptor {
                    None => {
                        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
                        tokio::spawn(async move {
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, %peer, "connection ended with an error");
                            }
                        });
                    }
                    Some(acceptor) => {
                        // The handshake runs in the connection's task, so a slow client delays
                        // only itself; it is bounded like the request head.
                        let handshake = acceptor.accept(stream);
                        let builder = builder.clone();
                        let watcher = graceful.watcher();
                        let st = state.clone();
                        tokio::spawn(async move {
                            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                                Ok(Ok(tls)) => tls,
                                Ok(Err(e)) => {
                                    st.metrics.tls_handshake_failures.inc();
                                    tracing::debug!(error = %e, %peer, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    st.metrics.tls_handshake_failures.inc();
                                    tracing::debug!(%peer, "TLS handshake timed out");
                                    return;
                                }
                            };
                            let conn = watcher.watch(builder.serve_connection(TokioIo::new(tls), svc));
                            if let Err(e) = conn.await {
                                tracing::debug!(error = %e, %peer, "connection ended with an error");
                            }
                        });
                    }
                }
            }
            _ = shutdown.cancelled() => break,
        }
    }
    drop(listener);
    if let Some(w) = watchdog {
        w.abort();
    }
    let _ = sd_notify::notify(&[
        sd_notify::NotifyState::Stopping,
        sd_notify::NotifyState::Status("finishing in-flight requests"),
    ]);
    let grace = Duration::from_secs(state.config.shutdown_grace_sec);
    tracing::info!(
        grace_sec = grace.as_secs(),
        "shutting down: finishing in-flight requests"
    );
    // Running commands get SIGTERM now and SIGKILL after the grace period; their calls then
    // return normally, so the clients still get an answer.
    let st = state.clone();
    tokio::spawn(async move { st.tools.bash.terminate_all(grace).await });
    let limit = grace + crate::tools::bash::KILL_GRACE + Duration::from_secs(1);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limit) => {
            eprintln!("[mymcp] shutdown grace period exceeded; forcing exit");
        }
    }
    sweeper.abort();
    let st = state.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = st.tokens.persist_last_used() {
            tracing::warn!(error = %e, "could not save last_used times");
        }
    })
    .await;
    tracing::info!("stopped");
    Ok(())
}

fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// Install SIGTERM/SIGINT handlers now (before the banner announces readiness), then cancel
/// Tell systemd (`Type=notify`) that we listen, and keep its watchdog fed while the runtime
/// is alive. Without `$NOTIFY_SOCKET` both are no-ops, so this is safe everywhere.
fn notify_systemd_ready(local: &SocketAddr, https: bool) -> Option<tokio::task::JoinHandle<()>> {
    let status = format!("serving on {local}{}", if https { " (https)" } else { "" });
    if let Err(e) = sd_notify::notify(&[
        sd_notify::NotifyState::Ready,
        sd_notify::NotifyState::Status(&status),
    ]) {
        tracing::warn!(error = %e, "could not notify systemd of readiness");
    }
    let period = sd_notify::watchdog_enabled()?;
    // systemd's advice: ping at half the interval so one late tick is not fatal.
    let half = (period / 2).max(Duration::from_millis(10));
    tracing::debug!(
        interval_ms = half.as_millis() as u64,
        "systemd watchdog enabled"
    );
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(half);
        loop {
            tick.tick().await;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }))
}

/// `shutdown` when one arrives.
fn spawn_signal_handler(shutdown: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        shutdown.cancel();
    });
    Ok(())
}

/// Once a second: reload the token file if it changed, and pick up admin/metrics token
/// rotations written to the env file (unless the process environment pins them). Every
/// minute: merge `last_used` into the token file.
///
/// This runs on a thread of its own, not on tokio's blocking pool: whatever else fills that
/// pool (transfers, file tools on a hung mount), a revoked token stops working within about a
/// second. It ends by itself once `shutdown` is cancelled.
fn spawn_background(
    state: Arc<AppState>,
    env: BTreeMap<String, String>,
    mut env_stamp: EnvStamp,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("mymcp-reload".into())
        .spawn(move || {
            let mut n: u64 = 0;
            while !shutdown.is_cancelled() {
                std::thread::sleep(Duration::from_secs(1));
                n += 1;
                state.tools.guard.refresh_identities();
                if let Some(tls) = &state.tls {
                    match tls.reload_if_changed() {
                        crate::tls::Reload::Unchanged => {}
                        crate::tls::Reload::Loaded => {
                            // A new key file (a certbot renewal moves its link): protect it
                            // now, not a second from now.
                            state.tools.guard.refresh_identities();
                            state.metrics.tls_reloads.with_label_values(&["ok"]).inc();
                            state.metrics.tls_not_after.set(tls.info().not_after);
                        }
                        crate::tls::Reload::Failed => {
                            state
                                .metrics
                                .tls_reloads
                                .with_label_values(&["error"])
                                .inc();
                        }
                    }
                }
                if state.temp_mode {
                    continue;
                }
                if state.tokens.reload_if_changed() == Some(false) {
                    state.metrics.token_file_failures.inc();
                }
                env_stamp = reload_env_secrets(&state, &env, env_stamp);
                if n.is_multiple_of(60)
                    && let Err(e) = state.tokens.persist_last_used()
                {
                    tracing::warn!(error = %e, "could not save last_used times");
                }
            }
        })
        .map(drop)
}

type EnvStamp = Option<(u64, i64, i64)>;

fn reload_env_secrets(st: &AppState, env: &BTreeMap<String, String>, prev: EnvStamp) -> EnvStamp {
    use std::os::unix::fs::MetadataExt;
    let path = st.config.env_file.as_ref()?;
    let m = std::fs::metadata(path).ok()?;
    let stamp = Some((m.ino(), m.mtime(), m.mtime_nsec()));
    if prev.is_none() || stamp == prev {
        return stamp;
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return stamp;
    };
    let vars = config::parse_env_text(&text);
    let mut applied = Vec::new();
    for var in ["MYMCP_ADMIN_TOKEN", "MYMCP_METRICS_TOKEN"] {
        let new = vars.get(var).map_or("", String::as_str);
        if let Some(effective) = env.get(var) {
            // The process environment wins over the file: a rotation in the file does not
            // take effect, and saying "reloaded" would make the operator believe it did.
            if effective != new {
                tracing::warn!(
                    variable = var, path = %path.display(),
                    "{var} changed in the env file but is also set in the process environment, \
                     which wins: the previous value stays in effect until the service runs \
                     without it in its environment"
                );
            }
            continue;
        }
        if var == "MYMCP_ADMIN_TOKEN" && new.is_empty() {
            tracing::warn!("env file has no MYMCP_ADMIN_TOKEN; keeping the previous admin token");
            continue;
        }
        if let Some(reason) = (!new.is_empty()).then(|| config::weak_token(new)).flatten() {
            tracing::warn!(
                variable = var,
                "{var} in the env file {reason}; keeping the previous one"
            );
            continue;
        }
        if var == "MYMCP_ADMIN_TOKEN" {
            st.tokens.set_admin_token(new);
        } else {
            st.tokens.set_metrics_token(new);
        }
        applied.push(var);
    }
    for var in applied {
        tracing::info!(path = %path.display(), "env file changed: {var} reloaded");
    }
    stamp
}

/// Sweep expired tickets every 30 s.
fn spawn_sweeper(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            state.tools.tickets.sweep();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_host(host: &str) -> Config {
        let mut env = BTreeMap::new();
        env.insert("MYMCP_HOST".to_string(), host.to_string());
        Config::resolve(&env, &EnvSource::None).unwrap()
    }

    #[test]
    fn temp_tokens_on_the_network_are_warned_about() {
        let warned = |host: &str, temp: bool| {
            start_warnings(&EnvSource::None, &config_with_host(host), temp)
                .iter()
                .any(|w| w.contains("work from the network"))
        };
        assert!(warned("0.0.0.0", true));
        assert!(warned("10.1.2.3", true));
        assert!(!warned("127.0.0.1", true));
        assert!(!warned("::1", true));
        assert!(!warned("localhost", true));
        // A configured service is the operator's choice: no warning.
        assert!(!warned("0.0.0.0", false));
    }
}
