//! Configuration: every `MYMCP_*` variable, resolved once at start-up.
//!
//! Precedence is process environment > env file > built-in default. The env file is found in
//! this order: an explicit path (`--env-file` or `MYMCP_ENV_FILE`), `/etc/mymcp/.env`, `./.env`
//! (only when it has `MYMCP_*` keys).
//! An explicitly named file that does not exist is a fatal error (the reference silently fell
//! back to temp-token mode with fresh tokens, so a typo in the path locked every client out).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::secret::Secret;

/// Where the system-wide env file lives when nothing else is named.
pub(crate) const SYSTEM_ENV_FILE: &str = "/etc/mymcp/.env";

/// A configuration problem that stops start-up. The message names the variable or the file.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The env file named with `--env-file` / `MYMCP_ENV_FILE` is missing or unreadable.
    #[error("env file {path}: {reason}")]
    EnvFile {
        /// The path as given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A variable holds a value of the wrong shape.
    #[error("{var}: invalid {kind} {value:?}")]
    Invalid {
        /// Variable name, e.g. `MYMCP_PORT`.
        var: &'static str,
        /// Expected kind: integer, boolean, ...
        kind: &'static str,
        /// The offending value.
        value: String,
    },
    /// A variable is well-formed but outside its allowed range or inconsistent.
    #[error("{var}: {reason}")]
    Range {
        /// Variable name.
        var: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// One parsed `.env` file (keys in file order are not needed, so a map suffices).
#[derive(Clone, Default)]
pub(crate) struct EnvFile {
    /// Absolute or as-given path of the file.
    pub(crate) path: PathBuf,
    /// Parsed `KEY=VALUE` pairs.
    pub(crate) vars: BTreeMap<String, String>,
    /// (inode, mtime s, mtime ns) when it was read: the server's reload loop compares
    /// against it, so a change made right after start is not mistaken for the original.
    pub(crate) stamp: Option<(u64, i64, i64)>,
}

/// Values of secret variables never show in a debug print.
impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let vars: BTreeMap<&str, &str> = self
            .vars
            .iter()
            .map(|(k, v)| {
                let shown = if crate::scrub::is_secret_var(k) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("vars", &vars)
            .finish()
    }
}

/// Parse `.env` text: `KEY=VALUE` lines, blank and `#` lines skipped, key and value trimmed.
/// Beyond the reference's rules, so that a file written for a shell means the same here:
/// a leading `export ` is accepted, a quoted value ends at its closing quote (what follows may
/// only be a comment), and in an unquoted value a `#` after whitespace starts a comment (the
/// example file's own lines carry such comments). No escapes, no variable expansion.
pub(crate) fn parse_env_text(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let key = k.trim();
        if key.is_empty() {
            continue;
        }
        // `KEY=   # note` is an empty value and a comment, as in a shell.
        let value = if v.starts_with(char::is_whitespace) && v.trim_start().starts_with('#') {
            ""
        } else {
            value_of(v.trim())
        };
        out.insert(key.to_string(), value.to_string());
    }
    out
}

/// The value part of a line (already trimmed): unquoted, without a trailing comment.
fn value_of(v: &str) -> &str {
    if let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') {
        if let Some(end) = v[1..].find(q) {
            let rest = v[1 + end + 1..].trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                return &v[1..1 + end];
            }
        }
        // An unmatched quote, or text after the closing one: kept as written.
        return v;
    }
    let comment = v
        .char_indices()
        .find(|&(i, c)| c == '#' && i > 0 && v[..i].ends_with(char::is_whitespace));
    match comment {
        Some((i, _)) => v[..i].trim_end(),
        None => v,
    }
}

