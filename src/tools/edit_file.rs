//! `edit_file`: string replacement on the file's bytes, with evidence. Bytes outside the
//! match are never touched (a Latin-1 file stays Latin-1, not rewritten as U+FFFD); a CRLF
//! file stays CRLF; a BOM stays; the write is atomic. The result carries a unified diff and
//! the new file's SHA-256; `expected_sha256` makes the edit conditional on the file being
//! the one the caller read, and `dry_run` shows the diff without writing.
//!
//! Matching is exact first. Only when that finds nothing are two tolerant rules tried, in
//! order: line endings (an LF `old_string` matches CRLF text) and trailing whitespace on each
//! line. When nothing matches, the error names the closest region of the file and how it
//! differs, so the caller can correct `old_string` in one step.

use memchr::memmem;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ToolError;
use crate::guard::{Guard, read_target, replace_file, write_error};
use crate::tools::evidence::{check_expected, parse_expected, sha256_hex, unified_diff};
use crate::tools::write_file::human;

/// The description `tools/list` shows for `edit_file`.
pub(crate) const DESCRIPTION: &str = "Replace a string in a file (absolute path). old_string must occur exactly once unless replace_all is true (then every occurrence is replaced); it must not be empty; old_string and new_string are at most 1 MiB each. Matching is exact first; if that fails, line endings are ignored (an LF old_string matches CRLF text; the replacement gets the file's line endings), then trailing whitespace on each line is ignored (such a match must be unique); the result's match says which rule applied. When nothing matches, StringNotFound names the closest region (its line and how it differs). edits: [{old_string, new_string, replace_all?}] applies several replacements in order, each to the result of the previous, all or nothing, in one write (instead of old_string/new_string). dry_run=true returns the result and diff without writing. expected_sha256 (the sha256 read_file returned) applies the edit only if the file still has that content, else FileChanged. Works on bytes: the rest of the file, non-UTF-8 bytes and a BOM are kept. The file is replaced atomically and keeps its mode and owner. Returns replacements, match, diff (unified, 3 lines of context, at most 64 KiB) and sha256 of the new content. Errors: StringNotFound, AmbiguousMatch, FileChanged, FileNotFoundError, ProtectedPath.";

/// Arguments: the reference's single replacement, or a list of them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Absolute path of the file to edit
    pub(crate) file_path: String,
    /// Exact text to find (at most 1 MiB, not empty); required unless edits is given
    pub(crate) old_string: Option<String>,
    /// Text to put in its place (at most 1 MiB); required with old_string
    pub(crate) new_string: Option<String>,
    /// Replace every occurrence (default false)
    #[serde(default)]
    pub(crate) replace_all: bool,
    /// Several replacements applied in order, all or nothing (instead of old_string and
    /// new_string)
    pub(crate) edits: Option<Vec<Edit>>,
    /// Compute the result and diff but do not write (default false)
    #[serde(default)]
    pub(crate) dry_run: bool,
    /// Edit only if the file's current bytes have this SHA-256 (64 hex digits, from
    /// read_file); otherwise FileChanged and nothing is written
    pub(crate) expected_sha256: Option<String>,
}

/// One replacement: old_string becomes new_string.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Edit {
    /// Text to find (not empty)
    pub(crate) old_string: String,
    /// Text to put in its place
    pub(crate) new_string: String,
    /// Replace every occurrence (default false)
    #[serde(default)]
    pub(crate) replace_all: bool,
}

/// Largest file edit_file loads.
pub(crate) const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Most replacements one call may list.
pub(crate) const MAX_EDITS: usize = 100;

/// Files up to this size get a closest-region hint when nothing matches.
const HINT_MAX_FILE_BYTES: usize = 16 << 20;

/// Which rule found the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rule {
    /// Byte for byte.
    Exact,
    /// After turning the LF line breaks of old_string (and new_string) into CRLF.
    LineEndings,
    /// Ignoring spaces, tabs and CRs at the end of each line.
    TrailingWhitespace,
}

impl Rule {
    /// The name in results.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Rule::Exact => "exact",
            Rule::LineEndings => "line_endings",
            Rule::TrailingWhitespace => "trailing_whitespace",
        }
    }
}

/// What one replacement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Applied {
    /// Occurrences replaced.
    pub(crate) replacements: usize,
    /// The rule that matched.
    pub(crate) rule: Rule,
}

