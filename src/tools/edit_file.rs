//! `edit_file`: exact string replacement on the file's bytes. Bytes outside the match are
//! never touched (a Latin-1 file stays Latin-1, not rewritten as U+FFFD); a CRLF file stays CRLF; a BOM stays;
//! the write is atomic.

use memchr::memmem;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::ToolError;
use crate::guard::{Guard, read_target, replace_file, write_error};
use crate::tools::write_file::human;

/// The description `tools/list` shows for `edit_file`.
pub(crate) const DESCRIPTION: &str = "Replace an exact string in a file (absolute path). old_string must occur exactly once unless replace_all is true (then every occurrence is replaced); it must not be empty; old_string and new_string are at most 1 MiB each. Works on bytes: the rest of the file, non-UTF-8 bytes, a BOM and CRLF line endings are kept (an LF old_string also matches its CRLF form). The file is replaced atomically and keeps its mode and owner. Errors: StringNotFound, AmbiguousMatch, FileNotFoundError, ProtectedPath.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Absolute path of the file to edit
    pub(crate) file_path: String,
    /// Exact text to find (at most 1 MiB, not empty)
    pub(crate) old_string: String,
    /// Text to put in its place (at most 1 MiB)
    pub(crate) new_string: String,
    /// Replace every occurrence (default false)
    #[serde(default)]
    pub(crate) replace_all: bool,
}

/// Largest file edit_file loads.
pub(crate) const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Run the tool (blocking).
pub(crate) fn run(guard: &Guard, max_string: u64, args: Args) -> Result<Value, ToolError> {
    crate::guard::require_absolute(&args.file_path, "file_path")?;
    guard.check_real(
        &crate::guard::canonicalize_lenient(std::path::Path::new(&args.file_path)),
        crate::guard::Access::Write,
    )?;
    if args.old_string.len() as u64 > max_string {
        return Err(ToolError::FileTooLarge(format!(
            "old_string exceeds {} limit",
            human(max_string)
        )));
    }
    if args.new_string.len() as u64 > max_string {
        return Err(ToolError::FileTooLarge(format!(
            "new_string exceeds {} limit",
            human(max_string)
        )));
    }
    if args.old_string.is_empty() {
        return Err(ToolError::InvalidArguments(
            "old_string must not be empty".to_string(),
        ));
    }
    let target = guard.resolve_write(&args.file_path, false)?;
    let data = read_target(&target, &args.file_path, MAX_FILE_BYTES)?;
    let (out, n) = edit_bytes(
        &data,
        args.old_string.as_bytes(),
        args.new_string.as_bytes(),
        args.replace_all,
    )?;
    replace_file(&target, &out).map_err(|e| write_error(&e, &args.file_path))?;
    Ok(json!({"replacements": n, "success": true}))
}

/// The edit itself. When `old` is not found as given but the file uses CRLF, `old` and `new`
/// are tried again with every lone `\n` turned into `\r\n`.
pub(crate) fn edit_bytes(
    data: &[u8],
    old: &[u8],
    new: &[u8],
    replace_all: bool,
) -> Result<(Vec<u8>, usize), ToolError> {
    let mut count = memmem::find_iter(data, old).count();
    let (mut old_v, mut new_v) = (old.to_vec(), new.to_vec());
    if count == 0 && old.contains(&b'\n') && memmem::find(data, b"\r\n").is_some() {
        old_v = lf_to_crlf(old);
        new_v = lf_to_crlf(new);
        count = memmem::find_iter(data, &old_v).count();
    }
    if count == 0 {
        return Err(ToolError::StringNotFound);
    }
    if count > 1 && !replace_all {
        return Err(ToolError::AmbiguousMatch(count));
    }
    let mut out = Vec::with_capacity(data.len() + new_v.len().saturating_sub(old_v.len()) * count);
    let mut last = 0;
    let mut done = 0;
    for pos in memmem::find_iter(data, &old_v) {
        if pos < last {
            continue; // overlapping match: str.replace semantics skip it
        }
        out.extend_from_slice(&data[last..pos]);
        out.extend_from_slice(&new_v);
        last = pos + old_v.len();
        done += 1;
        if !replace_all {
            break;
        }
    }
    out.extend_from_slice(&data[last..]);
    Ok((out, done))
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

/// The audit line's `output` for an edit: the path and how many lines changed.
pub(crate) fn audit_summary(args: &Map<String, Value>, result: &Value) -> Value {
    let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    let n = result
        .get("replacements")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let count = |t: &str| t.matches('\n').count() as u64 * n;
    json!({
        "path": s("file_path"),
        "lines_added": count(s("new_string")),
        "lines_removed": count(s("old_string")),
        "hunk_count": n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_bytes_survive() {
        let data = b"caf\xe9 name=old\n\xff\xfe\x00binary\n";
        let (out, n) = edit_bytes(data, b"old", b"new", false).unwrap();
        assert_eq!(n, 1);
        assert_eq!(out, b"caf\xe9 name=new\n\xff\xfe\x00binary\n");
    }

    #[test]
    fn crlf_file_stays_crlf() {
        let (out, _) = edit_bytes(b"a\r\nb\r\nc\r\n", b"a\nb", b"A\nB\nX", false).unwrap();
        assert_eq!(out, b"A\r\nB\r\nX\r\nc\r\n");
        // Exact CRLF old_string works too.
        let (out, _) = edit_bytes(b"a\r\nb\r\n", b"a\r\nb", b"z", false).unwrap();
        assert_eq!(out, b"z\r\n");
    }

    #[test]
    fn bom_and_counts() {
        let (out, n) = edit_bytes(b"\xef\xbb\xbfx=1\nx=1\n", b"x=1", b"x=2", true).unwrap();
        assert_eq!((out.as_slice(), n), (&b"\xef\xbb\xbfx=2\nx=2\n"[..], 2));
        assert_eq!(
            edit_bytes(b"aa", b"a", b"b", false).unwrap_err(),
            ToolError::AmbiguousMatch(2)
        );
        assert_eq!(
            edit_bytes(b"aa", b"z", b"b", false).unwrap_err(),
            ToolError::StringNotFound
        );
        // Overlaps count like str.count: "aaa" has one "aa".
        let (out, n) = edit_bytes(b"aaa", b"aa", b"b", true).unwrap();
        assert_eq!((out.as_slice(), n), (&b"ba"[..], 1));
    }
}
