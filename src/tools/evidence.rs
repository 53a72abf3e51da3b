//! What a change can be conditioned on and what it hands back as proof: the SHA-256 of a
//! file's bytes (`expected_sha256` preconditions, `sha256` in results) and unified diffs.

use std::fmt::Write as _;
use std::io::Read;

use sha2::{Digest, Sha256};
use similar::{ChangeTag, TextDiff};

use crate::error::ToolError;

/// Largest diff a result carries; longer ones are cut at a line and marked.
pub(crate) const MAX_DIFF_BYTES: usize = 64 * 1024;

/// Lines of context around each change.
const CONTEXT_LINES: usize = 3;

/// How long the line diff may search for a minimal diff before it settles for a coarser one.
const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// Check an `expected_sha256` argument: 64 hex digits (either case). Returns it lowercased.
pub(crate) fn parse_expected(v: Option<&str>) -> Result<Option<String>, ToolError> {
    match v {
        None => Ok(None),
        Some(h) if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(h.to_ascii_lowercase()))
        }
        Some(h) => Err(ToolError::InvalidArguments(format!(
            "expected_sha256 must be 64 hexadecimal characters (the sha256 read_file returns), got {} characters",
            h.chars().count()
        ))),
    }
}

/// `FileChanged` unless `actual` (hex) is what the caller expected.
pub(crate) fn check_expected(
    path: &str,
    actual: &str,
    expected: Option<&str>,
) -> Result<(), ToolError> {
    match expected {
        Some(e) if e != actual => Err(ToolError::FileChanged(format!(
            "{path} changed since it was read: its sha256 is now {actual}, not {e}; read it again and redo the change"
        ))),
        _ => Ok(()),
    }
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of everything `r` yields.
pub(crate) fn sha256_of(mut r: impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// Unified diff (`--- a/<path>`, `+++ b/<path>`, hunks with 3 lines of context) from `old`
/// to `new`, and whether it was cut at [`MAX_DIFF_BYTES`]. Empty when nothing changed.
///
/// Only the span between the common prefix and suffix (plus context) goes through the line
/// diff, so an edit in a 200 MiB file costs a compare of its bytes, not a diff of its lines.
/// Bytes that are not UTF-8 show as U+FFFD: the diff is evidence, not a patch to apply.
pub(crate) fn unified_diff(path: &str, old: &[u8], new: &[u8]) -> (String, bool) {
    if old == new {
        return (String::new(), false);
    }
    let prefix = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let max_suffix = old.len().min(new.len()) - prefix;
    let suffix = old
        .iter()
        .rev()
        .zip(new.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    // Widen to whole lines plus the context on each side.
    let mut from = line_start(old, prefix);
    for _ in 0..CONTEXT_LINES {
        if from == 0 {
            break;
        }
        from = line_start(old, from - 1);
    }
    let skipped_lines = memchr::memchr_iter(b'\n', &old[..from]).count();
    let (old_end, new_end) = {
        let tail = suffix;
        let mut oe = line_end(old, old.len() - tail);
        let mut ne = line_end(new, new.len() - tail);
        for _ in 0..CONTEXT_LINES {
            oe = line_end(old, oe);
            ne = line_end(new, ne);
        }
        (oe, ne)
    };
    let old_text = String::from_utf8_lossy(&old[from..old_end]);
    let new_text = String::from_utf8_lossy(&new[from..new_end]);
    let diff = TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old_text.as_ref(), new_text.as_ref());
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    for group in diff.grouped_ops(CONTEXT_LINES) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let o = first.old_range().start..last.old_range().end;
        let n = first.new_range().start..last.new_range().end;
        let _ = writeln!(
            out,
            "@@ -{} +{} @@",
            hunk_range(skipped_lines + o.start, o.len()),
            hunk_range(skipped_lines + n.start, n.len())
        );
        for op in &group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    ChangeTag::Equal => ' ',
                    ChangeTag::Delete => '-',
                    ChangeTag::Insert => '+',
                };
                out.push(sign);
                out.push_str(change.value());
                if change.missing_newline() {
                    out.push_str("\n\\ No newline at end of file\n");
                }
            }
            if out.len() > MAX_DIFF_BYTES {
                return (cut(out), true);
            }
        }
    }
    if out.len() > MAX_DIFF_BYTES {
        return (cut(out), true);
    }
    (out, false)
}

/// `start,len` as a hunk header writes it (1-based; an empty range names the line before).
fn hunk_range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{len}", start + 1),
    }
}

/// Keep the diff under [`MAX_DIFF_BYTES`], cut after a whole line, with a marker line.
fn cut(mut s: String) -> String {
    let total = s.len();
    let mut at = MAX_DIFF_BYTES.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    let at = s[..at].rfind('\n').map_or(0, |i| i + 1);
    s.truncate(at);
    let _ = writeln!(s, "[diff truncated: {} more bytes not shown]", total - at);
    s
}

/// Start of the line holding byte `at`.
fn line_start(data: &[u8], at: usize) -> usize {
    memchr::memrchr(b'\n', &data[..at.min(data.len())]).map_or(0, |i| i + 1)
}

/// End (after its newline) of the line holding byte `at`. A line too many at a boundary is
/// harmless: the hunks keep only the context they need.
fn line_end(data: &[u8], at: usize) -> usize {
    if at >= data.len() {
        return data.len();
    }
    memchr::memchr(b'\n', &data[at..]).map_or(data.len(), |i| at + i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_sha256_must_be_64_hex() {
        assert_eq!(parse_expected(None).unwrap(), None);
        let up = "AB".repeat(32);
        assert_eq!(parse_expected(Some(&up)).unwrap(), Some("ab".repeat(32)));
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert!(matches!(
                parse_expected(Some(bad)),
                Err(ToolError::InvalidArguments(_))
            ));
        }
    }

    #[test]
    fn diff_of_a_change_in_the_middle_has_context_and_real_line_numbers() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\nline 10b\n");
        let (d, cut) = unified_diff("/etc/x", old.as_bytes(), new.as_bytes());
        assert!(!cut);
        assert_eq!(
            d,
            "--- a//etc/x\n+++ b//etc/x\n@@ -7,7 +7,8 @@\n line 7\n line 8\n line 9\n-line 10\n+line ten\n+line 10b\n line 11\n line 12\n line 13\n"
        );
    }

    #[test]
    fn diff_at_the_end_without_newline_and_from_empty() {
        let (d, _) = unified_diff("f", b"a\nb", b"a\nc");
        assert_eq!(
            d,
            "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
        );
        let (d, _) = unified_diff("f", b"", b"x\n");
        assert_eq!(d, "--- a/f\n+++ b/f\n@@ -0,0 +1 @@\n+x\n");
        assert_eq!(unified_diff("f", b"same", b"same").0, "");
    }

    #[test]
    fn long_diffs_are_cut_at_a_line_with_a_marker() {
        let old: String = (0..20_000).map(|i| format!("{i}\n")).collect();
        let new: String = (0..20_000).map(|i| format!("{i}x\n")).collect();
        let (d, cut) = unified_diff("f", old.as_bytes(), new.as_bytes());
        assert!(cut);
        assert!(d.len() <= MAX_DIFF_BYTES + 64, "{}", d.len());
        let last = d.lines().last().unwrap();
        assert!(last.starts_with("[diff truncated: "), "{last}");
        // Cut after a whole line: the line before the marker is a complete change line.
        let before = d.lines().rev().nth(1).unwrap();
        assert!(
            before.starts_with('-') || before.starts_with('+'),
            "{before}"
        );
    }
}