/// Run the tool (blocking).
pub(crate) fn run(guard: &Guard, max_string: u64, args: Args) -> Result<Value, ToolError> {
    crate::guard::require_absolute(&args.file_path, "file_path")?;
    guard.check_real(
        &crate::guard::canonicalize_lenient(std::path::Path::new(&args.file_path)),
        crate::guard::Access::Write,
    )?;
    let list = args.edits.is_some();
    let edits = edits_of(&args)?;
    for (i, e) in edits.iter().enumerate() {
        let at = |what: &str| {
            if list {
                format!("edits[{i}].{what}")
            } else {
                what.to_string()
            }
        };
        for (what, s) in [("old_string", &e.old_string), ("new_string", &e.new_string)] {
            if s.len() as u64 > max_string {
                return Err(ToolError::FileTooLarge(format!(
                    "{} exceeds {} limit",
                    at(what),
                    human(max_string)
                )));
            }
        }
        if e.old_string.is_empty() {
            return Err(ToolError::InvalidArguments(format!(
                "{} must not be empty",
                at("old_string")
            )));
        }
    }
    let expected = parse_expected(args.expected_sha256.as_deref())?;
    let path = &args.file_path;
    let target = guard.resolve_write(path, false)?;
    let data = read_target(&target, path, MAX_FILE_BYTES)?;
    check_expected(path, &sha256_hex(&data), expected.as_deref())?;
    let mut cur = data.clone();
    let mut done = Vec::with_capacity(edits.len());
    for (i, e) in edits.iter().enumerate() {
        let (next, applied) = apply(
            &cur,
            e.old_string.as_bytes(),
            e.new_string.as_bytes(),
            e.replace_all,
        )
        .map_err(|err| name_element(err, list.then_some(i)))?;
        cur = next;
        done.push(applied);
    }
    if !args.dry_run {
        replace_file(&target, &cur).map_err(|e| write_error(&e, path))?;
    }
    let (diff, cut) = unified_diff(path, &data, &cur);
    let loosest = done.iter().map(|a| a.rule).max().unwrap_or(Rule::Exact);
    let mut v = json!({
        "replacements": done.iter().map(|a| a.replacements).sum::<usize>(),
        "success": true,
        "match": loosest.name(),
        "diff": diff,
        "sha256": sha256_hex(&cur),
    });
    if let Some(o) = v.as_object_mut() {
        if cut {
            o.insert("diff_truncated".into(), Value::Bool(true));
        }
        if args.dry_run {
            o.insert("dry_run".into(), Value::Bool(true));
        }
        if list {
            let each: Vec<Value> = done
                .iter()
                .map(|a| json!({"replacements": a.replacements, "match": a.rule.name()}))
                .collect();
            o.insert("edits".into(), Value::Array(each));
        }
    }
    Ok(v)
}

/// The replacements to make: `edits`, or the single `old_string`/`new_string` pair.
fn edits_of(args: &Args) -> Result<Vec<Edit>, ToolError> {
    let bad = |m: &str| Err(ToolError::InvalidArguments(m.to_string()));
    match (&args.edits, &args.old_string, &args.new_string) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            bad("give either edits or old_string/new_string, not both")
        }
        (Some(_), None, None) if args.replace_all => {
            bad("replace_all belongs inside each element of edits")
        }
        (Some(list), None, None) if list.is_empty() => bad("edits must not be empty"),
        (Some(list), None, None) if list.len() > MAX_EDITS => Err(ToolError::InvalidArguments(
            format!("edits has {} elements; at most {MAX_EDITS}", list.len()),
        )),
        (Some(list), None, None) => Ok(list.clone()),
        (None, Some(old), Some(new)) => Ok(vec![Edit {
            old_string: old.clone(),
            new_string: new.clone(),
            replace_all: args.replace_all,
        }]),
        (None, Some(_), None) => bad("'new_string' is a required property"),
        (None, None, _) => bad("'old_string' is a required property (or give edits)"),
    }
}

/// Say which element of `edits` failed.
fn name_element(err: ToolError, i: Option<usize>) -> ToolError {
    let Some(i) = i else { return err };
    match err {
        ToolError::StringNotFound(m) => ToolError::StringNotFound(format!("edits[{i}]: {m}")),
        ToolError::AmbiguousMatch(m) => ToolError::AmbiguousMatch(format!("edits[{i}]: {m}")),
        other => other,
    }
}

