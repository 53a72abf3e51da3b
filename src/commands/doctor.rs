//! `mymcp doctor`: is this host's installation sound, and does the running server answer?
//!
//! Groups as the reference: INSTALL, CONFIG, RUNTIME, FUNCTIONAL, RECORDER. Every check has a
//! severity (`ok`, `warn`, `fail`), a detail and, when not ok, a remedy.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::system::{
    RunningServer, Target, connect_host, http_request, running_servers, systemctl, systemd_running,
    unit_environment_for,
};
use crate::cli::DoctorArgs;
use crate::config::{self, Config};
use crate::tokens::TokenFile;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Fine.
    Ok,
    /// Works, but should be looked at (exit 1 only with `--strict`).
    Warn,
    /// Broken (exit 1).
    Fail,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Check {
    /// INSTALL, CONFIG, RUNTIME, FUNCTIONAL or RECORDER.
    pub(crate) group: &'static str,
    /// Short name.
    pub(crate) name: String,
    /// Result.
    pub(crate) severity: Severity,
    /// What was found.
    pub(crate) detail: String,
    /// What to do about it (empty when ok).
    pub(crate) remedy: String,
}

#[derive(Default)]
struct Report(Vec<Check>);

impl Report {
    fn add(
        &mut self,
        group: &'static str,
        name: &str,
        sev: Severity,
        detail: String,
        remedy: &str,
    ) {
        self.0.push(Check {
            group,
            name: name.to_string(),
            severity: sev,
            detail,
            remedy: if sev == Severity::Ok {
                String::new()
            } else {
                remedy.to_string()
            },
        });
    }
}

fn mode(p: &Path) -> Option<u32> {
    std::fs::metadata(p)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

fn on_path(name: &str) -> Vec<PathBuf> {
    let mut seen: Vec<PathBuf> = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let cand = dir.join(name);
        if mode(&cand).is_some_and(|m| m & 0o111 != 0) {
            let canon = std::fs::canonicalize(&cand).unwrap_or(cand);
            if !seen.contains(&canon) {
                seen.push(canon);
            }
        }
    }
    seen
}

/// Run every check, one group after another. `config_dir` holds `.env` and (usually)
/// `tokens.json`.
pub(crate) fn run_checks(a: &DoctorArgs) -> Vec<Check> {
    let mut r = Report::default();
    let env_file = a
        .env_file
        .clone()
        .unwrap_or_else(|| a.config_dir.join(".env"));
    install(&mut r);
    let cfg = config_checks(&mut r, &env_file);
    runtime(&mut r);
    if let Some(c) = &cfg {
        let addr = server_process(&mut r, c, &env_file);
        functional(&mut r, c, &addr);
        recorder(&mut r, c);
    }
    r.0
}

/// INSTALL: which binary runs, and is it the one on `PATH`.
fn install(r: &mut Report) {
    use Severity::{Ok, Warn};
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .unwrap_or_default();
    let found = on_path("mymcp");
    match found.first() {
        None => r.add(
            "INSTALL",
            "binary on PATH",
            Warn,
            format!("no mymcp on PATH (running {})", exe.display()),
            "install the package, or put the binary in /usr/local/bin",
        ),
        Some(first) if *first == exe => r.add(
            "INSTALL",
            "binary on PATH",
            Ok,
            first.display().to_string(),
            "",
        ),
        Some(first) => r.add(
            "INSTALL",
            "binary on PATH",
            Warn,
            format!(
                "PATH finds {} but this is {}",
                first.display(),
                exe.display()
            ),
            "run doctor with the binary the service uses",
        ),
    }
    if found.len() > 1 {
        let list: Vec<String> = found.iter().map(|p| p.display().to_string()).collect();
        r.add(
            "INSTALL",
            "duplicate binaries",
            Warn,
            list.join(", "),
            "remove the copies you do not use (an old tarball or pip install?)",
        );
    } else {
        r.add("INSTALL", "duplicate binaries", Ok, "none".into(), "");
    }
    r.add(
        "INSTALL",
        "search engine",
        Ok,
        "grep and glob run in-process; no ripgrep needed".into(),
        "",
    );
}

