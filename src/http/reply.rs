//! Reply shapes shared by the HTTP handlers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Version string reported by `/health` and `/version`.
pub(super) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// An error reply with body `{"detail": msg}`, the shape the reference (FastAPI) used.
pub(super) fn detail(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "detail": msg }))).into_response()
}

/// A 401 with the `WWW-Authenticate` challenge RFC 9110 requires. `presented` says a token was
/// sent and refused (RFC 6750 `error="invalid_token"`), which lets clients tell "wrong token"
/// from "this server wants OAuth" instead of starting an authorization flow.
pub(super) fn unauthorized(msg: &str, presented: bool) -> Response {
    let mut r = detail(StatusCode::UNAUTHORIZED, msg);
    let challenge = if presented {
        r#"Bearer realm="mymcp", error="invalid_token""#
    } else {
        r#"Bearer realm="mymcp""#
    };
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}