/// One replacement on `data`: exact, else line endings, else trailing whitespace.
pub(crate) fn apply(
    data: &[u8],
    old: &[u8],
    new: &[u8],
    replace_all: bool,
) -> Result<(Vec<u8>, Applied), ToolError> {
    let count = memmem::find_iter(data, old).count();
    if count > 0 {
        return replace_exact(data, old, new, count, replace_all, Rule::Exact);
    }
    if old.contains(&b'\n') && memmem::find(data, b"\r\n").is_some() {
        let (old_crlf, new_crlf) = (lf_to_crlf(old), lf_to_crlf(new));
        let count = memmem::find_iter(data, &old_crlf).count();
        if count > 0 {
            // The same text in the file's line endings: replace_all applies as for exact.
            return replace_exact(
                data,
                &old_crlf,
                &new_crlf,
                count,
                replace_all,
                Rule::LineEndings,
            );
        }
    }
    let regions = tolerant_matches(data, old);
    match regions.as_slice() {
        [] => Err(ToolError::StringNotFound(not_found_message(data, old))),
        [(start, end)] => {
            let crlf =
                data[*start..*end].windows(2).any(|w| w == b"\r\n") || line_ends_crlf(data, *start);
            let new_v = if crlf { lf_to_crlf(new) } else { new.to_vec() };
            let mut out = Vec::with_capacity(data.len() + new_v.len());
            out.extend_from_slice(&data[..*start]);
            out.extend_from_slice(&new_v);
            out.extend_from_slice(&data[*end..]);
            Ok((
                out,
                Applied {
                    replacements: 1,
                    rule: Rule::TrailingWhitespace,
                },
            ))
        }
        many => {
            let lines: Vec<String> = many
                .iter()
                .take(5)
                .map(|(s, _)| line_number(data, *s).to_string())
                .collect();
            Err(ToolError::AmbiguousMatch(format!(
                "old_string matches {} places when trailing whitespace is ignored (lines {}{}); \
                 include more surrounding text to make it unique",
                many.len(),
                lines.join(", "),
                if many.len() > 5 { ", …" } else { "" }
            )))
        }
    }
}

/// Replace `count` known occurrences of `old` (one unless `replace_all`).
fn replace_exact(
    data: &[u8],
    old: &[u8],
    new: &[u8],
    count: usize,
    replace_all: bool,
    rule: Rule,
) -> Result<(Vec<u8>, Applied), ToolError> {
    if count > 1 && !replace_all {
        return Err(ToolError::AmbiguousMatch(format!(
            "old_string appears {count} times. Set replace_all=true to replace all occurrences."
        )));
    }
    let mut out = Vec::with_capacity(data.len() + new.len().saturating_sub(old.len()) * count);
    let mut last = 0;
    let mut done = 0;
    for pos in memmem::find_iter(data, old) {
        if pos < last {
            continue; // overlapping match: str.replace semantics skip it
        }
        out.extend_from_slice(&data[last..pos]);
        out.extend_from_slice(new);
        last = pos + old.len();
        done += 1;
        if !replace_all {
            break;
        }
    }
    out.extend_from_slice(&data[last..]);
    Ok((
        out,
        Applied {
            replacements: done,
            rule,
        },
    ))
}

fn lf_to_crlf(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    let mut prev = 0u8;
    for &b in s {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// Whether the line holding byte `at` ends in CRLF.
fn line_ends_crlf(data: &[u8], at: usize) -> bool {
    memchr::memchr(b'\n', &data[at..]).is_some_and(|i| at + i > 0 && data[at + i - 1] == b'\r')
}

/// 1-based line number of byte `at`.
fn line_number(data: &[u8], at: usize) -> usize {
    memchr::memchr_iter(b'\n', &data[..at]).count() + 1
}

fn trim_end_ws(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |i| i + 1);
    &s[..n]
}

/// A line of the file: where it starts, where its text ends (before trailing whitespace),
/// where it ends (before `\r\n` or `\n`), and where the next line starts (`None` for a last
/// line without a newline).
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    text_end: usize,
    end: usize,
    next: Option<usize>,
}

fn lines_of(data: &[u8]) -> Vec<Line> {
    let mut out = Vec::new();
    let mut start = 0;
    loop {
        let (end_nl, next) = match memchr::memchr(b'\n', &data[start..]) {
            Some(i) => (start + i, Some(start + i + 1)),
            None => (data.len(), None),
        };
        let end = if end_nl > start && data[end_nl - 1] == b'\r' {
            end_nl - 1
        } else {
            end_nl
        };
        let text_end = start + trim_end_ws(&data[start..end]).len();
        out.push(Line {
            start,
            text_end,
            end,
            next,
        });
        match next {
            Some(n) if n < data.len() => start = n,
            Some(n) => {
                // A final newline: an empty last line to end a match at.
                out.push(Line {
                    start: n,
                    text_end: n,
                    end: n,
                    next: None,
                });
                break;
            }
            None => break,
        }
    }
    out
}

