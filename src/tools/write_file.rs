//! `write_file`: create or replace a file atomically (a crash, a full disk or a concurrent
//! reader never sees a truncated `/etc/fstab`), keeping the replaced file's
//! mode and owner.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::ToolError;
use crate::guard::{Guard, append_file, open_target, replace_file, write_error};
use crate::tools::evidence::{check_expected, parse_expected, sha256_hex, sha256_of};

/// The description `tools/list` shows for `write_file`.
pub(crate) const DESCRIPTION: &str = "Create or replace a file (absolute path) with content, at most 10 MiB (use prepare_upload for more or for binary data). Missing parent directories are created. The file is replaced atomically (a reader never sees a partial file) and a replaced file keeps its mode and owner; a symlink is followed and its target replaced. append=true adds content to the end of the file instead (created if missing; the same file is extended in place, so a program holding it open sees the new lines). expected_sha256 (the sha256 read_file returned) makes the write apply only if the file still has that content, else FileChanged. Returns bytes_written and sha256 of the file as written (omitted above 10 MiB).";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Absolute path of the file
    pub(crate) file_path: String,
    /// Full new content (at most 10 MiB), or with append the text to add
    pub(crate) content: String,
    /// Add content to the end of the file (created if missing) instead of replacing it
    #[serde(default)]
    pub(crate) append: bool,
    /// Write only if the file's current bytes have this SHA-256 (64 hex digits, from
    /// read_file); otherwise FileChanged and nothing is written
    pub(crate) expected_sha256: Option<String>,
}

/// Run the tool (blocking).
pub(crate) fn run(guard: &Guard, max_bytes: u64, args: Args) -> Result<Value, ToolError> {
    // Refuse protected paths before saying anything about the content.
    crate::guard::require_absolute(&args.file_path, "file_path")?;
    guard.check_real(
        &crate::guard::canonicalize_lenient(std::path::Path::new(&args.file_path)),
        crate::guard::Access::Write,
    )?;
    let n = args.content.len() as u64;
    if n > max_bytes {
        return Err(ToolError::FileTooLarge(format!(
            "Content is {n} bytes, max is {max_bytes} ({})",
            human(max_bytes)
        )));
    }
    let expected = parse_expected(args.expected_sha256.as_deref())?;
    let path = &args.file_path;
    let target = guard.resolve_write(path, true)?;
    if let Some(e) = &expected {
        if target.existing.is_none() {
            return Err(ToolError::FileChanged(format!(
                "{path} does not exist, but expected_sha256 was given: it was removed or renamed since it was read"
            )));
        }
        let (file, _) = open_target(&target, path)?;
        let now = sha256_of(file).map_err(|e| ToolError::from_io_read(&e, path))?;
        check_expected(path, &now, Some(e))?;
    }
    let sha256 = if args.append {
        let size =
            append_file(&target, args.content.as_bytes()).map_err(|e| write_error(&e, path))?;
        // Hash what is there now, when it is small enough to be worth a precondition.
        if size <= max_bytes {
            let fresh = guard.resolve_write(path, false)?;
            let (file, _) = open_target(&fresh, path)?;
            Some(sha256_of(file).map_err(|e| ToolError::from_io_read(&e, path))?)
        } else {
            None
        }
    } else {
        replace_file(&target, args.content.as_bytes()).map_err(|e| write_error(&e, path))?;
        Some(sha256_hex(args.content.as_bytes()))
    };
    let mut v = json!({"bytes_written": n, "success": true});
    if let (Some(h), Some(o)) = (sha256, v.as_object_mut()) {
        o.insert("sha256".into(), Value::String(h));
    }
    Ok(v)
}

/// `10MB`-style size for messages.
pub(crate) fn human(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{}MB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{}KB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// The audit line's `output` for a write: where, how much, and a hash of the content (the
/// appended text, for an append).
pub(crate) fn audit_summary(args: &Map<String, Value>) -> Value {
    let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    let mut v = json!({
        "path": s("file_path"),
        "size_bytes": s("content").len(),
        "sha256": hex::encode(Sha256::digest(s("content").as_bytes())),
    });
    if args.get("append").and_then(Value::as_bool) == Some(true)
        && let Some(o) = v.as_object_mut()
    {
        o.insert("append".into(), Value::Bool(true));
    }
    v
}
