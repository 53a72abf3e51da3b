//! `PUT`/`GET`/`HEAD /files/raw/{ticket}`: redeem transfer tickets, streaming in bounded
//! memory.
//!
//! Uploads stream into a temp file beside the destination and are renamed into place
//! (never replacing an existing file when the ticket says `overwrite=false`, checked at the
//! rename itself so a file created meanwhile is not clobbered). Downloads honour `Range`, are
//! consumed only once the last byte went out (so an interrupted download can resume), and
//! `HEAD` never consumes a ticket.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit::Record;
use crate::error::ToolError;
use crate::guard::{commit_temp, create_temp, discard_temp};
use crate::state::AppState;
use crate::tickets::{Op, Refusal, STALL_TIMEOUT, Ticket, TransferPermit};

/// Bytes gathered before each blocking write of an upload, and read at a time for a
/// download.
const CHUNK: usize = 1 << 20;

/// How far behind the newest write the upload waits for the disk (see [`WriteBehind`]).
const WRITE_BEHIND: u64 = 8 << 20;

/// Whether uploads are fsynced and hashed: always, except in the build `benches/transfer.sh`
/// makes with the feature `bench-no-durability` to show what those two cost next to a
/// reference that does neither. That build says so at start and answers `"sha256": ""`; it
/// is never packaged. Write-behind stays on in it: it is how the upload keeps pace with the
/// disk, not part of the durability contract.
pub(crate) const DURABLE_UPLOADS: bool = !cfg!(feature = "bench-no-durability");

/// Body bytes handed to the writer and the hasher together.
type Batch = Arc<PoolBuf>;

/// [`CHUNK`]-sized buffers for one transfer, reused as they come back.
///
/// Each transfer keeps a handful of megabytes in flight; allocating them afresh meant the
/// kernel zeroing and faulting in new pages all the time (8 % of an upload's CPU, measured
/// with perf), and holding hyper's own read buffers stopped it from reusing them.
#[derive(Clone, Default)]
struct Pool(Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl Pool {
    /// An empty buffer with room for [`CHUNK`] bytes.
    fn get(&self) -> Vec<u8> {
        self.0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(|| Vec::with_capacity(CHUNK))
    }

    fn wrap(&self, buf: Vec<u8>) -> PoolBuf {
        PoolBuf {
            buf,
            pool: self.clone(),
        }
    }
}

/// A buffer that goes back to its [`Pool`] when dropped.
struct PoolBuf {
    buf: Vec<u8>,
    pool: Pool,
}

impl AsRef<[u8]> for PoolBuf {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if let Ok(mut p) = self.pool.0.lock() {
            p.push(buf);
        }
    }
}

/// Writes an upload and keeps its dirty pages to a few MiB.
///
/// Left alone, the kernel starts writeback only when dirty pages pass
/// `dirty_background_ratio` (gigabytes on a large host), so a 1 GiB upload was received into
/// the page cache first and written out afterwards by the final fsync: receive time plus
/// disk time. Starting writeback of each batch as soon as it is written, and waiting for
/// the batch [`WRITE_BEHIND`] bytes back, makes the two overlap (measured 1 GiB to disk:
/// 420-590 MB/s before, 695-830 after), bounds the dirty memory an upload can pin, and lets
/// its pages leave the cache instead of pushing out hotter ones.
struct WriteBehind {
    file: std::fs::File,
    written: u64,
    settled: u64,
}

impl WriteBehind {
    fn new(file: std::fs::File) -> Self {
        Self {
            file,
            written: 0,
            settled: 0,
        }
    }

    fn write(&mut self, batch: &[u8]) -> std::io::Result<()> {
        use std::io::Write;
        let start = self.written;
        self.file.write_all(batch)?;
        self.written += batch.len() as u64;
        // Both calls are hints for speed and memory: the fsync before the rename is what
        // makes the data durable and reports any write error, so their results are ignored.
        self.sync_range(start, self.written - start, false);
        if self.written - self.settled > WRITE_BEHIND {
            let end = self.written - WRITE_BEHIND;
            self.sync_range(self.settled, end - self.settled, true);
            let _ = rustix::fs::fadvise(
                &self.file,
                self.settled,
                std::num::NonZeroU64::new(end - self.settled),
                rustix::fs::Advice::DontNeed,
            );
            self.settled = end;
        }
        Ok(())
    }