/// Regions `[start, end)` of `data` that match `old` when spaces, tabs and CRs at the end of
/// each line are ignored. `old`'s first line may be the end of a file line and its last line
/// the start of one (as with exact matching); a line of `old` followed by a newline, or that
/// ends in whitespace, must end where the file line's text ends, and the match then takes the
/// file line's trailing whitespace with it.
fn tolerant_matches(data: &[u8], old: &[u8]) -> Vec<(usize, usize)> {
    let pieces: Vec<&[u8]> = old.split(|b| *b == b'\n').collect();
    let Some((&last, _)) = pieces.split_last() else {
        return Vec::new();
    };
    let single = pieces.len() == 1;
    // A single line without trailing whitespace is found exactly or not at all.
    if single && trim_end_ws(last).len() == last.len() {
        return Vec::new();
    }
    let lines = lines_of(data);
    let m = pieces.len() - 1;
    let mut found = Vec::new();
    for j in 0..lines.len() {
        if let Some(region) = match_at(data, &lines, j, &pieces, m) {
            found.push(region);
            if found.len() > 5 {
                break;
            }
        }
    }
    found
}

fn match_at(
    data: &[u8],
    lines: &[Line],
    j: usize,
    pieces: &[&[u8]],
    m: usize,
) -> Option<(usize, usize)> {
    let first = lines.get(j)?;
    let t0 = trim_end_ws(pieces[0]);
    let text = &data[first.start..first.text_end];
    if !text.ends_with(t0) {
        return None;
    }
    let start = first.text_end - t0.len();
    if m == 0 {
        // Only reached with trailing whitespace in old: the line's text must end here.
        return Some((start, first.end));
    }
    first.next?;
    for (i, piece) in pieces.iter().enumerate().take(m).skip(1) {
        let l = lines.get(j + i)?;
        if &data[l.start..l.text_end] != trim_end_ws(piece) {
            return None;
        }
        l.next?;
    }
    let last_piece = pieces[m];
    let l = lines.get(j + m)?;
    if last_piece.is_empty() {
        // old ended with a newline: the match ends where line j+m starts.
        return Some((start, l.start));
    }
    let tm = trim_end_ws(last_piece);
    if tm.len() < last_piece.len() {
        (&data[l.start..l.text_end] == tm).then_some((start, l.end))
    } else {
        let rest = &data[l.start..l.end];
        rest.starts_with(tm).then_some((start, l.start + tm.len()))
    }
}

/// The `StringNotFound` message: the reference's sentence, then the closest region of the
/// file (the stretch of lines most like `old_string`) and a short line diff against it.
fn not_found_message(data: &[u8], old: &[u8]) -> String {
    const BASE: &str = "old_string not found in file";
    if data.len() > HINT_MAX_FILE_BYTES {
        return BASE.to_string();
    }
    match closest_region(data, old) {
        Some(hint) => format!("{BASE}. {hint}"),
        None => BASE.to_string(),
    }
}