/// CONFIG: the env file, its permissions and values, the token file. Returns the resolved
/// configuration when it loads.
fn config_checks(r: &mut Report, env_file: &Path) -> Option<Config> {
    use Severity::{Fail, Ok, Warn};
    let mut cfg: Option<Config> = None;
    if !env_file.is_file() {
        r.add(
            "CONFIG",
            "env file",
            Fail,
            format!("{} does not exist", env_file.display()),
            "sudo mymcp init (or pass --config-dir or --env-file)",
        );
    } else {
        match mode(env_file) {
            Some(m) if m & 0o077 == 0 => r.add(
                "CONFIG",
                "env file mode",
                Ok,
                format!("{} {m:04o}", env_file.display()),
                "",
            ),
            Some(m) => r.add(
                "CONFIG",
                "env file mode",
                Fail,
                format!(
                    "{} is {m:04o}: others can read the admin token",
                    env_file.display()
                ),
                &format!("chmod 600 {}", env_file.display()),
            ),
            None => r.add(
                "CONFIG",
                "env file mode",
                Fail,
                format!("cannot stat {}", env_file.display()),
                "run doctor as root",
            ),
        }
        let mut env = config::process_env();
        // Settings in the unit's Environment= (the NixOS module puts host, port and
        // `settings` there) beat the env file for the running service: check what it runs.
        for (k, v) in unit_environment_for(env_file) {
            env.entry(k).or_insert(v);
        }
        let source = config::discover_env_file(Some(env_file), &env);
        if let Result::Ok(src) = &source
            && let Some(f) = src.file()
        {
            let unknown = config::unknown_key_warnings(f);
            r.add(
                "CONFIG",
                "setting names",
                if unknown.is_empty() { Ok } else { Warn },
                if unknown.is_empty() {
                    "every MYMCP_* name is known".into()
                } else {
                    unknown.join("; ")
                },
                "fix the names (mymcp config example lists them all)",
            );
        }
        let parsed = source.and_then(|src| Config::resolve(&env, &src));
        match parsed {
            Err(e) => r.add(
                "CONFIG",
                "settings",
                Fail,
                e.to_string(),
                "fix the named variable (mymcp config example lists them all)",
            ),
            Result::Ok(c) => {
                r.add(
                    "CONFIG",
                    "settings",
                    Ok,
                    format!("listen {}:{}", c.host, c.port),
                    "",
                );
                cfg = Some(c);
            }
        }
    }
    if let Some(c) = &cfg {
        if c.admin_token.is_empty() {
            r.add(
                "CONFIG",
                "admin token",
                Fail,
                "MYMCP_ADMIN_TOKEN is empty".into(),
                "sudo mymcp token rotate-admin",
            );
        } else if let Some(reason) = config::weak_token(c.admin_token.expose()) {
            r.add(
                "CONFIG",
                "admin token",
                Fail,
                format!("MYMCP_ADMIN_TOKEN {reason}; the server refuses to start with it"),
                "sudo mymcp token rotate-admin",
            );
        } else {
            r.add("CONFIG", "admin token", Ok, "set".into(), "");
        }
        r.add(
            "CONFIG",
            "audit log",
            if c.audit_enabled { Ok } else { Warn },
            if c.audit_enabled {
                format!("enabled, {}", c.audit_log_dir.display())
            } else {
                "disabled: tool calls leave no trace".into()
            },
            "set MYMCP_AUDIT_ENABLED=true and restart",
        );
        let tf = &c.token_file;
        match mode(tf) {
            None => r.add(
                "CONFIG",
                "token store",
                Fail,
                format!("{} does not exist", tf.display()),
                "sudo mymcp token add --role rw NAME",
            ),
            Some(m) => {
                r.add(
                    "CONFIG",
                    "token store mode",
                    if m & 0o077 == 0 { Ok } else { Warn },
                    format!("{} {m:04o}", tf.display()),
                    &format!("chmod 600 {}", tf.display()),
                );
                let enabled = TokenFile::new(tf)
                    .load()
                    .map(|s| s.tokens.values().filter(|t| t.enabled).count());
                match enabled {
                    Result::Ok(0) => r.add(
                        "CONFIG",
                        "client tokens",
                        Warn,
                        "no enabled client token".into(),
                        "sudo mymcp token add --role rw NAME",
                    ),
                    Result::Ok(n) => {
                        r.add("CONFIG", "client tokens", Ok, format!("{n} enabled"), "")
                    }
                    Err(e) => r.add(
                        "CONFIG",
                        "client tokens",
                        Fail,
                        e.to_string(),
                        "restore tokens.json from a backup (docs/operations.md)",
                    ),
                }
            }
        }
        if c.ro_shell {
            let guard = crate::guard::Guard::from_config(c, Some(&c.token_file));
            match crate::daemon::ro_shell_of(c, &guard) {
                Result::Ok((shell, report)) => r.add(
                    "CONFIG",
                    "ro shell",
                    Ok,
                    format!("{report}; {}", shell.describe()),
                    "",
                ),
                Err(e) => r.add(
                    "CONFIG",
                    "ro shell",
                    Fail,
                    e.to_string(),
                    "fix it or set MYMCP_RO_SHELL=false; the server refuses to start like this",
                ),
            }
        }
        if let Some(files) = &c.tls {
            tls_check(r, files);
        }
        let exposed = !matches!(c.host.as_str(), "127.0.0.1" | "::1" | "localhost");
        let plain = exposed && c.tls.is_none();
        r.add(
            "CONFIG",
            "exposure",
            if plain { Warn } else { Ok },
            if plain {
                format!("listening on {} over plain HTTP", c.host)
            } else if exposed {
                format!("listening on {} over HTTPS", c.host)
            } else {
                "loopback only".into()
            },
            "set MYMCP_TLS_CERT/MYMCP_TLS_KEY, or keep it behind a TLS reverse proxy or a firewall",
        );
    }
    cfg
}