    /// Start writeback of a byte range; with `wait`, also wait until it is on disk.
    fn sync_range(&self, offset: u64, len: u64, wait: bool) {
        use std::os::fd::AsRawFd;
        let flags = if wait {
            libc::SYNC_FILE_RANGE_WAIT_BEFORE
                | libc::SYNC_FILE_RANGE_WRITE
                | libc::SYNC_FILE_RANGE_WAIT_AFTER
        } else {
            libc::SYNC_FILE_RANGE_WRITE
        };
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: sync_file_range takes no pointers; the descriptor belongs to `self.file`,
        // which is open for the whole call. Neither rustix nor nix wraps this syscall.
        unsafe {
            libc::sync_file_range(self.file.as_raw_fd(), offset, len, flags);
        }
    }
}

/// The one mapping of a tool error met while redeeming a ticket (the path guard refusing, the
/// file gone, the directory not creatable) to the refusal the client sees.
fn refusal_of(e: ToolError, op: Op) -> Refusal {
    match (e, op) {
        (e @ ToolError::ProtectedPath(_), _) => (403, "path_protected", e.to_string()),
        (
            ToolError::FileNotFound { .. }
            | ToolError::IsADirectory(_)
            | ToolError::NotARegularFile(_),
            Op::Download,
        ) => (
            404,
            "path_not_found",
            "Server file no longer exists.".into(),
        ),
        (e, Op::Download) => (500, "read_failed", e.to_string()),
        (e, Op::Upload) => (500, "mkdir_failed", e.to_string()),
    }
}