/// Every `MYMCP_*` name this binary reads: the ones `mymcp config example` lists, plus
/// `MYMCP_ENV_FILE` (which names the file itself). A test checks that every name the code
/// reads is here.
pub(crate) fn known_keys() -> std::collections::BTreeSet<String> {
    let example = example_env();
    let mut keys: std::collections::BTreeSet<String> = example
        .match_indices("MYMCP_")
        .map(|(i, _)| {
            example[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect()
        })
        .collect();
    keys.insert("MYMCP_ENV_FILE".to_string());
    keys
}

/// Warnings for `MYMCP_*` names in an env file that this binary does not read (a typo such
/// as `MYMCP_PROT` is otherwise silently ignored), each with the nearest known name.
pub(crate) fn unknown_key_warnings(file: &EnvFile) -> Vec<String> {
    let known = known_keys();
    file.vars
        .keys()
        .filter(|k| k.starts_with("MYMCP_") && !known.contains(*k))
        .map(|k| {
            let nearest = known
                .iter()
                .map(|c| (strsim::levenshtein(k, c), c))
                .min()
                .filter(|(d, _)| *d <= 3);
            match nearest {
                Some((_, c)) => format!(
                    "{}: unknown setting {k} is ignored (did you mean {c}?)",
                    file.path.display()
                ),
                None => format!(
                    "{}: unknown setting {k} is ignored (`mymcp config example` lists them all)",
                    file.path.display()
                ),
            }
        })
        .collect()
}

/// Shortest admin or metrics token accepted. Generated tokens have 36 characters.
pub(crate) const MIN_TOKEN_CHARS: usize = 32;

/// Why `value` cannot serve as an admin or metrics token, if it cannot: the example's
/// placeholder (or any `<...>` text), whitespace, or too short to resist guessing.
pub(crate) fn weak_token(value: &str) -> Option<String> {
    if value.contains(['<', '>']) {
        Some("is a placeholder, not a token".to_string())
    } else if value.chars().any(char::is_whitespace) {
        Some("contains whitespace".to_string())
    } else if value.chars().count() < MIN_TOKEN_CHARS {
        Some(format!("is shorter than {MIN_TOKEN_CHARS} characters"))
    } else {
        None
    }
}

/// How the env file was (or was not) found.
#[derive(Debug, Clone)]
pub(crate) enum EnvSource {
    /// Named explicitly by `--env-file` or `MYMCP_ENV_FILE`.
    Explicit(EnvFile),
    /// Found by discovery (`/etc/mymcp/.env` or `./.env`).
    Discovered(EnvFile),
    /// No env file anywhere.
    None,
}

impl EnvSource {
    /// The file, when there is one.
    pub(crate) fn file(&self) -> Option<&EnvFile> {
        match self {
            EnvSource::Explicit(f) | EnvSource::Discovered(f) => Some(f),
            EnvSource::None => None,
        }
    }
}

fn read_env_file(path: &Path) -> Result<EnvFile, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::EnvFile {
        path: path.to_path_buf(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            e.to_string()
        },
    })?;
    if !meta.is_file() {
        return Err(ConfigError::EnvFile {
            path: path.to_path_buf(),
            reason: "is not a regular file".to_string(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::EnvFile {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    use std::os::unix::fs::MetadataExt;
    Ok(EnvFile {
        path: abs,
        vars: parse_env_text(&text),
        stamp: Some((meta.ino(), meta.mtime(), meta.mtime_nsec())),
    })
}

/// Find the env file. `explicit` is `--env-file`; `env` is the process environment.
pub(crate) fn discover_env_file(
    explicit: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<EnvSource, ConfigError> {
    let named = explicit.map(Path::to_path_buf).or_else(|| {
        env.get("MYMCP_ENV_FILE")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    if let Some(p) = named {
        return read_env_file(&p).map(EnvSource::Explicit);
    }
    if Path::new(SYSTEM_ENV_FILE).is_file() {
        return read_env_file(Path::new(SYSTEM_ENV_FILE)).map(EnvSource::Discovered);
    }
    // A `.env` in the working directory belongs to whatever project lives there (a web app's
    // database URL, say): it counts only when it configures mymcp.
    if Path::new(".env").is_file() {
        let f = read_env_file(Path::new(".env"))?;
        if f.vars.keys().any(|k| k.starts_with("MYMCP_")) {
            return Ok(EnvSource::Discovered(f));
        }
    }
    Ok(EnvSource::None)
}

/// Every setting the server reads, typed. Field docs name the variable and its default.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// `MYMCP_HOST` (default `0.0.0.0`; `127.0.0.1` in temp-token mode).
    pub(crate) host: String,
    /// `MYMCP_PORT` (default 8765).
    pub(crate) port: u16,
    /// `MYMCP_ADMIN_TOKEN` (empty: none).
    pub(crate) admin_token: Secret,
    /// `MYMCP_METRICS_TOKEN` (empty: `/metrics` answers 503).
    pub(crate) metrics_token: Secret,
    /// `MYMCP_TOKEN_FILE` (default `/etc/mymcp/tokens.json`).
    pub(crate) token_file: PathBuf,
    /// `MYMCP_PROTECTED_PATHS`, comma separated, trimmed, empties dropped.
    pub(crate) protected_paths: Vec<String>,
    /// `MYMCP_SHUTDOWN_GRACE_SEC` (default 5).
    pub(crate) shutdown_grace_sec: u64,
    /// `MYMCP_AUDIT_ENABLED` (default false).
    pub(crate) audit_enabled: bool,
    /// `MYMCP_AUDIT_LOG_DIR` (default `/var/log/mymcp`); always protected.
    pub(crate) audit_log_dir: PathBuf,
    /// `MYMCP_AUDIT_MAX_BYTES` (default 10 MiB).
    pub(crate) audit_max_bytes: u64,
    /// `MYMCP_AUDIT_BACKUP_COUNT` (default 5).
    pub(crate) audit_backup_count: u32,
    /// `MYMCP_AUDIT_OUTPUT_BASH_HEAD_BYTES` (default 0: no command output in the audit log).
    pub(crate) audit_output_bash_head_bytes: u64,
    /// `MYMCP_AUDIT_OUTPUT_BASH_TAIL_BYTES` (default 0).
    pub(crate) audit_output_bash_tail_bytes: u64,
    /// `MYMCP_BASH_MAX_OUTPUT_BYTES` (default 102400).
    pub(crate) bash_max_output_bytes: u64,
    /// `MYMCP_BASH_MAX_OUTPUT_BYTES_HARD` (default 1048576).
    pub(crate) bash_max_output_bytes_hard: u64,
    /// `MYMCP_BASH_MAX_CONCURRENT` (default 32).
    pub(crate) bash_max_concurrent: u32,
    /// `MYMCP_JOB_MAX_SEC` (default 86400): the longest a background job may run.
    pub(crate) job_max_sec: u64,
    /// `MYMCP_JOBS_MAX_RUNNING` (default 16): background jobs running at once.
    pub(crate) jobs_max_running: u32,
    /// `MYMCP_JOB_OUTPUT_MAX_BYTES` (default 8 MiB): unread output kept per job stream.
    pub(crate) job_output_max_bytes: u64,
    /// `MYMCP_JOB_RETENTION_SEC` (default 3600): how long a finished job stays readable.
    pub(crate) job_retention_sec: u64,
    /// `MYMCP_READ_FILE_DEFAULT_LIMIT` (default 2000).
    pub(crate) read_file_default_limit: u64,
    /// `MYMCP_READ_FILE_MAX_LIMIT` (default 50000).
    pub(crate) read_file_max_limit: u64,
    /// `MYMCP_READ_FILE_MAX_LINE_BYTES` (default 32768).
    pub(crate) read_file_max_line_bytes: u64,
    /// `MYMCP_WRITE_FILE_MAX_BYTES` (default 10 MiB).
    pub(crate) write_file_max_bytes: u64,
    /// `MYMCP_EDIT_STRING_MAX_BYTES` (default 1 MiB).
    pub(crate) edit_string_max_bytes: u64,
    /// `MYMCP_GLOB_MAX_RESULTS` (default 1000).
    pub(crate) glob_max_results: u64,
    /// `MYMCP_GREP_DEFAULT_MAX_RESULTS` (default 500).
    pub(crate) grep_default_max_results: u64,
    /// `MYMCP_GREP_MAX_RESULTS` (default 5000).
    pub(crate) grep_max_results: u64,
    /// `MYMCP_TRANSFER_ENABLED` (default true).
    pub(crate) transfer_enabled: bool,
    /// `MYMCP_TRANSFER_MAX_BYTES` (default 2 GiB).
    pub(crate) transfer_max_bytes: u64,
    /// `MYMCP_TRANSFER_DEFAULT_TTL_SEC` (default 300).
    pub(crate) transfer_default_ttl_sec: u64,
    /// `MYMCP_TRANSFER_MAX_TTL_SEC` (default 900).
    pub(crate) transfer_max_ttl_sec: u64,
    /// `MYMCP_PUBLIC_BASE_URL` (default empty: derived from the request).
    pub(crate) public_base_url: String,
    /// `MYMCP_TRUST_FORWARDED` (default false): honour `X-Forwarded-*` from the peer.
    pub(crate) trust_forwarded: bool,
    /// `MYMCP_ALLOWED_HOSTS`: extra `Host` names accepted on `/mcp` and `/admin` (CSV, `*` = any).
    pub(crate) allowed_hosts: Vec<String>,
    /// `MYMCP_CORS_ORIGINS`: browser origins (`scheme://host[:port]`, lowercase) that may call
    /// `/mcp` cross-origin; empty = none.
    pub(crate) cors_origins: Vec<String>,
    /// `MYMCP_TLS_CERT` + `MYMCP_TLS_KEY` (+ `MYMCP_TLS_ALLOW_INSECURE_KEY_MODE`): serve HTTPS
    /// with this pair; `None` = plain HTTP.
    pub(crate) tls: Option<crate::tls::TlsFiles>,
    /// `MYMCP_OAUTH_*`: accept access tokens from this authorization server; `None` = off.
    pub(crate) oauth: Option<crate::oauth::OAuthSettings>,
    /// `MYMCP_STATIC_TOKENS` (default true): client tokens from the token file are accepted.
    pub(crate) static_tokens: bool,
    /// `MYMCP_RO_SHELL` (default false): `ro` callers get `bash_execute`, confined.
    pub(crate) ro_shell: bool,
    /// `MYMCP_RO_SHELL_USER` (default `nobody`): who confined commands run as.
    pub(crate) ro_shell_user: String,
    /// `MYMCP_RO_SHELL_GROUPS` (CSV, default none): their supplementary groups.
    pub(crate) ro_shell_groups: Vec<String>,
    /// `MYMCP_RECORDER_ENABLED` (default false): the recorder sidecar maintains the overview.
    pub(crate) recorder_enabled: bool,
    /// `MYMCP_RECORDER_DATA_DIR` (default `/var/lib/mymcp/recorder`).
    pub(crate) recorder_data_dir: PathBuf,
    /// `MYMCP_RECORDER_MERGE_INTERVAL_SEC` (default 300; `<= 0` means 300).
    pub(crate) recorder_merge_interval_sec: u64,
    /// `MYMCP_LOG_LEVEL` (default `info`).
    pub(crate) log_level: String,
    /// `MYMCP_LOG_FORMAT` (`text` or `json`, default `text`).
    pub(crate) log_format: LogFormat,
    /// The env file that was used, if any.
    pub(crate) env_file: Option<PathBuf>,
}

/// Application log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Looks a variable up with env > env file precedence.
pub(crate) struct Lookup<'a> {
    env: &'a BTreeMap<String, String>,
    file: Option<&'a EnvFile>,
}

impl<'a> Lookup<'a> {
    /// Build a lookup over the process environment and an optional env file.
    pub(crate) fn new(env: &'a BTreeMap<String, String>, file: Option<&'a EnvFile>) -> Self {
        Self { env, file }
    }

    /// Raw value: env first, then file.
    pub(crate) fn get(&self, key: &str) -> Option<&'a str> {
        self.env
            .get(key)
            .or_else(|| self.file.and_then(|f| f.vars.get(key)))
            .map(String::as_str)
    }

    /// String value or `default`.
    pub(crate) fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or(default).to_string()
    }

    /// Integer value or `default`.
    pub(crate) fn int(&self, key: &'static str, default: i64) -> Result<i64, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse::<i64>().map_err(|_| ConfigError::Invalid {
                var: key,
                kind: "integer",
                value: v.to_string(),
            }),
        }
    }

    /// Integer of at least `min`, or `default`.
    pub(crate) fn uint(
        &self,
        key: &'static str,
        default: u64,
        min: u64,
    ) -> Result<u64, ConfigError> {
        let v = self.int(key, default as i64)?;
        if v < min as i64 {
            return Err(ConfigError::Range {
                var: key,
                reason: format!("must be at least {min}, got {v}"),
            });
        }
        Ok(v as u64)
    }

    /// Boolean (reference spellings) or `default`.
    pub(crate) fn bool(&self, key: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| ConfigError::Invalid {
                var: key,
                kind: "boolean",
                value: v.to_string(),
            }),
        }
    }
}

