//! Out-of-band transfer: `prepare_upload` / `prepare_download` mint one-time tickets, and
//! `PUT`/`GET`/`HEAD /files/raw/{ticket}` redeem them, streaming in bounded memory.
//!
//! Tickets are 144-bit random ids bound to the canonical path at mint, single use, swept on a
//! timer, at most [`MAX_LIVE_PER_TOKEN`] live per token. Uploads stream into a temp file beside
//! the destination and are renamed into place (no-replace when `overwrite=false`, D-24);
//! downloads honour `Range` and are consumed only once the last byte went out, and `HEAD`
//! never consumes (D-23).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::guard::{Access, Guard, canonicalize_lenient, require_absolute};

/// Live tickets one token may hold.
pub(crate) const MAX_LIVE_PER_TOKEN: usize = 64;

/// Uploads and downloads streaming at once, server-wide. Each holds a few MiB of buffers and
/// one or two blocking threads; past this a redeem answers 503 with `Retry-After`.
pub(crate) const MAX_TRANSFERS: usize = 16;

/// Uploads and downloads streaming at once for the tickets of one token, so one caller cannot
/// take every transfer slot.
pub(crate) const MAX_TRANSFERS_PER_TOKEN: usize = 4;

/// A transfer whose client sends no body bytes, or reads none of ours, for this long is
/// dropped and its slot freed.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Upload or download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `PUT`.
    Upload,
    /// `GET`.
    Download,
}

impl Op {
    /// `upload` / `download`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Upload => "upload",
            Op::Download => "download",
        }
    }
}

/// One ticket.
#[derive(Debug, Clone)]
pub(crate) struct Ticket {
    /// Upload or download.
    pub(crate) op: Op,
    /// Canonical path bound at mint.
    pub(crate) path: PathBuf,
    /// Upload cap.
    pub(crate) max_bytes: u64,
    /// Upload: refuse to replace an existing file.
    pub(crate) overwrite: bool,
    /// Unix seconds.
    pub(crate) expires_at: u64,
    /// Issuer token name.
    pub(crate) issuer_name: String,
    /// Issuer role.
    pub(crate) issuer_role: String,
    /// Issuer token id (for the per-token cap).
    pub(crate) issuer_id: String,
    /// Redeemed.
    pub(crate) consumed: bool,
    /// A GET is streaming it now (a download ticket serves one GET at a time).
    pub(crate) in_flight: bool,
}

/// Why a redeem was refused: (HTTP status, error code, hint).
pub(crate) type Refusal = (u16, &'static str, String);

/// All tickets, in memory only.
#[derive(Default)]
pub(crate) struct Tickets {
    map: Mutex<HashMap<String, Ticket>>,
}

/// Seconds since the epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn new_id() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>())
}