/// Find the file lines most like `old`'s lines and say how they differ.
fn closest_region(data: &[u8], old: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let file_lines: Vec<&str> = text.lines().collect();
    let old_text = String::from_utf8_lossy(old);
    let wanted: Vec<&str> = old_text.lines().collect();
    if file_lines.is_empty() || wanted.is_empty() {
        return None;
    }
    let k = wanted.len();
    // Anchor on the most distinctive (longest) line of old_string, then score whole windows
    // around the few file lines most like it.
    let (a, anchor) = wanted
        .iter()
        .enumerate()
        .max_by_key(|(_, l)| l.trim().len())
        .map(|(i, l)| (i, l.trim()))?;
    let mut candidates: Vec<(f64, usize)> = file_lines
        .iter()
        .enumerate()
        .filter(|(j, _)| *j >= a)
        .map(|(j, l)| (strsim::sorensen_dice(l.trim(), anchor), j - a))
        .collect();
    candidates.sort_by(|x, y| y.0.total_cmp(&x.0));
    candidates.truncate(20);
    let score = |start: usize| -> f64 {
        let sum: f64 = wanted
            .iter()
            .enumerate()
            .map(|(i, w)| {
                file_lines.get(start + i).map_or(0.0, |f| {
                    if f.trim() == w.trim() {
                        // Only whitespace differs: close, but not a match.
                        0.95
                    } else {
                        strsim::sorensen_dice(f.trim(), w.trim())
                    }
                })
            })
            .sum();
        sum / k as f64
    };
    let (best, start) = candidates
        .iter()
        .map(|(_, s)| (score(*s), *s))
        .max_by(|x, y| x.0.total_cmp(&y.0))?;
    if best < 0.5 {
        return None;
    }
    let end = (start + k).min(file_lines.len());
    let mut out = format!(
        "Closest region: line{} {} ({:.0}% similar). Lines that differ (- old_string, + file):",
        if end - start > 1 { "s" } else { "" },
        if end - start > 1 {
            format!("{}-{}", start + 1, end)
        } else {
            format!("{}", start + 1)
        },
        best * 100.0
    );
    let mut shown = 0;
    for (i, w) in wanted.iter().copied().enumerate() {
        let f = file_lines.get(start + i).copied().unwrap_or("");
        if w == f {
            continue;
        }
        if shown == 6 {
            out.push_str("\n…");
            break;
        }
        // Quoted, so a difference in whitespace or tabs is visible.
        out.push_str(&format!("\n- {w:?}\n+ {f:?}"));
        shown += 1;
    }
    if shown == 0 {
        out.push_str(" none; the difference is in line endings or a final newline");
    }
    Some(out)
}