/// The reference's boolean spellings, case-insensitive.
pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `MYMCP_CORS_ORIGINS` as browsers serialise an origin: `http` or `https`, a host, an optional
/// port, nothing else (a path or a wildcard would never match an `Origin` header, so it is
/// refused at start rather than silently ignored).
/// `MYMCP_TLS_CERT` and `MYMCP_TLS_KEY` go together; relative paths would depend on the
/// working directory of whoever starts the service, so they are refused.
fn tls_files(l: &Lookup<'_>) -> Result<Option<crate::tls::TlsFiles>, ConfigError> {
    let get = |var| l.get(var).map(str::trim).filter(|v| !v.is_empty());
    let allow_insecure_key_mode = l.bool("MYMCP_TLS_ALLOW_INSECURE_KEY_MODE", false)?;
    let (cert, key) = match (get("MYMCP_TLS_CERT"), get("MYMCP_TLS_KEY")) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => {
            return Err(ConfigError::Range {
                var: "MYMCP_TLS_KEY",
                reason: "must be set when MYMCP_TLS_CERT is (the private key's PEM file)".into(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Range {
                var: "MYMCP_TLS_CERT",
                reason: "must be set when MYMCP_TLS_KEY is (the certificate's PEM file)".into(),
            });
        }
    };
    for (var, v) in [("MYMCP_TLS_CERT", cert), ("MYMCP_TLS_KEY", key)] {
        if !v.starts_with('/') {
            return Err(ConfigError::Range {
                var,
                reason: format!("must be an absolute path, got {v:?}"),
            });
        }
    }
    Ok(Some(crate::tls::TlsFiles {
        cert: PathBuf::from(cert),
        key: PathBuf::from(key),
        allow_insecure_key_mode,
    }))
}

/// `MYMCP_OAUTH_*`. The issuer must be `https://` (its keys decide who gets in), except on a
/// loopback address; the audience defaults to `<MYMCP_PUBLIC_BASE_URL>/mcp`, the resource
/// identifier clients ask tokens for.
fn oauth_settings(l: &Lookup<'_>) -> Result<Option<crate::oauth::OAuthSettings>, ConfigError> {
    let get = |var| l.get(var).map(str::trim).filter(|v| !v.is_empty());
    let Some(issuer) = get("MYMCP_OAUTH_ISSUER") else {
        for var in [
            "MYMCP_OAUTH_AUDIENCE",
            "MYMCP_OAUTH_CLIENT_ID",
            "MYMCP_OAUTH_CLIENT_SECRET",
        ] {
            if get(var).is_some() {
                return Err(ConfigError::Range {
                    var,
                    reason: "is set but MYMCP_OAUTH_ISSUER is not (OAuth is off without it)".into(),
                });
            }
        }
        return Ok(None);
    };
    let issuer = issuer.trim_end_matches('/').to_string();
    if !(issuer.starts_with("https://") || crate::oauth::is_loopback_url(&issuer)) {
        return Err(ConfigError::Range {
            var: "MYMCP_OAUTH_ISSUER",
            reason: format!(
                "must be an https:// URL (http:// only on a loopback address), got {issuer:?}"
            ),
        });
    }
    let audience = match get("MYMCP_OAUTH_AUDIENCE") {
        Some(a) => a.to_string(),
        None => match get("MYMCP_PUBLIC_BASE_URL") {
            Some(base) => format!("{}/mcp", base.trim_end_matches('/')),
            None => {
                return Err(ConfigError::Range {
                    var: "MYMCP_OAUTH_AUDIENCE",
                    reason:
                        "must be set when MYMCP_OAUTH_ISSUER is, unless MYMCP_PUBLIC_BASE_URL is \
                             (the audience is then <MYMCP_PUBLIC_BASE_URL>/mcp)"
                            .into(),
                });
            }
        },
    };
    let scope = |var, default: &str| -> Result<String, ConfigError> {
        let v = get(var).unwrap_or(default).to_string();
        if v.contains(char::is_whitespace) || v.contains('"') || v.contains('\\') {
            return Err(ConfigError::Invalid {
                var,
                kind: "scope (one word, no quotes)",
                value: v,
            });
        }
        Ok(v)
    };
    let scope_ro = scope("MYMCP_OAUTH_SCOPE_RO", "mymcp:ro")?;
    let scope_rw = scope("MYMCP_OAUTH_SCOPE_RW", "mymcp:rw")?;
    if scope_ro == scope_rw {
        return Err(ConfigError::Range {
            var: "MYMCP_OAUTH_SCOPE_RW",
            reason: format!("must differ from MYMCP_OAUTH_SCOPE_RO (both are {scope_ro:?})"),
        });
    }
    let client = match (
        get("MYMCP_OAUTH_CLIENT_ID"),
        get("MYMCP_OAUTH_CLIENT_SECRET"),
    ) {
        (None, None) => None,
        (Some(id), Some(secret)) => Some((id.to_string(), Secret::new(secret))),
        (Some(_), None) => {
            return Err(ConfigError::Range {
                var: "MYMCP_OAUTH_CLIENT_SECRET",
                reason: "must be set when MYMCP_OAUTH_CLIENT_ID is".into(),
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::Range {
                var: "MYMCP_OAUTH_CLIENT_ID",
                reason: "must be set when MYMCP_OAUTH_CLIENT_SECRET is".into(),
            });
        }
    };
    Ok(Some(crate::oauth::OAuthSettings {
        issuer,
        audience,
        scope_ro,
        scope_rw,
        client,
    }))
}

fn cors_origins(v: Option<&str>) -> Result<Vec<String>, ConfigError> {
    csv(v)
        .into_iter()
        .map(|o| {
            let o = o.to_ascii_lowercase();
            let o = o.strip_suffix('/').unwrap_or(&o).to_string();
            let authority = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            // parse_host refuses paths, queries, userinfo and wildcards.
            match authority.and_then(crate::hosts::parse_host) {
                Some(_) => Ok(o),
                None => Err(ConfigError::Invalid {
                    var: "MYMCP_CORS_ORIGINS",
                    kind: "origin (scheme://host[:port])",
                    value: o,
                }),
            }
        })
        .collect()
}

fn csv(v: Option<&str>) -> Vec<String> {
    v.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

impl Config {
    /// Resolve every variable. `env` is the process environment (only `MYMCP_*` keys matter).
    pub(crate) fn resolve(
        env: &BTreeMap<String, String>,
        source: &EnvSource,
    ) -> Result<Self, ConfigError> {
        let l = Lookup::new(env, source.file());
        let port = l.int("MYMCP_PORT", 8765)?;
        let port = u16::try_from(port).map_err(|_| ConfigError::Range {
            var: "MYMCP_PORT",
            reason: format!("must be between 0 and 65535, got {port}"),
        })?;
        let log_format = match l.get("MYMCP_LOG_FORMAT").map(str::to_ascii_lowercase) {
            None => LogFormat::Text,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) => {
                return Err(ConfigError::Invalid {
                    var: "MYMCP_LOG_FORMAT",
                    kind: "log format (text|json)",
                    value: v,
                });
            }
        };
        let merge = l.int("MYMCP_RECORDER_MERGE_INTERVAL_SEC", 300)?;
        let cfg = Config {
            host: l.string("MYMCP_HOST", "0.0.0.0"),
            port,
            admin_token: Secret::new(l.string("MYMCP_ADMIN_TOKEN", "")),
            metrics_token: Secret::new(l.string("MYMCP_METRICS_TOKEN", "")),
            token_file: PathBuf::from(l.string("MYMCP_TOKEN_FILE", "/etc/mymcp/tokens.json")),
            protected_paths: csv(l.get("MYMCP_PROTECTED_PATHS")),
            shutdown_grace_sec: l.uint("MYMCP_SHUTDOWN_GRACE_SEC", 5, 0)?,
            audit_enabled: l.bool("MYMCP_AUDIT_ENABLED", false)?,
            audit_log_dir: PathBuf::from(l.string("MYMCP_AUDIT_LOG_DIR", "/var/log/mymcp")),
            audit_max_bytes: l.uint("MYMCP_AUDIT_MAX_BYTES", 10_485_760, 0)?,
            audit_backup_count: l.uint("MYMCP_AUDIT_BACKUP_COUNT", 5, 0)? as u32,
            audit_output_bash_head_bytes: l.uint("MYMCP_AUDIT_OUTPUT_BASH_HEAD_BYTES", 0, 0)?,
            audit_output_bash_tail_bytes: l.uint("MYMCP_AUDIT_OUTPUT_BASH_TAIL_BYTES", 0, 0)?,
            bash_max_output_bytes: l.uint("MYMCP_BASH_MAX_OUTPUT_BYTES", 102_400, 1)?,
            bash_max_output_bytes_hard: l.uint("MYMCP_BASH_MAX_OUTPUT_BYTES_HARD", 1_048_576, 1)?,
            bash_max_concurrent: l
                .uint("MYMCP_BASH_MAX_CONCURRENT", 32, 1)?
                .min(u32::MAX as u64) as u32,
            job_max_sec: l.uint("MYMCP_JOB_MAX_SEC", 86_400, 1)?,
            jobs_max_running: l
                .uint("MYMCP_JOBS_MAX_RUNNING", 16, 1)?
                .min(u32::MAX as u64) as u32,
            job_output_max_bytes: l.uint("MYMCP_JOB_OUTPUT_MAX_BYTES", 8_388_608, 2)?,
            job_retention_sec: l.uint("MYMCP_JOB_RETENTION_SEC", 3600, 0)?,
            read_file_default_limit: l.uint("MYMCP_READ_FILE_DEFAULT_LIMIT", 2000, 1)?,
            read_file_max_limit: l.uint("MYMCP_READ_FILE_MAX_LIMIT", 50_000, 1)?,
            read_file_max_line_bytes: l.uint("MYMCP_READ_FILE_MAX_LINE_BYTES", 32_768, 1)?,
            write_file_max_bytes: l.uint("MYMCP_WRITE_FILE_MAX_BYTES", 10_485_760, 0)?,
            edit_string_max_bytes: l.uint("MYMCP_EDIT_STRING_MAX_BYTES", 1_048_576, 0)?,
            glob_max_results: l.uint("MYMCP_GLOB_MAX_RESULTS", 1000, 1)?,
            grep_default_max_results: l.uint("MYMCP_GREP_DEFAULT_MAX_RESULTS", 500, 1)?,
            grep_max_results: l.uint("MYMCP_GREP_MAX_RESULTS", 5000, 1)?,
            transfer_enabled: l.bool("MYMCP_TRANSFER_ENABLED", true)?,
            transfer_max_bytes: l.uint("MYMCP_TRANSFER_MAX_BYTES", 2_147_483_648, 1)?,
            transfer_default_ttl_sec: l.uint("MYMCP_TRANSFER_DEFAULT_TTL_SEC", 300, 1)?,
            transfer_max_ttl_sec: l.uint("MYMCP_TRANSFER_MAX_TTL_SEC", 900, 1)?,
            public_base_url: l.string("MYMCP_PUBLIC_BASE_URL", ""),
            trust_forwarded: l.bool("MYMCP_TRUST_FORWARDED", false)?,
            allowed_hosts: csv(l.get("MYMCP_ALLOWED_HOSTS")),
            cors_origins: cors_origins(l.get("MYMCP_CORS_ORIGINS"))?,
            tls: tls_files(&l)?,
            oauth: oauth_settings(&l)?,
            static_tokens: l.bool("MYMCP_STATIC_TOKENS", true)?,
            ro_shell: l.bool("MYMCP_RO_SHELL", false)?,
            ro_shell_user: l.string("MYMCP_RO_SHELL_USER", "nobody"),
            ro_shell_groups: csv(l.get("MYMCP_RO_SHELL_GROUPS")),
            recorder_enabled: l.bool("MYMCP_RECORDER_ENABLED", false)?,
            recorder_data_dir: PathBuf::from(
                l.string("MYMCP_RECORDER_DATA_DIR", "/var/lib/mymcp/recorder"),
            ),
            recorder_merge_interval_sec: if merge <= 0 { 300 } else { merge as u64 },
            log_level: l.string("MYMCP_LOG_LEVEL", "info").to_ascii_lowercase(),
            log_format,
            env_file: source.file().map(|f| f.path.clone()),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.bash_max_output_bytes > self.bash_max_output_bytes_hard {
            return Err(ConfigError::Range {
                var: "MYMCP_BASH_MAX_OUTPUT_BYTES",
                reason: format!(
                    "{} is above MYMCP_BASH_MAX_OUTPUT_BYTES_HARD ({})",
                    self.bash_max_output_bytes, self.bash_max_output_bytes_hard
                ),
            });
        }
        if self.read_file_default_limit > self.read_file_max_limit {
            return Err(ConfigError::Range {
                var: "MYMCP_READ_FILE_DEFAULT_LIMIT",
                reason: format!(
                    "{} is above MYMCP_READ_FILE_MAX_LIMIT ({})",
                    self.read_file_default_limit, self.read_file_max_limit
                ),
            });
        }
        if self.grep_default_max_results > self.grep_max_results {
            return Err(ConfigError::Range {
                var: "MYMCP_GREP_DEFAULT_MAX_RESULTS",
                reason: format!(
                    "{} is above MYMCP_GREP_MAX_RESULTS ({})",
                    self.grep_default_max_results, self.grep_max_results
                ),
            });
        }
        if !matches!(
            self.log_level.as_str(),
            "trace" | "debug" | "info" | "warn" | "warning" | "error" | "critical"
        ) {
            return Err(ConfigError::Invalid {
                var: "MYMCP_LOG_LEVEL",
                kind: "log level (trace|debug|info|warning|error)",
                value: self.log_level.clone(),
            });
        }
        if !self.static_tokens && self.oauth.is_none() {
            return Err(ConfigError::Range {
                var: "MYMCP_STATIC_TOKENS",
                reason: "is false but MYMCP_OAUTH_ISSUER is not set: no client could ever get in"
                    .into(),
            });
        }
        let url = &self.public_base_url;
        if !(url.is_empty() || url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::Range {
                var: "MYMCP_PUBLIC_BASE_URL",
                reason: format!(
                    "must start with http:// or https://, got {:?}",
                    self.public_base_url
                ),
            });
        }
        Ok(())
    }
}

/// The `MYMCP_*` part of the process environment. Only these keys are ever consulted.
pub(crate) fn process_env() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| k.starts_with("MYMCP_"))
        .collect()
}

