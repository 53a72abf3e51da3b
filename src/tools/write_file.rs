//! `write_file`: create or replace a file atomically (D-15), keeping the replaced file's
//! mode and owner.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::guard::{Guard, replace_file, write_error};

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize)]
pub(crate) struct Args {
    /// Absolute path.
    pub(crate) file_path: String,
    /// Full new content.
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
