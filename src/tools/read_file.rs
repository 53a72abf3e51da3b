//! `read_file`: numbered lines from a text file, streamed.
//!
//! Memory is bounded by the requested window (`limit` lines of at most
//! `MYMCP_READ_FILE_MAX_LINE_BYTES` each), not by the file: lines before the window are
//! skipped and lines after it are only counted, chunk by chunk (the reference read the whole
//! file, so `read_file /dev/zero` took all memory).

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::ToolError;
use crate::guard::{Guard, OpenedFile};

/// The description `tools/list` shows for `read_file`.
pub(crate) const DESCRIPTION: &str = "Read a text file (absolute path) as numbered lines: '   N\\t<line>'. Starts at line offset (1-based, default 1; a negative offset counts from the end: -100 is the last 100 lines, numbered as in the file) and returns up to limit lines (default 2000, at most 50000). total_lines counts the whole file; truncated says whether lines remain after the window (read on with a larger offset). sha256 is the hash of the whole file (files up to 10 MiB): pass it as expected_sha256 to edit_file or write_file so the change applies only to the content you read. Lines longer than 32768 bytes are cut and end in ' [LINE TRUNCATED]'. Only regular files: devices and FIFOs are refused. Invalid UTF-8 shows as U+FFFD.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Absolute path of the file
    pub(crate) file_path: String,
    /// First line to return, 1-based (default 1); negative counts from the end (-100: the
    /// last 100 lines)
    pub(crate) offset: Option<i64>,
    /// Number of lines (default 2000, at most 50000)
    pub(crate) limit: Option<i64>,
}

/// Limits taken from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `MYMCP_READ_FILE_DEFAULT_LIMIT`.
    pub(crate) default_limit: u64,
    /// `MYMCP_READ_FILE_MAX_LIMIT`.
    pub(crate) max_limit: u64,
    /// `MYMCP_READ_FILE_MAX_LINE_BYTES`.
    pub(crate) max_line_bytes: u64,
    /// Files up to this size get a `sha256` (`MYMCP_WRITE_FILE_MAX_BYTES`: what a model can
    /// write back whole, and so what it may want to edit with a precondition).
    pub(crate) hash_max_bytes: u64,
}

/// What the window read produced.
#[derive(Debug, PartialEq)]
pub(crate) struct Window {
    /// Formatted `"%4d\t<line>"` lines joined by `\n`.
    pub(crate) content: String,
    /// Lines in the whole file.
    pub(crate) total_lines: u64,
    /// The budget ran out: the first line not returned (`None`: the window is complete).
    pub(crate) stopped_at: Option<u64>,
    /// Reading went on to the end of the file (not cut short by the deadline).
    pub(crate) reached_end: bool,
}

/// Largest reply, in bytes as sent: the content is JSON-escaped twice on the way out (a
/// string inside the result JSON, inside the JSON-RPC text block), so a NUL byte costs seven.
/// A window that would exceed it stops early with `truncated: true` and a `note`.
pub(crate) const MAX_REPLY_BYTES: u64 = 16 << 20;

/// Files larger than this count as large reads, of which only a few run at once.
pub(crate) const LARGE_READ_BYTES: u64 = 1 << 20;

/// How long one read may take before it returns what it has.
pub(crate) const READ_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);

/// A request that passed the guard, ready to read.
#[derive(Debug)]
pub(crate) struct Prepared {
    opened: OpenedFile,
    path: String,
    offset: u64,
    /// A negative offset: the window starts this many lines before the end.
    from_end: Option<u64>,
    limit: u64,
    max_line: usize,
    hash_max: u64,
}

impl Prepared {
    /// Size of the file at open time.
    pub(crate) fn size(&self) -> u64 {
        self.opened.size
    }
}

/// Clamp the arguments, open the file through the guard.
pub(crate) fn prepare(guard: &Guard, limits: Limits, args: Args) -> Result<Prepared, ToolError> {
    let limit = args
        .limit
        .map(|l| l.clamp(1, limits.max_limit as i64) as u64)
        .unwrap_or(limits.default_limit);
    let offset = args.offset.unwrap_or(1).max(1) as u64;
    let from_end = args.offset.filter(|o| *o < 0).map(i64::unsigned_abs);
    let opened = guard.open_read(&args.file_path)?;
    Ok(Prepared {
        opened,
        path: args.file_path,
        offset,
        from_end,
        limit,
        max_line: limits.max_line_bytes as usize,
        hash_max: limits.hash_max_bytes,
    })
}

