//! Audit log: one JSON line per tool call, denial and transfer redeem, with the reference's
//! keys and result classification (so existing log pipelines keep working). The file is 0600
//! in a 0750 directory, rotated by size (`audit.log.N`), and written with one `write` per line
//! under a lock, so concurrent calls never interleave. No command output and no written
//! content is copied (the log would become a second copy of every secret that passed through
//! us): bash and write summaries carry sizes and SHA-256 digests only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::caller::Caller;
use crate::error::ToolError;
use crate::tickets::{Op, Ticket};

/// One audit record; field order is the reference's.
#[derive(Debug, Serialize)]
pub(crate) struct Record<'a> {
    /// RFC 3339 UTC with nanoseconds.
    pub(crate) ts: String,
    /// Token name.
    pub(crate) token_name: &'a str,
    /// The token's public id (names can be reused after a revoke; ids cannot).
    pub(crate) token_id: &'a str,
    /// The OAuth client the caller's access token was issued to, when it names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) client_id: Option<&'a str>,
    /// `ro` / `rw`.
    pub(crate) role: &'a str,
    /// Peer IP.
    pub(crate) ip: String,
    /// Tool name.
    pub(crate) tool: &'a str,
    /// Arguments, redacted.
    pub(crate) params: Value,
    /// `ok`, `error` or `denied`.
    pub(crate) result: &'static str,
    /// Request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) request_id: Option<&'a str>,
    /// Why it was denied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reason: Option<String>,
    /// Error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_code: Option<String>,
    /// Error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error_message: Option<String>,
    /// Duration of an executed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) duration_ms: Option<u64>,
    /// Summary of what an ok mutating call did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) output: Option<Value>,
    /// The command ran in the ro shell's sandbox (`MYMCP_RO_SHELL`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) confined: bool,
}

impl<'a> Record<'a> {
    /// The line of a tool call by `caller`, before its outcome is filled in.
    pub(crate) fn for_call(
        caller: &'a Caller,
        tool: &'a str,
        params: Value,
        result: &'static str,
    ) -> Record<'a> {
        Record {
            ts: crate::clock::now_rfc3339(),
            token_name: caller.identity.name(),
            token_id: caller.identity.id(),
            client_id: caller.identity.client_id(),
            role: caller.role.as_str(),
            ip: caller.ip.to_string(),
            tool,
            params,
            result,
            request_id: Some(&caller.request_id),
            reason: None,
            error_code: None,
            error_message: None,
            duration_ms: None,
            output: None,
            confined: false,
        }
    }

    /// The line of a background job's end (`tool: "job_exit"`), in the name of the caller that
    /// started it: `ok` for exit code 0, else `error` with `ExitCode:N`, `TimeoutError` or
    /// `Killed`.
    pub(crate) fn for_job_exit(end: &'a crate::tools::jobs::JobEnd<'a>) -> Record<'a> {
        use crate::tools::jobs::Status;
        let job = end.job;
        let failed = match end.status {
            Status::TimedOut => Some(("TimeoutError".to_string(), "the job's time limit passed")),
            Status::Killed => Some(("Killed".to_string(), "ended after job_kill")),
            _ if end.exit_code != 0 => Some((
                format!("ExitCode:{}", end.exit_code),
                "the job ended with a non-zero exit code",
            )),
            _ => None,
        };
        let mut r = Record::for_call(
            job.owner(),
            "job_exit",
            serde_json::json!({ "job_id": job.id() }),
            if failed.is_some() { "error" } else { "ok" },
        );
        if let Some((code, message)) = failed {
            r.error_code = Some(code);
            r.error_message = Some(message.to_string());
        }
        r.duration_ms = Some(end.duration.as_millis() as u64);
        r.output = Some(serde_json::json!({
            "status": end.status,
            "exit_code": end.exit_code,
            "signal": end.signal,
        }));
        r
    }

    /// The line of a redeemed ticket (`transfer_upload` / `transfer_download`), in the name of
    /// its issuer; `error` is the refusal code when it failed part-way.
    pub(crate) fn for_redeem(
        t: &'a Ticket,
        id: &str,
        redeemer: IpAddr,
        bytes: u64,
        error: Option<&str>,
    ) -> Record<'a> {
        Record {
            ts: crate::clock::now_rfc3339(),
            token_name: &t.issuer_name,
            token_id: &t.issuer_id,
            client_id: None,
            role: &t.issuer_role,
            ip: redeemer.to_string(),
            tool: match t.op {
                Op::Upload => "transfer_upload",
                Op::Download => "transfer_download",
            },
            params: json!({
                "bytes": bytes,
                "issuer_role": t.issuer_role,
                "issuer_token_name": t.issuer_name,
                "op": t.op.as_str(),
                "path": t.path.display().to_string(),
                "redeemer_ip": redeemer.to_string(),
                "ticket": id.chars().take(8).collect::<String>(),
            }),
            result: if error.is_some() { "error" } else { "ok" },
            request_id: None,
            reason: None,
            error_code: error.map(String::from),
            error_message: error.map(String::from),
            duration_ms: None,
            output: None,
            confined: false,
        }
    }
}