fn refuse((status, code, hint): Refusal) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = (
        status,
        axum::Json(json!({"error": code, "hint": hint, "ok": false})),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

fn audit(st: &AppState, t: &Ticket, id: &str, peer: SocketAddr, bytes: u64, error: Option<&str>) {
    if !st.audit.enabled() {
        return;
    }
    let record = Record::for_redeem(t, id, peer.ip(), bytes, error);
    // A failure is counted and logged by write_audit; the transfer itself already happened.
    let _ = st.write_audit(&record);
}

fn disabled() -> Response {
    refuse((
        404,
        "transfer_disabled",
        "File transfer is disabled on this server.".into(),
    ))
}

/// `PUT /files/raw/{ticket}`: stream the body into a temp file beside the destination, then
/// rename it into place.
///
/// The work runs in a task of its own: if the client disconnects, hyper drops this handler's
/// future, but the upload still reaches its end (the body reports the cut), removes its temp
/// file and writes its audit line.
pub(super) async fn put(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match tokio::spawn(put_inner(st, peer, id, headers, body)).await {
        Ok(r) => r,
        Err(e) => refuse((
            500,
            "write_failed",
            format!("upload failed unexpectedly: {e}"),
        )),
    }
}

async fn put_inner(
    st: Arc<AppState>,
    peer: SocketAddr,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !st.config.transfer_enabled {
        return disabled();
    }
    if let Err(e) = st.audit_ready("upload") {
        // Fail closed, as the mutating tools do.
        return refuse((
            503,
            "audit_unavailable",
            format!("The audit log cannot be written ({e}); uploads are refused until it can."),
        ));
    }
    let active = |issuer: &str| st.issuer_active(issuer);
    // Take a transfer slot before the ticket is used up, so a busy answer keeps it valid.
    let _slot = match st
        .tools
        .tickets
        .redeem(&id, Op::Upload, false, active)
        .and_then(|t| st.transfers.try_acquire(&t.issuer_id))
    {
        Ok(s) => s,
        Err(r) => return refuse(r),
    };
    let t = match st.tools.tickets.redeem(&id, Op::Upload, true, active) {
        Ok(t) => t,
        Err(r) => return refuse(r),
    };
    let fail = |r: Refusal| {
        audit(&st, &t, &id, peer, 0, Some(r.1));
        refuse(r)
    };
    if let Some(cl) = headers.get(header::CONTENT_LENGTH) {
        match cl.to_str().ok().and_then(|v| v.parse::<u64>().ok()) {
            None => {
                return fail((
                    400,
                    "bad_content_length",
                    "Content-Length is not an integer.".into(),
                ));
            }
            Some(n) if n > t.max_bytes => {
                return fail((
                    413,
                    "size_exceeded",
                    format!("Body exceeds max_bytes={}.", t.max_bytes),
                ));
            }
            _ => {}
        }
    }
    let path = t.path.display().to_string();
    let st2 = st.clone();
    let p2 = path.clone();
    let target =
        match tokio::task::spawn_blocking(move || st2.tools.guard.resolve_write(&p2, true)).await {
            Ok(Ok(x)) => x,
            Ok(Err(e)) => return fail(refusal_of(e, Op::Upload)),
            Err(e) => return fail((500, "write_failed", e.to_string())),
        };
    let tmp = match create_temp(&target) {
        Ok(x) => x,
        Err(e) => return fail((500, "write_failed", e.to_string())),
    };
    let std_file = match tmp.file.try_clone() {
        Ok(f) => f,
        Err(e) => {
            discard_temp(&target, tmp);
            return fail((500, "write_failed", e.to_string()));
        }
    };
    // Blocking threads write and hash 1 MiB batches while the next ones arrive: per-chunk
    // async file writes cost a thread hand-off each and halved throughput, and hashing in
    // the writing thread made SHA-256 and the write add up instead of overlapping. Both
    // threads share each batch (reference-counted), so it is copied only once, out of
    // hyper's buffers into a pooled one.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(4);
    let (htx, mut hrx) = tokio::sync::mpsc::channel::<Batch>(4);
    let writer = tokio::task::spawn_blocking(move || {
        let mut w = WriteBehind::new(std_file);
        while let Some(batch) = rx.blocking_recv() {
            w.write(&batch.buf)?;
        }
        Ok::<_, std::io::Error>(())
    });
    let hashing = tokio::task::spawn_blocking(move || {
        let mut h = Sha256::new();
        while let Some(batch) = hrx.blocking_recv() {
            h.update(&batch.buf);
        }
        h
    });
    let mut total: u64 = 0;
    let mut stream = body.into_data_stream();
    let mut err: Option<Refusal> = None;
    let pool = Pool::default();
    let mut pending = pool.get();
    'body: loop {
        // A client that stops sending is dropped: it would hold a slot and two threads.
        let chunk = match tokio::time::timeout(STALL_TIMEOUT, stream.next()).await {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(_) => {
                err = Some((
                    408,
                    "body_stalled",
                    format!(
                        "No body bytes arrived for {} s; the upload was abandoned.",
                        STALL_TIMEOUT.as_secs()
                    ),
                ));
                break;
            }
        };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                err = Some((
                    400,
                    "body_read_failed",
                    format!("Reading the body failed: {e}"),
                ));
                break;
            }
        };
        total += chunk.len() as u64;
        if total > t.max_bytes {
            err = Some((
                413,
                "size_exceeded",
                format!("Body exceeds max_bytes={}.", t.max_bytes),
            ));
            break;
        }
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let n = rest.len().min(CHUNK - pending.len());
            pending.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if pending.len() == CHUNK {
                let batch = Arc::new(pool.wrap(std::mem::replace(&mut pending, pool.get())));
                if (DURABLE_UPLOADS && htx.send(batch.clone()).await.is_err())
                    || tx.send(batch).await.is_err()
                {
                    break 'body; // the writer failed; its error is reported below
                }
            }
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if err.is_none()
        && let Some(n) = declared.filter(|n| *n != total)
    {
        // Never commit a body that ended before its declared length (a cut connection).
        err = Some((
            400,
            "body_incomplete",
            format!("The body ended after {total} of {n} bytes."),
        ));
    }
    if err.is_none() && !pending.is_empty() {
        let batch = Arc::new(pool.wrap(pending));
        if DURABLE_UPLOADS {
            let _ = htx.send(batch.clone()).await;
        }
        let _ = tx.send(batch).await;
    }
    drop(tx);
    drop(htx);
    match writer.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => err = err.or(Some((500, "write_failed", e.to_string()))),
        Err(e) => err = err.or(Some((500, "write_failed", e.to_string()))),
    }
    let hasher = match hashing.await {
        Ok(h) => h,
        Err(e) => {
            err = err.or(Some((500, "write_failed", format!("hashing failed: {e}"))));
            Sha256::new()
        }
    };
    if let Some(r) = err {
        discard_temp(&target, tmp);
        return fail(r);
    }
    let no_replace = !t.overwrite;
    let res = tokio::task::spawn_blocking(move || {
        let r = commit_temp(&target, tmp, no_replace, DURABLE_UPLOADS);
        (r, target)
    })
    .await;
    match res {
        Ok((Ok(()), _)) => {}
        Ok((Err(e), _)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return fail((
                409,
                "file_exists",
                format!("{path} already exists and the ticket was minted with overwrite=false."),
            ));
        }
        Ok((Err(e), _)) => return fail((500, "write_failed", e.to_string())),
        Err(e) => return fail((500, "write_failed", e.to_string())),
    }
    audit(&st, &t, &id, peer, total, None);
    axum::Json(json!({
        "bytes_written": total,
        "ok": true,
        "path": path,
        "sha256": if DURABLE_UPLOADS { hex::encode(hasher.finalize()) } else { String::new() },
    }))
    .into_response()
}

