//! Mutating audit events past the recorder's cursor, across size rotation.
//!
//! The audit log rotates by renaming (`audit.log` → `audit.log.1` → …), which keeps inodes,
//! so the cursor names the file by inode and the reader finds it again among the rotated
//! copies. Only complete lines (ending in `\n`) are consumed; a line still being written is
//! read next time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tools whose successful calls change the host: the rw tools and the upload redeem. Not
/// `prepare_download`: an ro caller could otherwise push path strings into the recorder's LLM
/// prompt at will.
pub(crate) const MUTATING_TOOLS: [&str; 5] = [
    "bash_execute",
    "write_file",
    "edit_file",
    "prepare_upload",
    "transfer_upload",
];

/// Where the recorder has read up to: `cursor.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// File name when the cursor was written (informational; the inode decides).
    pub(crate) file: String,
    /// Inode of that file.
    pub(crate) inode: u64,
    /// Byte offset just past the last consumed line.
    pub(crate) offset: u64,
}

/// One audit file, oldest first in [`audit_files`].
#[derive(Debug, Clone)]
pub(crate) struct AuditFile {
    /// Path.
    pub(crate) path: PathBuf,
    /// Inode.
    pub(crate) inode: u64,
    /// Size when listed.
    pub(crate) size: u64,
}

/// Is this parsed audit line a successful mutating call?
pub(crate) fn is_mutating(v: &Value) -> bool {
    matches!(v["result"].as_str(), Some("ok" | "success"))
        && v["tool"]
            .as_str()
            .is_some_and(|t| MUTATING_TOOLS.contains(&t))
}

/// `audit.log.N … audit.log.1, audit.log` that exist, oldest first.
pub(crate) fn audit_files(dir: &Path) -> Vec<AuditFile> {
    let mut rotated: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n: u32 = name.strip_prefix("audit.log.")?.parse().ok()?;
            Some((n, e.path()))
        })
        .collect();
    rotated.sort_by_key(|r| std::cmp::Reverse(r.0));
    rotated
        .into_iter()
        .map(|(_, p)| p)
        .chain(std::iter::once(dir.join("audit.log")))
        .filter_map(|path| {
            let m = std::fs::metadata(&path).ok()?;
            m.is_file().then(|| AuditFile {
                inode: m.ino(),
                size: m.size(),
                path,
            })
        })
        .collect()
}

/// Read the cursor; a missing file is "no cursor yet". A damaged one is treated the same
/// (events are then read from the oldest retained file: repeated, never lost) and logged.
pub(crate) fn read_cursor(path: &Path) -> Option<Cursor> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice(&bytes) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cursor file is damaged; reading the audit log from its oldest retained file");
            None
        }
    }
}

/// Where reading starts: (index into `files`, offset), and whether the cursor's file is gone
/// (rotated out of existence: whatever it still held is lost).
pub(crate) fn start_position(files: &[AuditFile], cursor: Option<&Cursor>) -> (usize, u64, bool) {
    match cursor {
        None => (0, 0, false),
        Some(c) => match files.iter().position(|f| f.inode == c.inode) {
            // A file truncated below the offset (recreated in place) is read from its start.
            Some(i) if files[i].size >= c.offset => (i, c.offset, false),
            Some(i) => (i, 0, false),
            None => (0, 0, true),
        },
    }
}

/// One consumed event and the position just past it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The parsed audit record.
    pub(crate) record: Value,
    /// Cursor value that marks this event (and everything before it) consumed.
    pub(crate) after: Cursor,
}

/// Events past the cursor.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// Up to `limit` mutating events, oldest first.
    pub(crate) events: Vec<Event>,
    /// Cursor after the last complete line read (when fewer than `limit` events were found,
    /// this skips trailing read-only lines too).
    pub(crate) end: Option<Cursor>,
    /// More mutating events remain past the batch.
    pub(crate) more: bool,
    /// The cursor's file no longer exists.
    pub(crate) lost: bool,
}

/// Read up to `limit` mutating events past `cursor`.
pub(crate) fn read_batch(
    dir: &Path,
    cursor: Option<&Cursor>,
    limit: usize,
) -> std::io::Result<Batch> {
    let files = audit_files(dir);
    let (first, mut offset, lost) = start_position(&files, cursor);
    let mut batch = Batch {
        lost,
        ..Batch::default()
    };
    for f in files.iter().skip(first) {
        let name = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut full = false;
        for_each_line(&f.path, offset, |line, after| {
            let here = Cursor {
                file: name.clone(),
                inode: f.inode,
                offset: after,
            };
            if let Some(v) = mutating_record(line) {
                if batch.events.len() == limit {
                    full = true;
                    return ControlFlow::Break(());
                }
                batch.events.push(Event {
                    record: v,
                    after: here.clone(),
                });
            }
            batch.end = Some(here);
            ControlFlow::Continue(())
        })?;
        if full {
            batch.more = true;
            return Ok(batch);
        }
        offset = 0;
    }
    Ok(batch)
}