/// Longest string value kept whole in an audit line, in characters. Longer values keep a
/// prefix, their length and SHA-256: enough to recognise them, while one call can no longer
/// write megabytes into the log (and rotate the history away).
pub(crate) const MAX_LOGGED_CHARS: usize = 1024;

/// Characters kept of a value over [`MAX_LOGGED_CHARS`].
pub(crate) const LOGGED_PREFIX_CHARS: usize = 256;

/// Largest `params` object kept, in serialised bytes; past it only its size and digest stay.
pub(crate) const MAX_LOGGED_PARAMS_BYTES: usize = 16 * 1024;

/// A string as it may appear in an audit line: whole when short, else a prefix, its length in
/// bytes and its SHA-256.
pub(crate) fn cap_str(s: &str) -> String {
    if s.chars().count() <= MAX_LOGGED_CHARS {
        return s.to_string();
    }
    format!(
        "{}… <{} bytes, sha256:{}>",
        first_chars(s, LOGGED_PREFIX_CHARS),
        s.len(),
        hex::encode(Sha256::digest(s.as_bytes()))
    )
}

fn cap_value(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(cap_str(s)),
        Value::Array(a) => Value::Array(a.iter().map(cap_value).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (cap_str(k), cap_value(v))).collect())
        }
        other => other.clone(),
    }
}

/// `content`, `old_string`, `new_string` become `"<N chars>"` (N = code points); every other
/// string is capped ([`cap_str`]), and the whole object too ([`MAX_LOGGED_PARAMS_BYTES`]).
pub(crate) fn redact_params(args: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (k, v) in args {
        let v = match (k.as_str(), v) {
            ("content" | "old_string" | "new_string", Value::String(s)) => {
                Value::String(format!("<{} chars>", s.chars().count()))
            }
            _ => cap_value(v),
        };
        out.insert(cap_str(k), v);
    }
    let out = Value::Object(out);
    let text = out.to_string();
    if text.len() > MAX_LOGGED_PARAMS_BYTES {
        return json!({
            "_truncated": format!(
                "<{} bytes, sha256:{}>",
                text.len(),
                hex::encode(Sha256::digest(text.as_bytes()))
            )
        });
    }
    out
}

