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

/// An RFC 6750 challenge for `/mcp` when OAuth is on: where the protected resource metadata
/// is (RFC 9728 §5.1, so clients can discover the authorization server) and the scope to ask
/// for, plus why a presented token was refused.
pub(super) fn oauth_challenge(
    status: StatusCode,
    msg: &str,
    metadata_url: &str,
    scope: &str,
    error: Option<&str>,
) -> Response {
    let mut r = detail(status, msg);
    let mut challenge = format!(
        r#"Bearer realm="mymcp", resource_metadata="{}", scope="{}""#,
        quotable(metadata_url),
        quotable(scope)
    );
    if let Some(error) = error {
        challenge.push_str(&format!(
            r#", error="{error}", error_description="{}""#,
            quotable(msg)
        ));
    }
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Text safe inside an RFC 9110 quoted-string (RFC 6750 allows no escapes in
/// `error_description`): printable ASCII without `"` and `\`.
fn quotable(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
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