struct Prepared {
    t: Ticket,
    file: std::fs::File,
    size: u64,
    range: Option<(u64, u64)>,
}

/// Look the ticket up and open its file. With `get`, the ticket is marked as streaming
/// (one GET at a time); the caller must end that with `Tickets::end_get` on every path.
async fn prepare_download(
    st: &Arc<AppState>,
    id: &str,
    headers: &HeaderMap,
    get: bool,
) -> Result<Prepared, Response> {
    if !st.config.transfer_enabled {
        return Err(disabled());
    }
    let active = |issuer: &str| st.issuer_active(issuer);
    let t = if get {
        st.tools.tickets.begin_get(id, active).map_err(refuse)?
    } else {
        st.tools
            .tickets
            .redeem(id, Op::Download, false, active)
            .map_err(refuse)?
    };
    let opened = open_download(st, &t, headers).await;
    if get && opened.is_err() {
        st.tools.tickets.end_get(id);
    }
    let (file, size, range) = opened?;
    Ok(Prepared {
        t,
        file,
        size,
        range,
    })
}

type OpenedDownload = (std::fs::File, u64, Option<(u64, u64)>);

async fn open_download(
    st: &Arc<AppState>,
    t: &Ticket,
    headers: &HeaderMap,
) -> Result<OpenedDownload, Response> {
    let st2 = st.clone();
    let p = t.path.display().to_string();
    // The open shares the file tools' bound on blocking threads (HEAD has no transfer slot).
    let Ok(Ok(permit)) = tokio::time::timeout(
        crate::tools::FILE_JOB_QUEUE_WAIT,
        st.tools.file_jobs.clone().acquire_owned(),
    )
    .await
    else {
        return Err(refuse((
            503,
            "busy",
            "The server is busy; retry shortly.".into(),
        )));
    };
    let opened = match tokio::task::spawn_blocking(move || {
        let _permit = permit;
        st2.tools.guard.open_read(&p)
    })
    .await
    {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(refuse(refusal_of(e, Op::Download))),
        Err(e) => return Err(refuse((500, "read_failed", e.to_string()))),
    };
    let size = opened.size;
    let range = match parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    ) {
        Ok(r) => r,
        Err(_) => {
            let mut r = refuse((
                416,
                "range_not_satisfiable",
                format!("The file is {size} bytes."),
            ));
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Err(r);
        }
    };
    Ok((opened.file, size, range))
}

fn download_headers(p: &Prepared) -> (StatusCode, HeaderMap, u64, u64) {
    let (start, end) = p.range.unwrap_or((0, p.size.saturating_sub(1)));
    let len = if p.size == 0 { 0 } else { end - start + 1 };
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&len.to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&p.t.path)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    let status = if p.range.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{}", p.size)) {
            h.insert(header::CONTENT_RANGE, v);
        }
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    (status, h, start, len)
}

