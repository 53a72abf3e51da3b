//! Cross-origin access to `/mcp` for browser-based clients (the MCP Inspector's web UI, for
//! example). A browser asks first with an `OPTIONS` preflight that carries no token, so
//! preflights are answered before authentication; CORS headers are sent only to origins listed
//! in `MYMCP_CORS_ORIGINS`, so by default a browser keeps refusing cross-origin calls.
//!
//! Written here rather than with tower-http's `CorsLayer`: that layer answers every preflight
//! with `Access-Control-Allow-Methods`/`-Headers`, listed origin or not, and the policy here is
//! that an unlisted origin sees no CORS header at all.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Headers a browser script may read from our replies.
const EXPOSE: &str = "mcp-session-id, mcp-protocol-version, www-authenticate, x-request-id";
/// Headers a browser script may send when the preflight does not say which it wants.
const ALLOW_HEADERS: &str = "authorization, content-type, accept, mcp-protocol-version, \
                             mcp-session-id, last-event-id, x-request-id";
/// How long a browser may cache a preflight answer.
const MAX_AGE: &str = "600";

/// The request's `Origin` when it is one of the configured CORS origins.
pub(super) fn listed_origin(st: &AppState, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?.to_ascii_lowercase();
    st.config
        .cors_origins
        .contains(&text)
        .then(|| origin.clone())
}

/// Answer preflights (no authentication: they carry no credentials and change nothing) and add
/// `Access-Control-Allow-Origin` to replies for listed origins.
pub(super) async fn cors(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let allowed = listed_origin(&st, req.headers());
    if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("origin"));
        h.insert(
            header::ALLOW,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        if let Some(origin) = allowed {
            // Echo the requested headers when they are well-formed (a browser lists exactly
            // what the script will send); the fixed list otherwise.
            let wanted = req
                .headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .filter(|v| {
                    v.to_str().is_ok_and(|s| {
                        s.len() <= 1024
                            && s.bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"-_, ".contains(&b))
                    })
                })
                .cloned()
                .unwrap_or(HeaderValue::from_static(ALLOW_HEADERS));
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, DELETE"),
            );
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, wanted);
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(MAX_AGE),
            );
        }
        return r;
    }
    let mut r = next.run(req).await;
    if let Some(origin) = allowed {
        let h = r.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE),
        );
        h.append(header::VARY, HeaderValue::from_static("origin"));
    }
    r
}