/// Read the window and build the result (blocking I/O).
pub(crate) fn read(p: Prepared) -> Result<Value, ToolError> {
    // Small buffers for small files: a 64 KiB allocation per call shows up in profiles.
    let cap = (p.opened.size as usize).clamp(4096, 64 * 1024);
    let budget = Budget {
        reply_bytes: MAX_REPLY_BYTES,
        deadline: std::time::Instant::now() + READ_DEADLINE,
    };
    let io = |e: std::io::Error| ToolError::from_io_read(&e, &p.path);
    // Numbering the tail means counting every line before it; a huge (or sparse) file can
    // take longer than the read's time limit, and then the read stops rather than holding
    // its thread.
    let tail_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::TimedOut {
            ToolError::FileTooLarge(format!(
                "{}: counting the lines before the tail took over {} s (the file is too large \
                 to number its last lines); read it with a positive offset",
                p.path,
                READ_DEADLINE.as_secs()
            ))
        } else {
            io(e)
        }
    };
    let mut hasher = (p.opened.size <= p.hash_max).then(Sha256::new);
    let mut file: Box<dyn ReadSeek> = Box::new(p.opened.file);
    // With a negative offset: the number of lines before the window; the source is left at
    // the window's first byte.
    let before = match p.from_end {
        None => 0,
        Some(n) => {
            if p.opened.size == 0 {
                // A pseudo-file (/proc) reports size 0 and may not seek from its end: take
                // its text into memory (bounded) and find the tail there.
                let mut text = Vec::new();
                (&mut file)
                    .take(PSEUDO_TAIL_MAX_BYTES + 1)
                    .read_to_end(&mut text)
                    .map_err(io)?;
                if text.len() as u64 > PSEUDO_TAIL_MAX_BYTES {
                    return Err(ToolError::FileTooLarge(format!(
                        "{}: a negative offset needs a file that reports its size; this one \
                         is over {} MiB: read it with a positive offset",
                        p.path,
                        PSEUDO_TAIL_MAX_BYTES >> 20
                    )));
                }
                let len = text.len() as u64;
                file = Box::new(std::io::Cursor::new(text));
                tail_start(&mut file, len, n, hasher.as_mut(), budget.deadline).map_err(tail_err)?
            } else {
                tail_start(
                    &mut file,
                    p.opened.size,
                    n,
                    hasher.as_mut(),
                    budget.deadline,
                )
                .map_err(tail_err)?
            }
        }
    };
    let offset = if p.from_end.is_some() {
        before + 1
    } else {
        p.offset
    };
    let reader = Hashing {
        inner: BufReader::with_capacity(cap, file),
        hasher: hasher.as_mut(),
    };
    let w = read_window(reader, offset, p.limit, p.max_line, budget, before).map_err(io)?;
    let truncated = w.stopped_at.is_some() || offset - 1 + p.limit < w.total_lines;
    let mut v = json!({
        "content": w.content,
        "total_lines": w.total_lines,
        "truncated": truncated,
    });
    if let (Some(h), true, Some(o)) = (hasher, w.reached_end, v.as_object_mut()) {
        o.insert("sha256".into(), Value::String(hex::encode(h.finalize())));
    }
    if let (Some(next), Some(o)) = (w.stopped_at, v.as_object_mut()) {
        o.insert(
            "note".into(),
            Value::String(format!(
                "reply size limit ({} MiB after JSON escaping) or time limit ({} s) reached; \
                 read on with offset={next}",
                MAX_REPLY_BYTES >> 20,
                READ_DEADLINE.as_secs()
            )),
        );
    }
    Ok(v)
}

/// Limits of one window read besides the line count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    /// Reply bytes after double JSON escaping.
    pub(crate) reply_bytes: u64,
    /// When to stop reading.
    pub(crate) deadline: std::time::Instant,
}

/// Bytes a line costs in the reply: escaped once as a JSON string inside the result, then
/// again as the text block of the JSON-RPC reply.
fn reply_cost(s: &str) -> u64 {
    s.bytes()
        .map(|b| match b {
            b'"' | b'\\' => 4,
            b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 3,
            0..=0x1f | 0x7f => 7,
            _ => 1,
        })
        .sum()
}

