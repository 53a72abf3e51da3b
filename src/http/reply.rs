//! Reply shapes shared by the HTTP handlers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Version string reported by `/health` and `/version`.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error reply with body `{"detail": msg}`, the shape the reference (FastAPI) used.
pub(super) fn detail(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "detail": msg }))).into_response()
}
