//! `prepare_upload` and `prepare_download`: check the path, mint a ticket, and answer with the
//! URL and a curl command to run on the client's side.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::caller::Caller;
use crate::clock::now_unix;
use crate::error::ToolError;
use crate::guard::{Access, Guard, canonicalize_lenient, require_absolute};
use crate::tickets::{Op, Ticket, Tickets};

/// The description `tools/list` shows for `prepare_upload`.
pub(crate) const UPLOAD_DESCRIPTION: &str = "Mint a one-time URL to upload a file to the server outside the model's \
context (large or binary files). Run the returned curl command on the client side.";

/// The description `tools/list` shows for `prepare_download`.
pub(crate) const DOWNLOAD_DESCRIPTION: &str = "Mint a one-time URL to download a server file outside the model's \
context (large or binary files). Run the returned curl command on the client side.";

/// Single-quote for POSIX shells: safe to paste whatever the value (a file name is
/// attacker-chosen text that ends up in a command the client runs).
pub(crate) fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn expires_at_str(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Arguments of `prepare_upload`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UploadArgs {
    /// Absolute path the upload is written to
    pub(crate) dest_path: String,
    /// Largest accepted body in bytes
    pub(crate) max_bytes: Option<i64>,
    /// Seconds the URL stays valid (default 300)
    pub(crate) expires_in: Option<i64>,
    /// Allow replacing an existing file (default true)
    pub(crate) overwrite: Option<bool>,
}

/// Arguments of `prepare_download`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DownloadArgs {
    /// Absolute path of the server file to send
    pub(crate) src_path: String,
    /// Seconds the URL stays valid (default 300)
    pub(crate) expires_in: Option<i64>,
}

/// Limits from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `MYMCP_TRANSFER_ENABLED`.
    pub(crate) enabled: bool,
    /// `MYMCP_TRANSFER_MAX_BYTES`.
    pub(crate) max_bytes: u64,
    /// `MYMCP_TRANSFER_DEFAULT_TTL_SEC`.
    pub(crate) default_ttl: u64,
    /// `MYMCP_TRANSFER_MAX_TTL_SEC`.
    pub(crate) max_ttl: u64,
}

fn ttl(l: &Limits, expires_in: Option<i64>) -> Result<u64, ToolError> {
    match expires_in {
        None => Ok(l.default_ttl.min(l.max_ttl)),
        Some(n) if n <= 0 => Err(ToolError::InvalidExpiresIn(
            "expires_in must be positive.".into(),
        )),
        Some(n) => Ok((n as u64).min(l.max_ttl)),
    }
}

fn disabled() -> ToolError {
    ToolError::TransferDisabled("File transfer feature is disabled on this server.".into())
}

/// Who mints: (token name, role, token id, base URL), taken from the caller.
pub(crate) struct Issuer<'a> {
    /// Token name.
    pub(crate) name: &'a str,
    /// Role.
    pub(crate) role: &'a str,
    /// Token id.
    pub(crate) id: &'a str,
    /// `scheme://host[:port]` the client reached us at.
    pub(crate) base_url: &'a str,
}