/// Stream `reader`, keeping lines `[offset, offset + limit)` and counting all lines.
/// `before` lines precede the reader's first byte (a window that starts mid-file): line
/// numbers and the total count them.
pub(crate) fn read_window(
    mut reader: impl BufRead,
    offset: u64,
    limit: u64,
    max_line: usize,
    budget: Budget,
    before: u64,
) -> std::io::Result<Window> {
    let first = offset.max(before + 1);
    let mut stopped_at: Option<u64> = None;
    let mut reached_end = false;
    let mut chunks: u64 = 0;
    let end = first.saturating_add(limit); // exclusive, 1-based
    let mut done: u64 = before; // completed lines so far
    let mut pending = false; // bytes of an unfinished line were consumed
    let mut lines = Lines {
        out: String::new(),
        cur: Vec::new(),
        overflow: false,
        max_line,
        spent: 0,
        budget,
    };

    loop {
        chunks += 1;
        if chunks.is_multiple_of(64) && std::time::Instant::now() > budget.deadline {
            stopped_at.get_or_insert(done + 1);
            break;
        }
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pseudo-file opened non-blocking with nothing more to say right now.
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            reached_end = true;
            break;
        }
        let n = buf.len();
        let idx = done + 1; // number of the line the next byte belongs to
        if idx < first {
            // Skip: count newlines until the window starts.
            let mut consumed = n;
            for pos in memchr::memchr_iter(b'\n', buf) {
                done += 1;
                if done + 1 == first {
                    consumed = pos + 1;
                    break;
                }
            }
            pending = consumed == n && buf[n - 1] != b'\n';
            if consumed < n {
                pending = false;
            }
            reader.consume(consumed);
        } else if idx < end && stopped_at.is_none() {
            match memchr::memchr(b'\n', buf) {
                Some(i) => {
                    lines.push(&buf[..i]);
                    reader.consume(i + 1);
                    done += 1;
                    pending = false;
                    if !lines.emit(done) {
                        stopped_at = Some(done);
                    }
                }
                None => {
                    lines.push(buf);
                    reader.consume(n);
                    pending = true;
                }
            }
        } else {
            done += memchr::memchr_iter(b'\n', buf).count() as u64;
            pending = buf[n - 1] != b'\n';
            reader.consume(n);
        }
    }
    if pending {
        done += 1;
        if done >= first && done < end && stopped_at.is_none() && !lines.emit(done) {
            stopped_at = Some(done);
        }
    }
    Ok(Window {
        content: lines.out,
        total_lines: done,
        stopped_at,
        reached_end,
    })
}

/// Largest pseudo-file (size 0 at open) a negative offset reads into memory.
const PSEUDO_TAIL_MAX_BYTES: u64 = 64 << 20;

/// What the window reader reads from: the file, or a pseudo-file's text in memory.
trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

/// Find where the last `n` lines of `file` (`size` bytes) start, reading its tail backwards,
/// then count the lines before that point in one forward pass, which also feeds `hasher`.
/// Returns that count and leaves `file` at the window's first byte.
fn tail_start(
    file: &mut dyn ReadSeek,
    size: u64,
    n: u64,
    mut hasher: Option<&mut Sha256>,
    deadline: std::time::Instant,
) -> std::io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    // The last byte ends the last line when it is a newline; it does not start another.
    let mut end = size;
    if end > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(end - 1))?;
        file.read_exact(&mut last)?;
        if last[0] == b'\n' {
            end -= 1;
        }
    }
    let mut start = 0;
    let mut seen = 0u64;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut at = end;
    'scan: while at > 0 && n > 0 {
        let from = at.saturating_sub(CHUNK);
        let chunk = &mut buf[..(at - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(chunk)?;
        for i in memchr::memrchr_iter(b'\n', chunk) {
            seen += 1;
            if seen == n {
                start = from + i as u64 + 1;
                break 'scan;
            }
        }
        at = from;
    }
    // Count (and hash) the lines before the window.
    file.seek(SeekFrom::Start(0))?;
    let mut before = 0u64;
    let mut left = start;
    let mut chunks = 0u64;
    while left > 0 {
        chunks += 1;
        if chunks.is_multiple_of(64) && std::time::Instant::now() > deadline {
            return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
        }
        let want = left.min(CHUNK) as usize;
        let got = file.read(&mut buf[..want])?;
        if got == 0 {
            break;
        }
        before += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
        if let Some(h) = hasher.as_deref_mut() {
            h.update(&buf[..got]);
        }
        left -= got as u64;
    }
    Ok(before)
}

