//! Tool failures, each carrying the reference's error code, mapped to the JSON body
//! `{"success":false,"error":<code>,"message":…[,"suggestion":…]}` in one place.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// What a tool was doing when an I/O error happened (see [`ToolError::from_io`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IoOp {
    /// Reading a file or listing a directory.
    Read,
    /// Creating, replacing or editing a file.
    Write,
    /// Finding out where an open descriptor leads (`/proc/self/fd`).
    Resolve,
}

/// An I/O failure on a named file or directory: the one shape every error type of the crate
/// uses for it (`<path>: <cause>`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub(crate) struct PathIo {
    /// The file or directory.
    pub(crate) path: PathBuf,
    /// The cause.
    #[source]
    pub(crate) source: std::io::Error,
}

/// For `map_err`: attach `path` to an I/O error.
pub(crate) fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> PathIo + '_ {
    move |source| PathIo {
        path: path.to_path_buf(),
        source,
    }
}

/// A tool failure the caller can act on. Returned to the client as a tool result with
/// `isError: true`.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub(crate) enum ToolError {
    /// The path does not exist.
    #[error("{message}")]
    FileNotFound {
        /// Text for the caller.
        message: String,
        /// Optional hint.
        suggestion: Option<&'static str>,
    },
    /// A directory was given where a file is needed.
    #[error("{0}")]
    IsADirectory(String),
    /// The OS refused access.
    #[error("{message}")]
    Permission {
        /// OS error text.
        message: String,
        /// Hint.
        suggestion: &'static str,
    },
    /// The path is in the protected set.
    #[error("Access denied: path is within protected directory {0}")]
    ProtectedPath(String),
    /// Not an absolute path, empty, or otherwise unusable.
    #[error("{0}")]
    InvalidPath(String),
    /// A device, FIFO, socket… where a regular file is needed.
    #[error("{0}")]
    NotARegularFile(String),
    /// Role too low, or no such tool.
    #[error("{0}")]
    PermissionDenied(String),
    /// Arguments do not match the tool's input schema.
    #[error("Input validation error: {0}")]
    InvalidArguments(String),
    /// Content or string over its size limit.
    #[error("{0}")]
    FileTooLarge(String),
    /// `old_string` does not occur in the file (the message may name the closest region).
    #[error("{0}")]
    StringNotFound(String),
    /// `old_string` occurs more than once and `replace_all` is false, or a tolerant match is
    /// not unique.
    #[error("{0}")]
    AmbiguousMatch(String),
    /// The file is not the one the caller based the change on (`expected_sha256`).
    #[error("{0}")]
    FileChanged(String),
    /// A glob pattern that does not parse or is not allowed.
    #[error("{0}")]
    InvalidPattern(String),
    /// A regular expression that does not parse.
    #[error("{0}")]
    InvalidRegex(String),
    /// Transfer is switched off.
    #[error("{0}")]
    TransferDisabled(String),
    /// A live-ticket cap was reached.
    #[error("{0}")]
    TooManyTickets(String),
    /// `expires_in` not positive.
    #[error("{0}")]
    InvalidExpiresIn(String),
    /// `max_bytes` not positive.
    #[error("{0}")]
    InvalidMaxBytes(String),
    /// Destination exists and overwrite is false.
    #[error("{0}")]
    FileExists(String),
    /// prepare_download's missing-file code (the reference says `FileNotFound` here).
    #[error("{0}")]
    FileNotFoundTransfer(String),
    /// Too many commands running at once.
    #[error("{0}")]
    Busy(String),
    /// Any other OS error.
    #[error("{0}")]
    Os(String),
    /// The recorder has not written an overview (yet).
    #[error("{0}")]
    RecorderDisabled(String),
    /// Audit is on but the log cannot be written: mutating tools are refused.
    #[error("{0}")]
    AuditUnavailable(String),
    /// No job with that id among the caller's (unknown, malformed, forgotten or another's).
    #[error("{0}")]
    JobNotFound(String),
    /// The client cancelled the call (`notifications/cancelled`) or went away before it
    /// finished; what ran was stopped.
    #[error("{0}")]
    Cancelled(String),
    /// A bug or an unexpected condition on our side.
    #[error("{0}")]
    Internal(String),
}