/// `HEAD /files/raw/{ticket}`: the headers a GET would send; the ticket stays valid.
pub(super) async fn head(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match prepare_download(&st, &id, &headers, false).await {
        Ok(p) => {
            let (status, h, _, _) = download_headers(&p);
            (status, h).into_response()
        }
        Err(r) => r,
    }
}

/// Streams a file range; marks the ticket used and audits when the last byte of the file
/// went out, audits an error when dropped early.
struct Download {
    inner: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    st: Arc<AppState>,
    t: Ticket,
    id: String,
    peer: SocketAddr,
    sent: u64,
    len: u64,
    reaches_end: bool,
    done: bool,
    /// The transfer slot, freed when the body is dropped.
    _slot: TransferPermit,
}

impl Stream for Download {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let r = self.inner.poll_recv(cx);
        if let Poll::Ready(Some(Ok(b))) = &r {
            self.sent += b.len() as u64;
        }
        // hyper stops polling once Content-Length bytes went out, so completion is decided
        // by the count, not by the end of the stream.
        let finished = matches!(r, Poll::Ready(None)) || self.sent >= self.len;
        if finished && !self.done {
            self.finish();
        }
        r
    }
}

impl Download {
    fn finish(&mut self) {
        self.done = true;
        if self.sent >= self.len && self.reaches_end {
            self.st.tools.tickets.consume(&self.id);
        }
        let cut_short = (self.sent < self.len).then_some("download_incomplete");
        audit(&self.st, &self.t, &self.id, self.peer, self.sent, cut_short);
    }
}

impl Drop for Download {
    fn drop(&mut self) {
        self.st.tools.tickets.end_get(&self.id);
        if !self.done {
            audit(
                &self.st,
                &self.t,
                &self.id,
                self.peer,
                self.sent,
                Some("download_incomplete"),
            );
        }
    }
}

/// `GET /files/raw/{ticket}`: stream the file (or the requested range).
pub(super) async fn get(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let p = match prepare_download(&st, &id, &headers, true).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let slot = match st.transfers.try_acquire(&p.t.issuer_id) {
        Ok(s) => s,
        Err(r) => {
            st.tools.tickets.end_get(&id);
            return refuse(r);
        }
    };
    let (status, h, start, len) = download_headers(&p);
    let reaches_end = p.size == 0 || p.range.is_none_or(|(_, e)| e + 1 == p.size);
    // A blocking thread reads 1 MiB at a time into a small queue of pooled buffers: async
    // file reads cost a thread hand-off per read.
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let mut file = p.file;
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek};
        if let Err(e) = file.seek(std::io::SeekFrom::Start(start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let pool = Pool::default();
        let mut left = len;
        while left > 0 {
            let mut buf = pool.get();
            // read_to_end fills the spare capacity without zeroing it first.
            match (&mut file)
                .take(left.min(CHUNK as u64))
                .read_to_end(&mut buf)
            {
                Ok(0) => break,
                Ok(n) => {
                    left -= n as u64;
                    let chunk = Bytes::from_owner(pool.wrap(buf));
                    // A client that stops reading frees this thread after STALL_TIMEOUT; the
                    // connection's write timeout then drops the client itself.
                    if rt
                        .block_on(tx.send_timeout(Ok(chunk), STALL_TIMEOUT))
                        .is_err()
                    {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    break;
                }
            }
        }
    });
    let stream = Download {
        inner: rx,
        st: st.clone(),
        t: p.t,
        id,
        peer,
        sent: 0,
        len,
        reaches_end,
        done: false,
        _slot: slot,
    };
    let mut stream = stream;
    if len == 0 {
        // Nothing to send: the body may never be polled.
        stream.finish();
    }
    (status, h, Body::from_stream(stream)).into_response()
}

/// `Content-Disposition` as the reference: an ASCII fallback name and an RFC 5987 UTF-8 name.
pub(crate) fn content_disposition(path: &std::path::Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition() {
        assert_eq!(
            content_disposition(std::path::Path::new("/d/dl file\"ü.txt")),
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