/// A `BufRead` that hashes every byte its user consumes.
struct Hashing<'a, R> {
    inner: R,
    hasher: Option<&'a mut Sha256>,
}

impl<R: BufRead> Read for Hashing<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(out)?;
        if let Some(h) = self.hasher.as_deref_mut() {
            h.update(&out[..n]);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Hashing<'_, R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if let Some(h) = self.hasher.as_deref_mut() {
            // The bytes being consumed are the front of the buffer the caller just saw;
            // asking for it again does no I/O while it is not empty.
            if let Ok(buf) = self.inner.fill_buf() {
                h.update(&buf[..n.min(buf.len())]);
            }
        }
        self.inner.consume(n);
    }
}

/// The window's text as it is built: the line being read and what was emitted so far.
struct Lines {
    out: String,
    cur: Vec<u8>,
    /// The current line ran past `max_line + 2` bytes (the rest was dropped).
    overflow: bool,
    max_line: usize,
    /// Reply bytes used so far.
    spent: u64,
    budget: Budget,
}

impl Lines {
    /// Add bytes of the current line, keeping at most `max_line + 2` (room for a CR and to
    /// know the line was longer).
    fn push(&mut self, bytes: &[u8]) {
        let room = (self.max_line + 2).saturating_sub(self.cur.len());
        if bytes.len() > room {
            self.overflow = true;
        }
        self.cur.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// Append the current line as number `lineno`, unless it would take the reply past its
    /// budget (then nothing is appended and `false` returned). The line is consumed either way.
    fn emit(&mut self, lineno: u64) -> bool {
        if self.cur.last() == Some(&b'\r') && !self.overflow {
            self.cur.pop();
        }
        let cut = self.overflow || self.cur.len() > self.max_line;
        if cut {
            self.cur.truncate(self.max_line);
        }
        self.overflow = false;
        let text = String::from_utf8_lossy(&self.cur);
        // Number, tab, separator and marker: at most 40 more bytes.
        let cost = reply_cost(&text) + 40;
        let fits = self.spent + cost <= self.budget.reply_bytes;
        if fits {
            self.spent += cost;
            if !self.out.is_empty() {
                self.out.push('\n');
            }
            use std::fmt::Write;
            let _ = write!(self.out, "{lineno:4}\t{text}");
            if cut {
                self.out.push_str(" [LINE TRUNCATED]");
            }
        }
        self.cur.clear();
        fits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(data: &[u8], offset: u64, limit: u64, max: usize) -> Window {
        // A tiny buffer exercises lines that span chunk boundaries.
        let r = BufReader::with_capacity(3, data);
        read_window(r, offset, limit, max, roomy(), 0).unwrap()
    }

    fn roomy() -> Budget {
        Budget {
            reply_bytes: u64::MAX,
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(3600),
        }
    }

    #[test]
    fn reply_budget_counts_escaping_and_keeps_counting_lines() {
        // Lines of NUL bytes cost seven bytes each on the wire.
        let data = [
            vec![0u8; 100],
            vec![b'\n'],
            vec![0u8; 100],
            vec![b'\n'],
            b"x\n".to_vec(),
        ]
        .concat();
        let budget = Budget {
            reply_bytes: 800,
            ..roomy()
        };
        let r = read_window(BufReader::new(&data[..]), 1, 10, 1000, budget, 0).unwrap();
        assert_eq!(r.stopped_at, Some(2), "{:?}", r.content);
        assert_eq!(r.content.lines().count(), 1);
        assert_eq!(r.total_lines, 3);
        // The same data within a large budget comes back whole.
        let r = read_window(BufReader::new(&data[..]), 1, 10, 1000, roomy(), 0).unwrap();
        assert_eq!((r.stopped_at, r.content.lines().count()), (None, 3));
    }

    #[test]
    fn basic_window_and_counts() {
        let r = w(b"line1\nline2\nline3", 1, 2000, 100);
        assert_eq!(r.content, "   1\tline1\n   2\tline2\n   3\tline3");
        assert_eq!(r.total_lines, 3);
        let r = w(b"a\nb\nc\n", 2, 1, 100);
        assert_eq!(r.content, "   2\tb");
        assert_eq!(r.total_lines, 3);
        let r = w(b"", 1, 10, 100);
        assert_eq!((r.content.as_str(), r.total_lines), ("", 0));
        let r = w(b"a\nb\n", 5, 10, 100);
        assert_eq!((r.content.as_str(), r.total_lines), ("", 2));
        let r = w(b"\n\n", 1, 10, 100);
        assert_eq!((r.content.as_str(), r.total_lines), ("   1\t\n   2\t", 2));
    }

    #[test]
    fn crlf_long_lines_and_invalid_utf8() {
        let r = w(b"a\r\nb\r\n", 1, 10, 100);
        assert_eq!(r.content, "   1\ta\n   2\tb");
        let r = w(b"abcdefgh\nxy\r\n", 1, 10, 4);
        assert_eq!(r.content, "   1\tabcd [LINE TRUNCATED]\n   2\txy");
        let r = w(b"abcd\r\n", 1, 10, 4);
        assert_eq!(r.content, "   1\tabcd");
        let r = w(b"caf\xe9\n", 1, 10, 100);
        assert_eq!(r.content, "   1\tcaf\u{fffd}");
        let r = w(b"12345", 10000, 1, 100);
        assert_eq!(r.total_lines, 1);
    }

    /// The last `n` lines through `tail_start` + `read_window`, as `read` does it.
    fn tail(data: &[u8], n: u64, limit: u64) -> (Window, String) {
        let mut h = Sha256::new();
        let mut src: Box<dyn ReadSeek> = Box::new(std::io::Cursor::new(data.to_vec()));
        let later = std::time::Instant::now() + std::time::Duration::from_secs(3600);
        let before = tail_start(&mut src, data.len() as u64, n, Some(&mut h), later).unwrap();
        let r = Hashing {
            inner: BufReader::with_capacity(3, src),
            hasher: Some(&mut h),
        };
        let w = read_window(r, before + 1, limit, 100, roomy(), before).unwrap();
        (w, hex::encode(h.finalize()))
    }

    #[test]
    fn negative_offsets_number_lines_as_in_the_file_and_hash_all_of_it() {
        let data: String = (1..=10).map(|i| format!("l{i}\n")).collect();
        let (w, sum) = tail(data.as_bytes(), 3, 2000);
        assert_eq!(w.content, "   8\tl8\n   9\tl9\n  10\tl10");
        assert_eq!((w.total_lines, w.reached_end), (10, true));
        assert_eq!(sum, hex::encode(Sha256::digest(data.as_bytes())));
        // No newline at the end: the last line still counts as one.
        let (w, _) = tail(b"a\nb\nc", 2, 2000);
        assert_eq!((w.content.as_str(), w.total_lines), ("   2\tb\n   3\tc", 3));
        // Beyond the start: the whole file.
        let (w, _) = tail(b"a\nb\n", 50, 2000);
        assert_eq!(w.content, "   1\ta\n   2\tb");
        // A limit smaller than the tail: its first lines, truncated after.
        let (w, _) = tail(data.as_bytes(), 5, 2);
        assert_eq!(w.content, "   6\tl6\n   7\tl7");
        let (w, sum) = tail(b"", 1, 10);
        assert_eq!((w.content.as_str(), w.total_lines), ("", 0));
        assert_eq!(sum, hex::encode(Sha256::digest(b"")));
        // Blank lines are lines.
        let (w, _) = tail(b"x\n\n\n", 2, 10);
        assert_eq!(w.content, "   2\t\n   3\t");
        // Tails longer than one backwards chunk.
        let big: String = (1..=50_000).map(|i| format!("{i}\n")).collect();
        let (w, sum) = tail(big.as_bytes(), 20_000, 1);
        assert_eq!(
            (w.content.as_str(), w.total_lines),
            ("30001\t30001", 50_000)
        );
        assert_eq!(sum, hex::encode(Sha256::digest(big.as_bytes())));
    }

    #[test]
    fn counting_before_a_tail_stops_at_the_deadline() {
        // 8 MiB of short lines: more than 64 chunks to count before the last line.
        let data = b"x\n".repeat(4 << 20);
        let mut src: Box<dyn ReadSeek> = Box::new(std::io::Cursor::new(data.clone()));
        let past = std::time::Instant::now();
        let e = tail_start(&mut src, data.len() as u64, 1, None, past).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
    }

    #[test]
    fn line_numbers_are_padded_to_four_and_grow() {
        let data: String = (1..=10001).map(|i| format!("{i}\n")).collect();
        let r = w(data.as_bytes(), 9999, 3, 100);
        assert_eq!(r.content, "9999\t9999\n10000\t10000\n10001\t10001");
        assert_eq!(r.total_lines, 10001);
    }
}