/// Certificates closer to their end than this are warned about (certbot renews at 30 days).
const TLS_EXPIRY_WARN_DAYS: i64 = 14;

/// CONFIG: the certificate and key load as the server would load them, and how long the
/// certificate has left.
fn tls_check(r: &mut Report, files: &crate::tls::TlsFiles) {
    use Severity::{Fail, Ok, Warn};
    match crate::tls::load(files, std::time::SystemTime::now()) {
        Result::Ok(l) => {
            let left = (l.info.not_after - time::OffsetDateTime::now_utc().unix_timestamp()) / 86_400;
            let names = if l.info.names.is_empty() {
                l.info.subject.clone()
            } else {
                l.info.names.join(", ")
            };
            r.add(
                "CONFIG",
                "tls",
                if left < TLS_EXPIRY_WARN_DAYS { Warn } else { Ok },
                format!(
                    "{} ({names}) valid until {} ({left} days left)",
                    files.cert.display(),
                    l.info.not_after_text()
                ),
                "renew the certificate (certbot renew); the server picks up the new files by itself",
            );
        }
        Err(e) => r.add(
            "CONFIG",
            "tls",
            Fail,
            e.to_string(),
            "fix the certificate/key files; a server started now refuses them (a running one keeps its previous pair)",
        ),
    }
}

/// RUNTIME: systemd, the unit, the running server's process.
fn runtime(r: &mut Report) {
    use Severity::{Fail, Ok, Warn};
    let systemd = systemd_running();
    if !systemd {
        r.add(
            "RUNTIME",
            "systemd",
            Warn,
            "not running: service checks skipped".into(),
            "run `mymcp serve --env-file …` under your supervisor",
        );
    } else {
        r.add("RUNTIME", "systemd", Ok, "running".into(), "");
        let enabled = systemctl(&["is-enabled", "mymcp"]).unwrap_or_default();
        r.add(
            "RUNTIME",
            "unit enabled",
            if enabled == "enabled" { Ok } else { Warn },
            format!("is-enabled: {enabled}"),
            "sudo systemctl enable mymcp",
        );
        let active = systemctl(&["is-active", "mymcp"]).unwrap_or_default();
        r.add(
            "RUNTIME",
            "unit active",
            if active == "active" { Ok } else { Fail },
            format!("is-active: {active}"),
            "sudo systemctl start mymcp; journalctl -u mymcp -e",
        );
        let exec = systemctl(&["show", "-p", "ExecStart", "--value", "mymcp"]).unwrap_or_default();
        let unit_bin = exec
            .split_whitespace()
            .find_map(|w| w.strip_prefix("path="))
            .map(PathBuf::from);
        let found = on_path("mymcp");
        match (unit_bin, found.first()) {
            (Some(u), Some(p)) if std::fs::canonicalize(&u).unwrap_or(u.clone()) == *p => {
                r.add("RUNTIME", "unit binary", Ok, u.display().to_string(), "")
            }
            (Some(u), p) => r.add(
                "RUNTIME",
                "unit binary",
                Warn,
                format!(
                    "unit runs {}, PATH has {}",
                    u.display(),
                    p.map(|p| p.display().to_string())
                        .unwrap_or_else(|| "none".into())
                ),
                "point ExecStart at the installed binary (sudo mymcp init rewrites the unit)",
            ),
            (None, _) => r.add(
                "RUNTIME",
                "unit binary",
                Warn,
                "no ExecStart found for mymcp".into(),
                "sudo mymcp init",
            ),
        }
        let env_files =
            systemctl(&["show", "-p", "EnvironmentFiles", "--value", "mymcp"]).unwrap_or_default();
        r.add(
            "RUNTIME",
            "secrets outside the environment",
            if env_files.trim().is_empty() { Ok } else { Warn },
            if env_files.trim().is_empty() {
                "the unit passes no EnvironmentFile=".into()
            } else {
                format!(
                    "the unit loads {} into the process environment (the server blanks secret values at start)",
                    env_files.trim()
                )
            },
            "remove EnvironmentFile= from the unit (sudo mymcp init rewrites it), then systemctl daemon-reload and restart; the server reads --env-file itself",
        );
        let pid = systemctl(&["show", "-p", "MainPID", "--value", "mymcp"]).unwrap_or_default();
        if let Some(exposed) = pid
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|p| *p > 0)
            .and_then(|p| std::fs::read(format!("/proc/{p}/environ")).ok())
            .map(|raw| exposed_secrets(&raw))
        {
            r.add(
                "RUNTIME",
                "secrets in /proc/<pid>/environ",
                if exposed.is_empty() { Ok } else { Fail },
                if exposed.is_empty() {
                    "none visible".into()
                } else {
                    format!("visible: {}", exposed.join(", "))
                },
                "upgrade mymcp (it blanks them at start) and remove EnvironmentFile= from the unit",
            );
        }
    }
}