/// Call `f(line, offset_after_line)` for each complete line from `offset` until it breaks;
/// returns the bytes consumed (through the last line `f` accepted).
fn for_each_line(
    path: &Path,
    offset: u64,
    mut f: impl FnMut(&[u8], u64) -> ControlFlow<()>,
) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut pos = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            break;
        }
        if f(&line, pos + n as u64).is_break() {
            break;
        }
        pos += n as u64;
    }
    Ok(pos - offset)
}

/// The parsed record when `line` is a successful mutating call. A substring pre-filter
/// skips JSON parsing for the (many) lines of read-only tools.
fn mutating_record(line: &[u8]) -> Option<Value> {
    if !MUTATING_TOOLS
        .iter()
        .any(|t| memchr::memmem::find(line, t.as_bytes()).is_some())
    {
        return None;
    }
    serde_json::from_slice::<Value>(line)
        .ok()
        .filter(is_mutating)
}

/// Counts mutating events past the cursor without rescanning what it already counted:
/// per file (by inode) it remembers how far it has read from which start offset. Rotated
/// files never change, and the live file only grows, so each call reads only new bytes.
#[derive(Debug, Default)]
pub(crate) struct PendingCounter {
    scanned: HashMap<u64, Scanned>,
}

#[derive(Debug, Clone, Copy)]
struct Scanned {
    from: u64,
    to: u64,
    count: u64,
}

impl PendingCounter {
    /// Mutating events in `dir` past `cursor`.
    pub(crate) fn count(&mut self, dir: &Path, cursor: Option<&Cursor>) -> u64 {
        let files = audit_files(dir);
        let (first, start, _) = start_position(&files, cursor);
        let mut total = 0;
        let mut keep = HashMap::new();
        for (i, f) in files.iter().enumerate().skip(first) {
            let from = if i == first { start } else { 0 };
            let prev = self
                .scanned
                .get(&f.inode)
                .copied()
                .filter(|s| s.from == from && s.to <= f.size);
            let mut s = prev.unwrap_or(Scanned {
                from,
                to: from,
                count: 0,
            });
            if s.to < f.size
                && let Ok((read, n)) = count_from(&f.path, s.to)
            {
                s.to += read;
                s.count += n;
            }
            total += s.count;
            keep.insert(f.inode, s);
        }
        self.scanned = keep;
        total
    }
}

/// Count mutating events in complete lines from `offset`; returns (bytes consumed, count).
fn count_from(path: &Path, offset: u64) -> std::io::Result<(u64, u64)> {
    let mut count = 0;
    let read = for_each_line(path, offset, |line, _| {
        if mutating_record(line).is_some() {
            count += 1;
        }
        ControlFlow::Continue(())
    })?;
    Ok((read, count))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn line(tool: &str, result: &str) -> String {
        format!("{{\"ts\":\"t\",\"tool\":\"{tool}\",\"result\":\"{result}\"}}\n")
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn batches_follow_the_cursor_across_rotation() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("audit.log");
        append(&log, &line("write_file", "ok"));
        append(&log, &line("read_file", "ok"));
        append(&log, &line("bash_execute", "error"));
        append(&log, &line("edit_file", "ok"));
        let b = read_batch(d.path(), None, 1).unwrap();
        assert_eq!(b.events.len(), 1);
        assert!(b.more);
        let c1 = b.events[0].after.clone();
        // Rotate: the cursor's inode is now audit.log.1; new lines go to a new audit.log.
        std::fs::rename(&log, d.path().join("audit.log.1")).unwrap();
        append(&log, &line("bash_execute", "ok"));
        append(&log, "{\"tool\":\"write_file\",\"result\":\"ok\""); // incomplete line
        let b = read_batch(d.path(), Some(&c1), 10).unwrap();
        let tools: Vec<&str> = b
            .events
            .iter()
            .map(|e| e.record["tool"].as_str().unwrap())
            .collect();
        assert_eq!(tools, ["edit_file", "bash_execute"]);
        assert!(!b.more && !b.lost);
        let end = b.end.unwrap();
        assert_eq!(end.file, "audit.log");
        let mut counter = PendingCounter::default();
        assert_eq!(counter.count(d.path(), Some(&c1)), 2);
        append(&log, "}\n");
        assert_eq!(counter.count(d.path(), Some(&c1)), 3);
        assert_eq!(counter.count(d.path(), Some(&end)), 1);
        assert_eq!(counter.count(d.path(), None), 4);
        // The cursor's file rotated out of existence.
        std::fs::remove_file(d.path().join("audit.log.1")).unwrap();
        let b = read_batch(d.path(), Some(&c1), 10).unwrap();
        assert!(b.lost);
        assert_eq!(b.events.len(), 2);
    }
}