impl ToolError {
    /// The reference's error code string.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            ToolError::FileNotFound { .. } => "FileNotFoundError",
            ToolError::IsADirectory(_) => "IsADirectoryError",
            ToolError::Permission { .. } => "PermissionError",
            ToolError::ProtectedPath(_) => "ProtectedPath",
            ToolError::InvalidPath(_) => "InvalidPath",
            ToolError::NotARegularFile(_) => "NotARegularFile",
            ToolError::PermissionDenied(_) => "PermissionDenied",
            ToolError::InvalidArguments(_) => "InvalidArguments",
            ToolError::Busy(_) => "Busy",
            ToolError::TransferDisabled(_) => "TransferDisabled",
            ToolError::TooManyTickets(_) => "TooManyTickets",
            ToolError::InvalidExpiresIn(_) => "InvalidExpiresIn",
            ToolError::InvalidMaxBytes(_) => "InvalidMaxBytes",
            ToolError::FileExists(_) => "FileExists",
            ToolError::FileNotFoundTransfer(_) => "FileNotFound",
            ToolError::InvalidPattern(_) => "InvalidPattern",
            ToolError::InvalidRegex(_) => "InvalidRegex",
            ToolError::FileTooLarge(_) => "FileTooLarge",
            ToolError::StringNotFound(_) => "StringNotFound",
            ToolError::AmbiguousMatch(_) => "AmbiguousMatch",
            ToolError::FileChanged(_) => "FileChanged",
            ToolError::Os(_) => "OSError",
            ToolError::RecorderDisabled(_) => "RecorderDisabled",
            ToolError::AuditUnavailable(_) => "AuditUnavailable",
            ToolError::Cancelled(_) => "Cancelled",
            ToolError::JobNotFound(_) => "JobNotFound",
            ToolError::Internal(_) => "InternalError",
        }
    }

    /// Optional hint shown to the caller.
    pub(crate) fn suggestion(&self) -> Option<&'static str> {
        match self {
            ToolError::FileNotFound { suggestion, .. } => *suggestion,
            ToolError::IsADirectory(_) => Some("Use glob to list directory contents"),
            ToolError::Permission { suggestion, .. } => Some(suggestion),
            ToolError::InvalidArguments(_) => {
                Some("Check the tool's input schema (tools/list) for names and types")
            }
            _ => None,
        }
    }

    /// The JSON body sent to the client.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "success": false,
            "error": self.code(),
            "message": self.to_string(),
        });
        if let (Some(s), Some(obj)) = (self.suggestion(), v.as_object_mut()) {
            obj.insert("suggestion".into(), Value::String(s.to_string()));
        }
        v
    }

    /// The one mapping of an I/O error on `path` to a tool error. Reads and writes word a
    /// missing file and a permission problem as the reference did (their messages are part
    /// of the contract); anything else, and any failure while resolving where a path leads,
    /// is `OSError` with the path and the cause.
    pub(crate) fn from_io(e: &std::io::Error, path: &str, op: IoOp) -> ToolError {
        use std::io::ErrorKind;
        match (op, e.kind()) {
            (IoOp::Resolve, _) => ToolError::Os(format!("{path}: {e}")),
            (_, ErrorKind::NotFound) => ToolError::FileNotFound {
                message: format!("File not found: {path}"),
                suggestion: (op == IoOp::Read).then_some("Check the file path"),
            },
            (IoOp::Read, ErrorKind::PermissionDenied) => ToolError::Permission {
                message: format!("{e}: {path}"),
                suggestion: "Check file read permissions",
            },
            (IoOp::Write, ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem) => {
                ToolError::Permission {
                    message: format!("{e}: {path}"),
                    suggestion: "Check write permissions",
                }
            }
            (IoOp::Read, ErrorKind::IsADirectory) => {
                ToolError::IsADirectory(format!("{path} is a directory"))
            }
            _ => ToolError::Os(format!("{path}: {e}")),
        }
    }

    /// [`ToolError::from_io`] for a read.
    pub(crate) fn from_io_read(e: &std::io::Error, path: &str) -> ToolError {
        ToolError::from_io(e, path, IoOp::Read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_body_has_reference_shape() {
        let e = ToolError::ProtectedPath("/etc/mymcp".into());
        assert_eq!(
            e.to_json(),
            json!({"success":false,"error":"ProtectedPath","message":"Access denied: path is within protected directory /etc/mymcp"})
        );
        let e = ToolError::from_io_read(&std::io::Error::from(std::io::ErrorKind::NotFound), "/x");
        assert_eq!(
            e.to_json(),
            json!({"success":false,"error":"FileNotFoundError","message":"File not found: /x","suggestion":"Check the file path"})
        );
    }
}