impl<'a> Issuer<'a> {
    /// The issuer a caller mints as.
    pub(crate) fn of(caller: &'a Caller) -> Issuer<'a> {
        Issuer {
            name: caller.identity.name(),
            role: caller.role.as_str(),
            id: caller.identity.id(),
            base_url: &caller.base_url,
        }
    }

    /// A ticket from this issuer.
    fn ticket(&self, op: Op, path: PathBuf, max_bytes: u64, overwrite: bool, ttl: u64) -> Ticket {
        Ticket {
            op,
            path,
            max_bytes,
            overwrite,
            expires_at: now_unix() + ttl,
            issuer_name: self.name.to_string(),
            issuer_role: self.role.to_string(),
            issuer_id: self.id.to_string(),
            consumed: false,
            in_flight: false,
        }
    }
}

/// `prepare_upload`.
pub(crate) fn prepare_upload(
    tickets: &Tickets,
    guard: &Guard,
    l: Limits,
    who: &Issuer<'_>,
    a: UploadArgs,
) -> Result<Value, ToolError> {
    if !l.enabled {
        return Err(disabled());
    }
    let p = require_absolute(&a.dest_path, "dest_path")
        .map_err(|_| ToolError::InvalidPath("dest_path must be an absolute path.".into()))?;
    let canonical = canonicalize_lenient(p);
    guard.check_real(&canonical, Access::Write)?;
    let overwrite = a.overwrite.unwrap_or(true);
    if !overwrite && std::fs::symlink_metadata(&canonical).is_ok() {
        return Err(ToolError::FileExists(format!(
            "{} already exists and overwrite=False.",
            a.dest_path
        )));
    }
    let max_bytes = match a.max_bytes {
        None => l.max_bytes,
        Some(n) if n <= 0 => {
            return Err(ToolError::InvalidMaxBytes(
                "max_bytes must be positive.".into(),
            ));
        }
        Some(n) => (n as u64).min(l.max_bytes),
    };
    let ttl = ttl(&l, a.expires_in)?;
    let t = who.ticket(Op::Upload, canonical, max_bytes, overwrite, ttl);
    let expires_at = t.expires_at;
    let id = tickets.mint(t)?;
    let url = format!("{}/files/raw/{id}", who.base_url);
    Ok(json!({
        "curl_example": format!("curl -fsS -T /local/path/to/file {}", shell_quote(&url)),
        "dest_path": a.dest_path,
        "expires_at": expires_at_str(expires_at),
        "expires_in": ttl,
        "instructions": "Run the curl above from the MCP client's local shell, with the local file's path after -T. The raw bytes go in the request body. On success the server answers {\"ok\": true, \"path\": \"...\", \"bytes_written\": N, \"sha256\": \"...\"}.",
        "max_bytes": max_bytes,
        "method": "PUT",
        "on_error": "A 4xx answer carries JSON with error and hint. A ticket works once: mint a new one with prepare_upload rather than retrying the same URL.",
        "success": true,
        "ticket": id,
        "url": url,
    }))
}

/// `prepare_download`.
pub(crate) fn prepare_download(
    tickets: &Tickets,
    guard: &Guard,
    l: Limits,
    who: &Issuer<'_>,
    a: DownloadArgs,
) -> Result<Value, ToolError> {
    if !l.enabled {
        return Err(disabled());
    }
    require_absolute(&a.src_path, "src_path")
        .map_err(|_| ToolError::InvalidPath("src_path must be an absolute path.".into()))?;
    let opened = match guard.open_read(&a.src_path) {
        Ok(o) => o,
        Err(ToolError::FileNotFound { .. }) => {
            return Err(ToolError::FileNotFoundTransfer(format!(
                "{} does not exist.",
                a.src_path
            )));
        }
        Err(ToolError::IsADirectory(_)) | Err(ToolError::NotARegularFile(_)) => {
            return Err(ToolError::NotARegularFile(format!(
                "{} is not a regular file.",
                a.src_path
            )));
        }
        Err(e) => return Err(e),
    };
    let ttl = ttl(&l, a.expires_in)?;
    let t = who.ticket(Op::Download, opened.real.clone(), opened.size, false, ttl);
    let expires_at = t.expires_at;
    let id = tickets.mint(t)?;
    let url = format!("{}/files/raw/{id}", who.base_url);
    let base = Path::new(&a.src_path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    Ok(json!({
        "curl_example": format!("curl -fsS {} -o {}", shell_quote(&url), shell_quote(&format!("/local/path/{base}"))),
        "expires_at": expires_at_str(expires_at),
        "expires_in": ttl,
        "instructions": "Run the curl above from the MCP client's local shell. The bytes stream back as the response body; an interrupted download resumes with curl -C - and the same URL until it expires.",
        "method": "GET",
        "on_error": "A 4xx answer carries JSON with error and hint. A ticket is used up once the whole file has been sent: mint a new one with prepare_download if needed.",
        "size": opened.size,
        "src_path": a.src_path,
        "success": true,
        "ticket": id,
        "url": url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b'; rm -rf ~"), "'a b'\\''; rm -rf ~'");
    }
}