/// Text fit for one line of the application log: control characters (newline, ESC, ...)
/// are escaped so a caller-chosen value cannot forge lines or drive a terminal, and it is cut
/// at 200 characters.
pub(crate) fn loggable(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == 200 {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn first_chars(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Classification of a finished call: (result, error_code, error_message, reason). A result
/// that the tool itself reports as a failure (a command's non-zero exit) arrives as
/// `soft_failure`: (code, message).
pub(crate) fn classify(
    outcome: &Result<Value, ToolError>,
    soft_failure: Option<(String, String)>,
) -> (&'static str, Option<String>, Option<String>, Option<String>) {
    match outcome {
        Err(ToolError::PermissionDenied(m)) => ("denied", None, None, Some(cap_str(m))),
        Err(e) => (
            "error",
            Some(e.code().to_string()),
            Some(cap_str(&e.to_string())),
            None,
        ),
        Ok(_) => match soft_failure {
            Some((code, message)) => ("error", Some(code), Some(message), None),
            None => ("ok", None, None, None),
        },
    }
}

/// Remove whatever is at `p` if it is not a regular file (a planted directory, link, FIFO).
/// Returns whether something was removed.
fn clear_obstacle(p: &Path) -> std::io::Result<bool> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.is_file() => Ok(false),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).map(|()| true),
        Ok(_) => std::fs::remove_file(p).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

struct Open {
    file: File,
    size: u64,
}

/// The audit writer. Disabled: every write is a no-op.
pub(crate) struct AuditLog {
    dir: PathBuf,
    enabled: bool,
    max_bytes: u64,
    backups: u32,
    state: Mutex<Option<Open>>,
}

impl AuditLog {
    /// Configure (nothing is opened until the first record).
    pub(crate) fn new(enabled: bool, dir: &Path, max_bytes: u64, backups: u32) -> AuditLog {
        AuditLog {
            dir: dir.to_path_buf(),
            enabled,
            max_bytes,
            backups,
            state: Mutex::new(None),
        }
    }

    /// Whether records are written.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    fn path(&self) -> PathBuf {
        self.dir.join("audit.log")
    }

    fn open(&self) -> std::io::Result<Open> {
        if !self.dir.is_dir() {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(&self.dir)?;
        }
        let open = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                // Never follow a link planted at the log's name.
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(self.path())
        };
        let file = match open() {
            Ok(f) => f,
            Err(e) => {
                // Whatever sits at the log's name (a directory, a link, a FIFO) is not our
                // log: move it out of the way once, then try again.
                if clear_obstacle(&self.path())? {
                    tracing::warn!(path = %self.path().display(), error = %e, "removed a non-file at the audit log's name");
                    open()?
                } else {
                    return Err(e);
                }
            }
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("audit log is not a regular file"));
        }
        if meta.permissions().mode() & 0o077 != 0 {
            // The reference left its log world-readable; a log holding every call's
            // arguments must not be, so an inherited one is tightened.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(Open {
            file,
            size: meta.len(),
        })
    }

    fn rotate(&self) -> std::io::Result<()> {
        let base = self.path();
        let numbered = |i: u32| PathBuf::from(format!("{}.{i}", base.display()));
        if self.backups == 0 {
            return std::fs::remove_file(&base).or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            });
        }
        // Whatever was planted at a backup's name (a non-empty directory made rename fail,
        // and with it every later write) is cleared first.
        clear_obstacle(&numbered(self.backups))?;
        for i in (1..self.backups).rev() {
            let from = numbered(i);
            if clear_obstacle(&from)? {
                continue;
            }
            if from.exists() {
                std::fs::rename(&from, numbered(i + 1))?;
            }
        }
        if base.exists() {
            std::fs::rename(&base, numbered(1))?;
        }
        Ok(())
    }

    /// Can records be written right now? Opens the log if needed. Mutating tools call this
    /// first and refuse to run when it fails: an action nobody can audit does not happen.
    pub(crate) fn ready(&self) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut g = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("audit lock poisoned"))?;
        if let Some(o) = g.as_ref() {
            // Still the file at the log's name, and still linked?
            let linked = o.file.metadata().is_ok_and(|m| m.nlink() > 0);
            if linked {
                return Ok(());
            }
        }
        *g = Some(self.open()?);
        Ok(())
    }

    /// Append one record. Rotates first when the line would reach `MYMCP_AUDIT_MAX_BYTES`.
    pub(crate) fn write(&self, record: &Record<'_>) -> std::io::Result<()> {
        if !self.enabled {
            return Ok(());
        }
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut g = self
            .state
            .lock()
            .map_err(|_| std::io::Error::other("audit lock poisoned"))?;
        if g.is_none() {
            *g = Some(self.open()?);
        }
        let needs_rotation = g.as_ref().is_some_and(|o| {
            self.max_bytes > 0 && o.size > 0 && o.size + line.len() as u64 >= self.max_bytes
        });
        if needs_rotation {
            *g = None;
            if let Err(e) = self.rotate() {
                // Keep auditing into the current file rather than losing records.
                tracing::error!(error = %e, dir = %self.dir.display(), "audit log rotation failed; appending to the current file");
            }
            *g = Some(self.open()?);
        }
        let Some(o) = g.as_mut() else {
            return Err(std::io::Error::other("audit log not open"));
        };
        // One write per line on an O_APPEND file: lines never interleave or tear.
        let res = o.file.write_all(&line);
        if res.is_err() {
            *g = None; // reopen next time (the file may have been removed)
        } else {
            o.size += line.len() as u64;
        }
        res
    }
}
