//! `server_overview`: the recorder's map of this host, with its age and backlog.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::recorder::events::{self, PendingCounter};

/// The description `tools/list` shows for `server_overview`.
pub(crate) const DESCRIPTION: &str = "Return the recorder's summary of this host (services, ports, recent \
changes) with its age and how many changes are not yet folded in.";

/// `server_overview` takes no arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {}

/// Inputs the tool needs (all from the configuration).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sources<'a> {
    /// `MYMCP_RECORDER_DATA_DIR`.
    pub(crate) data_dir: &'a Path,
    /// `MYMCP_AUDIT_LOG_DIR`.
    pub(crate) audit_dir: &'a Path,
    /// `MYMCP_RECORDER_MERGE_INTERVAL_SEC`.
    pub(crate) merge_interval: Duration,
}

/// The banner put in front of a stale overview.
pub(crate) fn stale_banner(pending: u64, minutes: u64) -> String {
    format!(
        "_⚠️ {pending} events pending; recorder overview stale for {minutes} minutes — check: systemctl status mymcp-recorder_\n\n"
    )
}

/// Read the overview and count the backlog. `counter` keeps scan positions between calls.
pub(crate) fn run(
    src: Sources<'_>,
    counter: &Mutex<PendingCounter>,
    now: SystemTime,
) -> Result<Value, ToolError> {
    let path = src.data_dir.join("overview").join("overview.md");
    let (text, modified) = match std::fs::read(&path) {
        Ok(bytes) => {
            let modified = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(now);
            (String::from_utf8_lossy(&bytes).into_owned(), modified)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ToolError::RecorderDisabled(format!(
                "overview not generated yet at {} — is the recorder running? Check: systemctl status mymcp-recorder",
                path.display()
            )));
        }
        Err(e) => return Err(ToolError::from_io_read(&e, &path.display().to_string())),
    };
    let cursor = events::read_cursor(&src.data_dir.join("cursor.json"));
    let pending = counter
        .lock()
        .map(|mut c| c.count(src.audit_dir, cursor.as_ref()))
        .unwrap_or(0);
    let age = now.duration_since(modified).unwrap_or_default();
    let stale = pending > 0 && age > src.merge_interval * 2;
    let overview = if stale {
        format!("{}{text}", stale_banner(pending, age.as_secs() / 60))
    } else {
        text
    };
    Ok(json!({
        "last_updated": rfc3339(modified),
        "overview": overview,
        "pending_events": pending,
        "stale": stale,
        "success": true,
    }))
}

fn rfc3339(t: SystemTime) -> String {
    crate::clock::format_utc(t, &time::format_description::well_known::Rfc3339)
}