/// The environment a child process should get: the server's, minus every `MYMCP_*` variable
/// (they carry the admin and metrics tokens and recorder API keys, which a command must not
/// be able to print).
pub(crate) fn child_env() -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    std::env::vars_os()
        .filter(|(k, _)| {
            let k = k.to_string_lossy();
            // systemd's notify socket and watchdog belong to the server, not its children.
            !k.starts_with("MYMCP_")
                && !matches!(&*k, "NOTIFY_SOCKET" | "WATCHDOG_USEC" | "WATCHDOG_PID")
        })
        .collect()
}

/// A commented example env file (`mymcp config example`).
pub(crate) fn example_env() -> String {
    r#"# mymcp configuration. The service reads this file via `mymcp serve --env-file PATH`
# (default /etc/mymcp/.env). Keep it mode 0600: it holds the admin token.
# Precedence: process environment > this file > built-in default.

# Where to listen. 127.0.0.1 keeps the server local; to expose it, turn on HTTPS below
# (MYMCP_TLS_CERT/KEY) or put a TLS proxy in front.
MYMCP_HOST=127.0.0.1
MYMCP_PORT=8765

# Token for /admin/tokens: at least 32 characters, no spaces. `mymcp init` writes one, and
# `mymcp token rotate-admin --env-file PATH` replaces it; a placeholder like this one is refused.
MYMCP_ADMIN_TOKEN=<generate-with-mymcp-token-rotate-admin>

# Token for GET /metrics (empty: /metrics answers 503); at least 32 characters when set.
MYMCP_METRICS_TOKEN=

# Client tokens (ro/rw), stored as SHA-256 hashes. Manage with `mymcp token ...`.
MYMCP_TOKEN_FILE=/etc/mymcp/tokens.json

# Extra paths no tool may read or write (comma separated). The env file, the token file,
# their directory, the audit log directory and MYMCP_TLS_KEY are always protected.
# MYMCP_PROTECTED_PATHS=/root/.ssh,/etc/shadow

# Extra Host header names accepted on /mcp and /admin (comma separated, * for any).
# MYMCP_ALLOWED_HOSTS=mcp.example.com

# Browser origins allowed to call /mcp cross-origin, e.g. the MCP Inspector's web UI (comma
# separated, exact scheme://host[:port]). Preflights are answered without a token either way.
# MYMCP_CORS_ORIGINS=http://localhost:6274

# HTTPS without a proxy: PEM certificate (server first, then intermediates) and private key.
# Both files are read again when they change (a certbot renewal), without a restart; a pair
# that does not load is logged and the previous one stays. The key must not be readable by
# group or others unless MYMCP_TLS_ALLOW_INSECURE_KEY_MODE=true. Absolute paths.
# MYMCP_TLS_CERT=/etc/mymcp/tls/cert.pem
# MYMCP_TLS_KEY=/etc/mymcp/tls/key.pem
# MYMCP_TLS_ALLOW_INSECURE_KEY_MODE=false

# OAuth 2.1 (docs/oauth.md): also accept access tokens from your identity provider, so one
# place grants and revokes access to every host. The issuer must be https:// (http:// only on
# a loopback address); its metadata and keys are fetched in the background at start.
# MYMCP_OAUTH_ISSUER=https://sso.example.com/realms/ops
# What tokens must name in `aud` (default <MYMCP_PUBLIC_BASE_URL>/mcp; one of the two is needed).
# MYMCP_OAUTH_AUDIENCE=https://host1.example.com:8765/mcp
# The scope that gives rw, and the one that gives ro (a token with neither is refused: 403).
# MYMCP_OAUTH_SCOPE_RW=mymcp:rw
# MYMCP_OAUTH_SCOPE_RO=mymcp:ro
# Credentials of this server at the introspection endpoint, for opaque (non-JWT) tokens.
# MYMCP_OAUTH_CLIENT_ID=
# MYMCP_OAUTH_CLIENT_SECRET=
# false: only OAuth tokens get in (needs MYMCP_OAUTH_ISSUER); the token file is not consulted.
# MYMCP_STATIC_TOKENS=true

# Audit log: one JSON line per tool call, rotated by size.
MYMCP_AUDIT_ENABLED=true
MYMCP_AUDIT_LOG_DIR=/var/log/mymcp
# MYMCP_AUDIT_MAX_BYTES=10485760
# MYMCP_AUDIT_BACKUP_COUNT=5
# Copy the first / last N bytes of each command's stdout into its audit line (stdout_head,
# stdout_tail). Off by default: command output can hold secrets.
# MYMCP_AUDIT_OUTPUT_BASH_HEAD_BYTES=0
# MYMCP_AUDIT_OUTPUT_BASH_TAIL_BYTES=0

# Seconds in-flight calls get to finish on SIGTERM.
# MYMCP_SHUTDOWN_GRACE_SEC=5

# Tool limits (defaults shown).
# MYMCP_BASH_MAX_OUTPUT_BYTES=102400
# MYMCP_BASH_MAX_OUTPUT_BYTES_HARD=1048576
# MYMCP_BASH_MAX_CONCURRENT=32

# Background jobs (bash_execute with background or detach_after; job_output, job_kill,
# job_list). The longest a job may run, how many run at once, the unread output kept per
# stream (first and last halves), and how long a finished job stays readable.
# MYMCP_JOB_MAX_SEC=86400
# MYMCP_JOBS_MAX_RUNNING=16
# MYMCP_JOB_OUTPUT_MAX_BYTES=8388608
# MYMCP_JOB_RETENTION_SEC=3600

# More tool limits (defaults shown).
# MYMCP_READ_FILE_DEFAULT_LIMIT=2000
# MYMCP_READ_FILE_MAX_LIMIT=50000
# MYMCP_READ_FILE_MAX_LINE_BYTES=32768
# MYMCP_WRITE_FILE_MAX_BYTES=10485760
# MYMCP_EDIT_STRING_MAX_BYTES=1048576
# MYMCP_GLOB_MAX_RESULTS=1000
# MYMCP_GREP_DEFAULT_MAX_RESULTS=500
# MYMCP_GREP_MAX_RESULTS=5000

# Out-of-band file transfer (/files/raw/{ticket}).
# MYMCP_TRANSFER_ENABLED=true
# MYMCP_TRANSFER_MAX_BYTES=2147483648
# MYMCP_TRANSFER_DEFAULT_TTL_SEC=300
# MYMCP_TRANSFER_MAX_TTL_SEC=900
# Base URL clients use to reach this server; derived from the request when empty.
# MYMCP_PUBLIC_BASE_URL=https://mcp.example.com
# Trust X-Forwarded-Proto/Host from a reverse proxy.
# MYMCP_TRUST_FORWARDED=false

# A shell for ro tokens, confined by the kernel (Landlock): runs as this user with only these
# supplementary groups (e.g. adm,systemd-journal to read logs), reads everything but the
# protected paths, writes nothing but a private temp dir. Needs root and Landlock ABI 6+.
# MYMCP_RO_SHELL=false
# MYMCP_RO_SHELL_USER=nobody
# MYMCP_RO_SHELL_GROUPS=

# Host overview recorder (`mymcp recorder`, unit mymcp-recorder; feeds server_overview).
MYMCP_RECORDER_ENABLED=false
MYMCP_RECORDER_DATA_DIR=/var/lib/mymcp/recorder
# MYMCP_RECORDER_LLM_PROVIDER=anthropic          # or openai (OpenAI-compatible endpoints)
# MYMCP_RECORDER_LLM_API_KEY=
# MYMCP_RECORDER_LLM_MODEL=                      # default: claude-sonnet-4-5 / gpt-4.1-mini
# MYMCP_RECORDER_LLM_BASE_URL=                   # e.g. https://api.deepseek.com/v1
# MYMCP_RECORDER_LLM_MAX_TOKENS=32768
# MYMCP_RECORDER_LLM_TIMEOUT_SEC=120
# MYMCP_RECORDER_LLM_RETRIES=2
# MYMCP_RECORDER_LLM_RETRY_BACKOFF_MS=1000
# MYMCP_RECORDER_MERGE_INTERVAL_SEC=300
# MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE=50
# MYMCP_RECORDER_BOOTSTRAP_MAX_ITERATIONS=200    # probes run at most
# MYMCP_RECORDER_BOOTSTRAP_TOKEN_BUDGET=10000000
# MYMCP_RECORDER_BOOTSTRAP_PROBE_TIMEOUT_SEC=30
# MYMCP_RECORDER_BOOTSTRAP_RETRY_INTERVAL_SEC=3600
# MYMCP_RECORDER_CIRCUIT_BREAKER_THRESHOLD=5     # 0: never open

# Application log (stderr): trace|debug|info|warning|error, text|json.
# MYMCP_LOG_LEVEL=info
# MYMCP_LOG_FORMAT=text
"#
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_syntax() {
        let m = parse_env_text(
            "# c\n\n  A = 1 \nB=\"two words\"\nC='x'\nD=\"mismatch'\nexport E=1\nF=a # comment\nnoeq\n=v\nG=\"q # kept\"  # comment\nH=a#b\nI=   # only a comment\n",
        );
        let get = |k: &str| m.get(k).map(String::as_str);
        assert_eq!(get("A"), Some("1"));
        assert_eq!(get("B"), Some("two words"));
        assert_eq!(get("C"), Some("x"));
        assert_eq!(get("D"), Some("\"mismatch'"));
        assert_eq!(get("E"), Some("1"));
        assert_eq!(get("F"), Some("a"));
        assert_eq!(get("G"), Some("q # kept"));
        assert_eq!(get("H"), Some("a#b"));
        assert_eq!(get("I"), Some(""));
        assert_eq!(m.len(), 9);
    }

    #[test]
    fn every_setting_the_code_reads_is_in_the_example() {
        let known = known_keys();
        for src in [
            include_str!("config.rs"),
            include_str!("recorder/mod.rs"),
            include_str!("daemon.rs"),
        ] {
            let code = src.split("#[cfg(test)]").next().unwrap_or(src);
            for (i, _) in code.match_indices("\"MYMCP_") {
                let name: String = code[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // Prefix checks (`"MYMCP_"`, `"MYMCP_AUDIT_"`) are not settings.
                if !name.ends_with('_') {
                    assert!(
                        known.contains(&name),
                        "{name} is read but not in `config example`"
                    );
                }
            }
        }
    }

    #[test]
    fn unknown_keys_are_named_with_the_nearest_known_one() {
        let f = EnvFile {
            path: "/x/.env".into(),
            vars: parse_env_text("MYMCP_PROT=1\nMYMCP_PORT=2\nMYMCP_ZZZZZZZZZ=3\nOTHER=4\n"),
            stamp: None,
        };
        let w = unknown_key_warnings(&f);
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("MYMCP_PROT") && w[0].contains("did you mean MYMCP_PORT?"),
            "{w:?}"
        );
        assert!(
            w[1].contains("MYMCP_ZZZZZZZZZ") && !w[1].contains("did you mean"),
            "{w:?}"
        );
    }

    #[test]
    fn weak_tokens() {
        // The example's own admin token line is refused as it stands.
        let example = parse_env_text(&example_env());
        assert!(weak_token(&example["MYMCP_ADMIN_TOKEN"]).is_some());
        assert!(weak_token("<generate-with-mymcp-init-000000000000>").is_some());
        assert!(weak_token("tok_0123456789abcdef0123456789abcdef with space").is_some());
        assert!(weak_token("tok_short").is_some());
        assert!(weak_token(&crate::tokens::generate_token()).is_none());
    }

    #[test]
    fn env_beats_file_beats_default() {
        let mut env = BTreeMap::new();
        env.insert("MYMCP_PORT".to_string(), "9000".to_string());
        let file = EnvFile {
            path: "/x/.env".into(),
            vars: parse_env_text("MYMCP_PORT=8000\nMYMCP_HOST=10.0.0.1\n"),
            stamp: None,
        };
        let c = Config::resolve(&env, &EnvSource::Explicit(file)).unwrap();
        assert_eq!(c.port, 9000);
        assert_eq!(c.host, "10.0.0.1");
        assert_eq!(c.read_file_default_limit, 2000);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let mut env = BTreeMap::new();
        env.insert("MYMCP_PORT".to_string(), "abc".to_string());
        let e = Config::resolve(&env, &EnvSource::None).unwrap_err();
        assert_eq!(e.to_string(), "MYMCP_PORT: invalid integer \"abc\"");
        let mut env = BTreeMap::new();
        env.insert("MYMCP_AUDIT_ENABLED".to_string(), "maybe".to_string());
        let e = Config::resolve(&env, &EnvSource::None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MYMCP_AUDIT_ENABLED: invalid boolean \"maybe\""
        );
        let mut env = BTreeMap::new();
        env.insert("MYMCP_PORT".to_string(), "70000".to_string());
        assert!(Config::resolve(&env, &EnvSource::None).is_err());
    }

    #[test]
    fn missing_explicit_env_file_is_an_error() {
        let env = BTreeMap::new();
        let e = discover_env_file(Some(Path::new("/nonexistent/mymcp/.env")), &env).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/mymcp/.env"), "{e}");
        let mut env = BTreeMap::new();
        env.insert("MYMCP_ENV_FILE".into(), "/nonexistent/2".into());
        assert!(discover_env_file(None, &env).is_err());
    }

    #[test]
    fn merge_interval_non_positive_means_default() {
        let mut env = BTreeMap::new();
        env.insert("MYMCP_RECORDER_MERGE_INTERVAL_SEC".into(), "-4".into());
        assert_eq!(
            Config::resolve(&env, &EnvSource::None)
                .unwrap()
                .recorder_merge_interval_sec,
            300
        );
    }
}