impl Tickets {
    /// Drop expired tickets (consumed ones stay until they expire, to answer 410).
    pub(crate) fn sweep(&self) {
        let now = now_unix();
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, t| t.expires_at > now);
        }
    }

    /// Store a new ticket; refuses past the per-token cap.
    pub(crate) fn mint(&self, t: Ticket) -> Result<String, ToolError> {
        self.sweep();
        let mut m = self
            .map
            .lock()
            .map_err(|_| ToolError::Internal("ticket table poisoned".into()))?;
        let live = m
            .values()
            .filter(|x| x.issuer_id == t.issuer_id && !x.consumed)
            .count();
        if live >= MAX_LIVE_PER_TOKEN {
            return Err(ToolError::TooManyTickets(format!(
                "This token already holds {live} unused transfer tickets (limit {MAX_LIVE_PER_TOKEN}); \
                 use or let some expire first."
            )));
        }
        let id = new_id();
        m.insert(id.clone(), t);
        Ok(id)
    }

    /// Look a ticket up for `op`. With `consume`, it is marked used atomically. `issuer_active`
    /// says whether the minting token is still valid: a revoked token's tickets die with it.
    pub(crate) fn redeem(
        &self,
        id: &str,
        op: Op,
        consume: bool,
        issuer_active: impl Fn(&str) -> bool,
    ) -> Result<Ticket, Refusal> {
        self.with_live(id, op, issuer_active, |t| {
            if consume {
                t.consumed = true;
            }
            Ok(())
        })
    }

    /// Start a GET: refuses while another GET of the same ticket is streaming (each would
    /// hold its own buffers and thread).
    pub(crate) fn begin_get(
        &self,
        id: &str,
        issuer_active: impl Fn(&str) -> bool,
    ) -> Result<Ticket, Refusal> {
        self.with_live(id, Op::Download, issuer_active, |t| {
            if t.in_flight {
                return Err((
                    409,
                    "transfer_in_progress",
                    "Another download of this ticket is running; wait for it or mint a new ticket."
                        .into(),
                ));
            }
            t.in_flight = true;
            Ok(())
        })
    }

    /// Under one lock: find a usable ticket for `op` (unused, unexpired, right method, issuer
    /// still valid), apply `then` to it, and return a copy.
    fn with_live(
        &self,
        id: &str,
        op: Op,
        issuer_active: impl Fn(&str) -> bool,
        then: impl FnOnce(&mut Ticket) -> Result<(), Refusal>,
    ) -> Result<Ticket, Refusal> {
        let mut m = self
            .map
            .lock()
            .map_err(|_| (500, "internal", "ticket table poisoned".to_string()))?;
        let Some(t) = m.get_mut(id) else {
            return Err((404, "ticket_not_found", "Mint a new ticket.".into()));
        };
        if t.consumed {
            return Err((410, "ticket_not_found", "Ticket already used.".into()));
        }
        if t.expires_at <= now_unix() {
            return Err((410, "ticket_expired", "Mint a new ticket.".into()));
        }
        if t.op != op {
            let need = if t.op == Op::Upload { "PUT" } else { "GET" };
            return Err((405, "wrong_method", format!("This ticket requires {need}.")));
        }
        if !issuer_active(&t.issuer_id) {
            t.consumed = true;
            return Err((
                410,
                "ticket_revoked",
                "The token that minted this ticket was revoked or disabled.".into(),
            ));
        }
        then(t)?;
        Ok(t.clone())
    }

    /// A GET ended (completed or cut off).
    pub(crate) fn end_get(&self, id: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(t) = m.get_mut(id)
        {
            t.in_flight = false;
        }
    }

    /// Mark a download ticket used (after its last byte).
    pub(crate) fn consume(&self, id: &str) {
        if let Ok(mut m) = self.map.lock()
            && let Some(t) = m.get_mut(id)
        {
            t.consumed = true;
        }
    }
}

/// Bounds on transfers streaming at once: [`MAX_TRANSFERS`] in all, [`MAX_TRANSFERS_PER_TOKEN`]
/// per minting token.
pub(crate) struct TransferSlots {
    sem: std::sync::Arc<tokio::sync::Semaphore>,
    per_token: std::sync::Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for TransferSlots {
    fn default() -> Self {
        TransferSlots {
            sem: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_TRANSFERS)),
            per_token: Default::default(),
        }
    }
}

/// A held transfer slot; freed on drop.
pub(crate) struct TransferPermit {
    _permit: tokio::sync::OwnedSemaphorePermit,
    per_token: std::sync::Arc<Mutex<HashMap<String, usize>>>,
    issuer: String,
}

impl Drop for TransferPermit {
    fn drop(&mut self) {
        if let Ok(mut m) = self.per_token.lock()
            && let Some(n) = m.get_mut(&self.issuer)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.issuer);
            }
        }
    }
}

