//! Wall-clock time in the formats the wire, the audit log and the token file use.

use std::time::{SystemTime, UNIX_EPOCH};

/// Current UTC time as RFC 3339 with nanoseconds, like the reference's `created_at`.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Seconds since the epoch.
pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `t` (whole seconds, UTC) in the given format; empty if it cannot be represented.
pub(crate) fn format_utc(
    t: SystemTime,
    format: &(impl time::formatting::Formattable + ?Sized),
) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}