/// RUNTIME: the `mymcp serve` process for this env file, and where it really listens. Returns
/// the address the functional checks talk to: the one the process listens on when it can be
/// seen, else the one the configuration names.
fn server_process(r: &mut Report, c: &Config, env_file: &Path) -> String {
    use Severity::{Ok, Warn};
    let configured = format!("{}:{}", connect_host(&c.host), c.port);
    let ours = std::fs::canonicalize(env_file).unwrap_or_else(|_| env_file.to_path_buf());
    let main_pid = systemd_running()
        .then(|| systemctl(&["show", "-p", "MainPID", "--value", "mymcp"]))
        .flatten()
        .and_then(|p| p.trim().parse::<i32>().ok());
    let servers = running_servers();
    // Started with this env file, or (no --env-file) by the default discovery that finds
    // /etc/mymcp/.env; the unit's main process first.
    let mut matching: Vec<&RunningServer> = servers
        .iter()
        .filter(|s| match &s.env_file {
            Some(f) => std::fs::canonicalize(f).unwrap_or_else(|_| f.clone()) == ours,
            None => ours == Path::new("/etc/mymcp/.env"),
        })
        .collect();
    matching.sort_by_key(|s| Some(s.pid) != main_pid);
    let Some(s) = matching.first() else {
        r.add(
            "RUNTIME",
            "server process",
            Warn,
            format!(
                "no `mymcp serve` process uses {}; probing the configured {configured}",
                env_file.display()
            ),
            "start the server with this env file",
        );
        return configured;
    };
    let pid = s.pid;
    if s.listen.is_empty() {
        r.add(
            "RUNTIME",
            "server process",
            Warn,
            format!("pid {pid}; its sockets are not readable, probing the configured {configured}"),
            "run doctor as root (sudo mymcp doctor)",
        );
        return configured;
    }
    let listen: Vec<String> = s.listen.iter().map(ToString::to_string).collect();
    // Port 0 in the env file means "any free port": whatever it got is what was asked for.
    let agrees = c.port == 0 || s.listen.iter().any(|a| a.port() == c.port);
    if agrees {
        r.add(
            "RUNTIME",
            "server process",
            Ok,
            format!("pid {pid} listens on {}", listen.join(", ")),
            "",
        );
    } else {
        r.add(
            "RUNTIME",
            "server process",
            Warn,
            format!(
                "pid {pid} listens on {}, but {} says port {}",
                listen.join(", "),
                env_file.display(),
                c.port
            ),
            "it was started with other settings (--port, MYMCP_PORT in its environment) or before the file changed: restart it to apply the file",
        );
    }
    let a = s.listen[0];
    format!("{}:{}", connect_host(&a.ip().to_string()), a.port())
}