impl TransferSlots {
    /// Take a slot for a transfer of `issuer`'s ticket, or say why not (503).
    pub(crate) fn try_acquire(&self, issuer: &str) -> Result<TransferPermit, Refusal> {
        let busy = |why: String| (503, "busy", why);
        let mut m = self
            .per_token
            .lock()
            .map_err(|_| (500, "internal", "transfer table poisoned".to_string()))?;
        let n = m.get(issuer).copied().unwrap_or(0);
        if n >= MAX_TRANSFERS_PER_TOKEN {
            return Err(busy(format!(
                "{n} transfers of this token's tickets are running (limit {MAX_TRANSFERS_PER_TOKEN}); retry when one ends."
            )));
        }
        let permit = self.sem.clone().try_acquire_owned().map_err(|_| {
            busy(format!(
                "{MAX_TRANSFERS} transfers are running on this server; retry shortly."
            ))
        })?;
        m.insert(issuer.to_string(), n + 1);
        Ok(TransferPermit {
            _permit: permit,
            per_token: self.per_token.clone(),
            issuer: issuer.to_string(),
        })
    }
}

/// Single-quote for POSIX shells: safe to paste whatever the value (D-12).
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
#[derive(Debug, Deserialize)]
pub(crate) struct UploadArgs {
    /// Absolute destination.
    pub(crate) dest_path: String,
    /// Upload cap.
    pub(crate) max_bytes: Option<i64>,
    /// TTL seconds.
    pub(crate) expires_in: Option<i64>,
    /// Allow replacing (default true).
    pub(crate) overwrite: Option<bool>,
}

/// Arguments of `prepare_download`.
#[derive(Debug, Deserialize)]
pub(crate) struct DownloadArgs {
    /// Absolute source.
    pub(crate) src_path: String,
    /// TTL seconds.
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

/// Who mints: (token name, role, token id, base URL).
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

impl Issuer<'_> {
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

/// `Content-Disposition` as the reference: an ASCII fallback name and an RFC 5987 UTF-8 name.
pub(crate) fn content_disposition(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".into());
    let mut ascii = String::new();
    for c in name.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            if c == '"' || c == '\\' {
                ascii.push('\\');
            }
            ascii.push(c);
        }
    }
    let mut enc = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{enc}")
}

/// A `Range` header that cannot be satisfied for this file (answer 416).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unsatisfiable;

/// Parse a single `Range: bytes=a-b` against `size`. `Ok(None)`: no (usable) range header.
pub(crate) fn parse_range(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, Unsatisfiable> {
    let Some(h) = h else { return Ok(None) };
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: send the whole file
    }
    let (a, b) = spec.split_once('-').ok_or(Unsatisfiable)?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| Unsatisfiable)?;
        if n == 0 {
            return Err(Unsatisfiable);
        }
        (size.saturating_sub(n), size.saturating_sub(1))
    } else {
        let s: u64 = a.parse().map_err(|_| Unsatisfiable)?;
        let e: u64 = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| Unsatisfiable)?
                .min(size.saturating_sub(1))
        };
        (s, e)
    };
    if size == 0 || start > end || start >= size {
        return Err(Unsatisfiable);
    }
    Ok(Some((start, end)))
}

/// Sweep expired tickets every 30 s.
pub(crate) fn spawn_sweeper(
    t: std::sync::Arc<crate::daemon::AppState>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            t.tickets.sweep();
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_disposition() {
        assert_eq!(shell_quote("a b'; rm -rf ~"), "'a b'\\''; rm -rf ~'");
        assert_eq!(
            content_disposition(Path::new("/d/dl file\"ü.txt")),
            "attachment; filename=\"dl file\\\".txt\"; filename*=UTF-8''dl%20file%22%C3%BC.txt"
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some("bytes=2-5"), 10), Ok(Some((2, 5))));
        assert_eq!(parse_range(Some("bytes=7-"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some("bytes=2-100"), 10), Ok(Some((2, 9))));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Err(Unsatisfiable));
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Ok(None));
    }
}