/// The audit line's `output` for an edit: the path and how many lines changed.
pub(crate) fn audit_summary(args: &Map<String, Value>, result: &Value) -> Value {
    let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    let newlines = |v: Option<&Value>| -> u64 {
        v.and_then(Value::as_str)
            .map_or(0, |t| t.matches('\n').count() as u64)
    };
    let replaced = |v: &Value| v.get("replacements").and_then(Value::as_u64).unwrap_or(0);
    let (added, removed, hunks) = match (args.get("edits"), result.get("edits")) {
        (Some(Value::Array(list)), Some(Value::Array(done))) => {
            list.iter().zip(done).fold((0, 0, 0), |(a, r, h), (e, d)| {
                let n = replaced(d);
                (
                    a + newlines(e.get("new_string")) * n,
                    r + newlines(e.get("old_string")) * n,
                    h + n,
                )
            })
        }
        _ => {
            let n = replaced(result);
            (
                newlines(args.get("new_string")) * n,
                newlines(args.get("old_string")) * n,
                n,
            )
        }
    };
    let mut v = json!({
        "path": s("file_path"),
        "lines_added": added,
        "lines_removed": removed,
        "hunk_count": hunks,
    });
    if result.get("dry_run") == Some(&Value::Bool(true))
        && let Some(o) = v.as_object_mut()
    {
        o.insert("dry_run".into(), Value::Bool(true));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(data: &[u8], old: &str, new: &str, all: bool) -> (Vec<u8>, Applied) {
        apply(data, old.as_bytes(), new.as_bytes(), all).unwrap()
    }

    #[test]
    fn latin1_bytes_survive() {
        let data = b"caf\xe9 name=old\n\xff\xfe\x00binary\n";
        let (out, a) = ok(data, "old", "new", false);
        assert_eq!(a.replacements, 1);
        assert_eq!(out, b"caf\xe9 name=new\n\xff\xfe\x00binary\n");
    }

    #[test]
    fn crlf_file_stays_crlf() {
        let (out, a) = ok(b"a\r\nb\r\nc\r\n", "a\nb", "A\nB\nX", false);
        assert_eq!(out, b"A\r\nB\r\nX\r\nc\r\n");
        assert_eq!(a.rule, Rule::LineEndings);
        // Exact CRLF old_string works too.
        let (out, a) = ok(b"a\r\nb\r\n", "a\r\nb", "z", false);
        assert_eq!((out.as_slice(), a.rule), (&b"z\r\n"[..], Rule::Exact));
    }

    #[test]
    fn bom_and_counts() {
        let (out, a) = ok(b"\xef\xbb\xbfx=1\nx=1\n", "x=1", "x=2", true);
        assert_eq!(
            (out.as_slice(), a.replacements),
            (&b"\xef\xbb\xbfx=2\nx=2\n"[..], 2)
        );
        assert!(matches!(
            apply(b"aa", b"a", b"b", false),
            Err(ToolError::AmbiguousMatch(m)) if m.starts_with("old_string appears 2 times")
        ));
        assert_eq!(
            apply(b"aa", b"z", b"b", false).unwrap_err(),
            ToolError::StringNotFound("old_string not found in file".into())
        );
        // Overlaps count like str.count: "aaa" has one "aa".
        let (out, a) = ok(b"aaa", "aa", "b", true);
        assert_eq!((out.as_slice(), a.replacements), (&b"ba"[..], 1));
    }

    #[test]
    fn trailing_whitespace_rule_in_both_directions() {
        // The file has trailing spaces the caller left out.
        let data = b"[main]\nkey = 1   \nother = 2\t\nend\n";
        let (out, a) = ok(data, "key = 1\nother = 2\n", "key = 5\nother = 6\n", false);
        assert_eq!(a.rule, Rule::TrailingWhitespace);
        assert_eq!(out, b"[main]\nkey = 5\nother = 6\nend\n");
        // The caller's old_string has trailing spaces the file lacks (a single line).
        let (out, a) = ok(b"x = 1\ny = 2\n", "y = 2  ", "y = 3", false);
        assert_eq!(
            (out.as_slice(), a.rule),
            (&b"x = 1\ny = 3\n"[..], Rule::TrailingWhitespace)
        );
        // Ending mid-line keeps the rest of that line; starting mid-line keeps its start.
        let (out, _) = ok(b"  a = 1 \n  b = 2\n", "1\n  b", "9\n  c", false);
        assert_eq!(out, b"  a = 9\n  c = 2\n");
        // Leading whitespace still counts.
        assert!(matches!(
            apply(b"  a \n b\n", b"a\nb", b"x", false),
            Err(ToolError::StringNotFound(_))
        ));
        // CRLF file: the rule ignores the CR too, and the replacement gets CRLF.
        let (out, a) = ok(b"p \r\nq\r\n", "p\nq", "P\nQ", false);
        assert_eq!(
            (out.as_slice(), a.rule),
            (&b"P\r\nQ\r\n"[..], Rule::TrailingWhitespace)
        );
    }

    #[test]
    fn tolerant_matches_must_be_unique_even_with_replace_all() {
        let data = b"k = 1 \nx\nk = 1\t\nx\n";
        let err = apply(data, b"k = 1\nx", b"z", true).unwrap_err();
        assert!(
            matches!(&err, ToolError::AmbiguousMatch(m) if m.contains("lines 1, 3")),
            "{err:?}"
        );
        let err = apply(b"k = 1 \nk = 1\t\n", b"k = 1  ", b"z", true).unwrap_err();
        assert!(
            matches!(&err, ToolError::AmbiguousMatch(m) if m.contains("2 places") && m.contains("lines 1, 2")),
            "{err:?}"
        );
        // Line-ending matches honour replace_all like exact ones, and are ambiguous without.
        let (out, a) = ok(b"a\r\nb\r\na\r\nb\r\n", "a\nb", "c", true);
        assert_eq!((out.as_slice(), a.replacements), (&b"c\r\nc\r\n"[..], 2));
        assert!(matches!(
            apply(b"a\r\nb\r\na\r\nb\r\n", b"a\nb", b"c", false),
            Err(ToolError::AmbiguousMatch(_))
        ));
    }

    #[test]
    fn near_miss_names_the_closest_lines() {
        let data: String = (1..=40)
            .map(|i| format!("setting_{i} = value_{i}\n"))
            .collect::<String>()
            .replace("setting_21 = value_21", "setting_21 = valu_21");
        let err = apply(
            data.as_bytes(),
            b"setting_20 = value_20\nsetting_21 = value_21\n",
            b"x",
            false,
        )
        .unwrap_err();
        let ToolError::StringNotFound(m) = err else {
            panic!("{err:?}")
        };
        assert!(
            m.starts_with("old_string not found in file. Closest region: lines 20-21"),
            "{m}"
        );
        assert!(
            m.contains("- \"setting_21 = value_21\"\n+ \"setting_21 = valu_21\""),
            "{m}"
        );
        // Only whitespace differs inside a line: the quotes show it.
        let err = apply(b"if x:\n\treturn 1\n", b"if x:\n    return 1\n", b"", false).unwrap_err();
        let ToolError::StringNotFound(m) = err else {
            panic!()
        };
        assert!(m.contains("- \"    return 1\"\n+ \"\\treturn 1\""), "{m}");
        // Nothing alike: the plain message.
        assert_eq!(
            apply(b"alpha\nbeta\n", b"zzzz qqqq", b"", false).unwrap_err(),
            ToolError::StringNotFound("old_string not found in file".into())
        );
    }
}