/// FUNCTIONAL: the server answers `/health` on `addr`, and an rw token can list tools.
fn functional(r: &mut Report, c: &Config, addr: &str) {
    use Severity::{Fail, Ok};
    let addr = match Target::for_config(addr, c) {
        Result::Ok(t) => t,
        Err(e) => {
            r.add(
                "FUNCTIONAL",
                "health",
                Fail,
                e.to_string(),
                "fix MYMCP_TLS_CERT (see the CONFIG tls check)",
            );
            return;
        }
    };
    let addr = &addr;
    match http_request(addr, "GET", "/health", None, None) {
        Result::Ok((200, body)) => {
            r.add("FUNCTIONAL", "health", Ok, format!("{addr} answers"), "");
            if let Some(s) = &c.oauth {
                functional_oauth(r, s, &body);
            }
            functional_tools_list(r, addr, c.admin_token.expose());
        }
        Result::Ok((s, _)) => r.add(
            "FUNCTIONAL",
            "health",
            Fail,
            format!("{addr}/health answered {s}"),
            "is something else listening on that port?",
        ),
        Err(e) => {
            // Without systemd (a container, a supervisor of its own) there is no unit to start.
            let start = if systemd_running() {
                "start the server: sudo systemctl start mymcp".to_string()
            } else {
                match &c.env_file {
                    Some(p) => format!("start the server: mymcp serve --env-file {}", p.display()),
                    None => "start the server: mymcp serve --env-file PATH".to_string(),
                }
            };
            r.add("FUNCTIONAL", "health", Fail, e.to_string(), &start)
        }
    }
}

/// FUNCTIONAL `oauth`: what the running server's `/health` says about the issuer's keys (the
/// server fetched them; doctor does not fetch on its own, so it reports what callers get).
fn functional_oauth(r: &mut Report, s: &crate::oauth::OAuthSettings, health: &[u8]) {
    use Severity::{Fail, Ok, Warn};
    let v: serde_json::Value = serde_json::from_slice(health).unwrap_or_default();
    let o = &v["oauth"];
    if o.is_null() {
        r.add(
            "FUNCTIONAL",
            "oauth",
            Warn,
            "MYMCP_OAUTH_ISSUER is set, but the running server does not have OAuth on".into(),
            "restart the server to apply it: sudo systemctl restart mymcp",
        );
        return;
    }
    if o["ready"] == true {
        let keys = o["keys"].as_u64().unwrap_or(0);
        let intro = if o["introspection"] == true {
            ", opaque tokens by introspection"
        } else {
            ""
        };
        r.add(
            "FUNCTIONAL",
            "oauth",
            Ok,
            format!("keys of {} loaded ({keys}){intro}", s.issuer),
            "",
        );
    } else {
        let why = o["last_error"]
            .as_str()
            .unwrap_or("discovery still running");
        r.add(
            "FUNCTIONAL",
            "oauth",
            Fail,
            format!("OAuth tokens are refused: {why}"),
            "make the issuer reachable from this host (https, its .well-known metadata naming \
             the same issuer, a jwks_uri); static tokens keep working meanwhile",
        );
    }
}

/// RECORDER: when enabled, has it written an overview.
fn recorder(r: &mut Report, c: &Config) {
    use Severity::{Ok, Warn};
    if c.recorder_enabled && !c.audit_enabled {
        r.add(
            "RECORDER",
            "audit source",
            Warn,
            "the recorder folds the audit log, and MYMCP_AUDIT_ENABLED=false: it has nothing to fold".into(),
            "set MYMCP_AUDIT_ENABLED=true, or turn the recorder off",
        );
    }
    if c.recorder_enabled {
        let ov = c.recorder_data_dir.join("overview").join("overview.md");
        r.add(
            "RECORDER",
            "overview",
            if ov.is_file() { Ok } else { Warn },
            if ov.is_file() {
                ov.display().to_string()
            } else {
                format!("{} not written yet", ov.display())
            },
            "check the recorder: journalctl -u mymcp-recorder",
        );
    }
}

