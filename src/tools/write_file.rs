//! `write_file`: create or replace a file atomically (a crash, a full disk or a concurrent
//! reader never sees a truncated `/etc/fstab`), keeping the replaced file's
//! mode and owner.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::ToolError;
use crate::guard::{Guard, replace_file, write_error};

/// The description `tools/list` shows for `write_file`.
pub(crate) const DESCRIPTION: &str = "Create or replace a file (absolute path) with content, at most 10 MiB (use prepare_upload for more or for binary data). Missing parent directories are created. The file is replaced atomically (a reader never sees a partial file) and a replaced file keeps its mode and owner; a symlink is followed and its target replaced. Returns bytes_written.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Absolute path of the file
    pub(crate) file_path: String,
    /// Full new content (at most 10 MiB)
    pub(crate) content: String,
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
    let target = guard.resolve_write(&args.file_path, true)?;
    replace_file(&target, args.content.as_bytes()).map_err(|e| write_error(&e, &args.file_path))?;
    Ok(json!({"bytes_written": n, "success": true}))
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

/// The audit line's `output` for a write: where, how much, and a hash of the content.
pub(crate) fn audit_summary(args: &Map<String, Value>) -> Value {
    let s = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or("");
    json!({
        "path": s("file_path"),
        "size_bytes": s("content").len(),
        "sha256": hex::encode(Sha256::digest(s("content").as_bytes())),
    })
}