/// Mint a short-lived rw token through the admin API, list tools with it, revoke it.
fn functional_tools_list(r: &mut Report, addr: &Target, admin: &str) {
    use Severity::{Fail, Ok, Warn};
    if admin.is_empty() {
        r.add(
            "FUNCTIONAL",
            "tools/list",
            Warn,
            "skipped: no admin token to mint a probe token".into(),
            "sudo mymcp token rotate-admin",
        );
        return;
    }
    let name = format!("doctor-probe-{}", std::process::id());
    let created = http_request(
        addr,
        "POST",
        "/admin/tokens",
        Some(admin),
        Some(json!({"name": name, "role": "rw"})),
    );
    let (token, id) = match created {
        Result::Ok((200, body)) => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            match (v["token"].as_str(), v["id"].as_str()) {
                (Some(t), Some(i)) => (t.to_string(), i.to_string()),
                _ => {
                    r.add(
                        "FUNCTIONAL",
                        "tools/list",
                        Fail,
                        "admin API answered without a token".into(),
                        "check the server version matches this binary",
                    );
                    return;
                }
            }
        }
        Result::Ok((s, body)) => {
            r.add(
                "FUNCTIONAL",
                "tools/list",
                Fail,
                format!(
                    "admin API answered {s}: {}",
                    String::from_utf8_lossy(&body).trim()
                ),
                "the running server has a different admin token: restart it after editing .env",
            );
            return;
        }
        Err(e) => {
            r.add(
                "FUNCTIONAL",
                "tools/list",
                Fail,
                e.to_string(),
                "journalctl -u mymcp -e",
            );
            return;
        }
    };
    let listed = http_request(
        addr,
        "POST",
        "/mcp",
        Some(&token),
        Some(json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})),
    );
    let _ = http_request(
        addr,
        "DELETE",
        &format!("/admin/tokens/{id}"),
        Some(admin),
        None,
    );
    match listed {
        Result::Ok((200, body)) => {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let n = v["result"]["tools"].as_array().map_or(0, Vec::len);
            r.add(
                "FUNCTIONAL",
                "tools/list",
                if n == crate::tools::Tool::ALL.len() {
                    Ok
                } else {
                    Fail
                },
                format!(
                    "{n} tools for an rw token (expected {})",
                    crate::tools::Tool::ALL.len()
                ),
                "journalctl -u mymcp -e",
            );
        }
        Result::Ok((s, body)) => r.add(
            "FUNCTIONAL",
            "tools/list",
            Fail,
            format!(
                "/mcp answered {s}: {}",
                String::from_utf8_lossy(&body).trim()
            ),
            "journalctl -u mymcp -e",
        ),
        Err(e) => r.add(
            "FUNCTIONAL",
            "tools/list",
            Fail,
            e.to_string(),
            "journalctl -u mymcp -e",
        ),
    }
}

/// Print the checks (text or JSON) and return the exit code.
pub(crate) fn report(a: &DoctorArgs, checks: &[Check]) -> u8 {
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(checks).unwrap_or_else(|_| "[]".into())
        );
    } else {
        let mut group = "";
        for c in checks {
            if c.group != group {
                group = c.group;
                println!("{group}");
            }
            let mark = match c.severity {
                Severity::Ok => "✓",
                Severity::Warn => "!",
                Severity::Fail => "✗",
            };
            println!("  {mark} {:<18} {}", c.name, c.detail);
            if !c.remedy.is_empty() {
                println!("      → {}", c.remedy);
            }
        }
    }
    let fail = checks.iter().any(|c| c.severity == Severity::Fail);
    let warn = checks.iter().any(|c| c.severity == Severity::Warn);
    u8::from(fail || (a.strict && warn))
}

/// Names of secret variables whose values are visible in an environment block as read from
/// `/proc/<pid>/environ`.
pub(crate) fn exposed_secrets(raw: &[u8]) -> Vec<String> {
    raw.split(|b| *b == 0)
        .filter_map(|entry| {
            let eq = memchr::memchr(b'=', entry)?;
            let name = String::from_utf8_lossy(&entry[..eq]).into_owned();
            let value = &entry[eq + 1..];
            (crate::scrub::is_secret_var(&name) && value.iter().any(|b| *b != 0)).then_some(name)
        })
        .collect()
}

#[cfg(test)]
mod secret_tests {
    use crate::commands::system::parse_unit_environment;

    #[test]
    fn unit_environment_takes_mymcp_assignments() {
        let got = parse_unit_environment("PATH=/bin MYMCP_PORT=9000 MYMCP_HOST=\"0.0.0.0\" LANG=C");
        assert_eq!(
            got,
            [
                ("MYMCP_PORT".to_string(), "9000".to_string()),
                ("MYMCP_HOST".to_string(), "0.0.0.0".to_string())
            ]
        );
        assert!(parse_unit_environment("").is_empty());
    }

    #[test]
    fn blanked_values_are_not_exposed() {
        let raw = b"PATH=/bin\0MYMCP_ADMIN_TOKEN=\0\0\0\0MYMCP_METRICS_TOKEN=tok_x\0MYMCP_HOST=h\0";
        assert_eq!(super::exposed_secrets(raw), ["MYMCP_METRICS_TOKEN"]);
    }
}
