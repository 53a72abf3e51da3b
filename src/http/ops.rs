//! Operations endpoints: `/health`, `/version` and `/metrics`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::auth::bearer;
use super::reply::{VERSION, detail, unauthorized};
use crate::state::AppState;

/// Liveness. With OAuth on, also whether the authorization server's keys are loaded (until
/// they are, OAuth tokens are refused while static tokens work).
pub(super) async fn health(State(st): State<Arc<AppState>>) -> Response {
    let mut body = json!({"status": "ok", "version": VERSION});
    if let Some(o) = &st.oauth {
        body["oauth"] = json!(o.status());
    }
    axum::Json(body).into_response()
}

pub(super) async fn version() -> Response {
    axum::Json(json!({"version": VERSION})).into_response()
}

pub(super) async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !st.tokens.metrics_enabled() {
        return detail(
            StatusCode::SERVICE_UNAVAILABLE,
            if st.temp_mode {
                "Metrics disabled: MYMCP_METRICS_TOKEN not configured (in temp-token mode, \
                 start with --with-metrics-token)"
            } else {
                "Metrics disabled: MYMCP_METRICS_TOKEN not configured"
            },
        );
    }
    match bearer(&headers) {
        Some(t) if st.tokens.is_metrics(t) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            {
                let mut text = st
                    .metrics
                    .render(st.tools.bash.inflight(), st.tools.bash.jobs.running());
                if st.config.recorder_enabled {
                    text.push_str(&recorder_series(&st.config.recorder_data_dir));
                }
                text
            },
        )
            .into_response(),
        t => unauthorized("Unauthorized", t.is_some()),
    }
}

/// The recorder's own series, from the `metrics.prom` it writes after each cycle. Only
/// `mymcp_recorder_*` lines pass, so the file cannot add or shadow other series.
fn recorder_series(data_dir: &std::path::Path) -> String {
    use std::io::Read;
    let mut raw = String::new();
    let Ok(f) = std::fs::File::open(data_dir.join("metrics.prom")) else {
        return raw;
    };
    if f.take(256 * 1024).read_to_string(&mut raw).is_err() {
        return String::new();
    }
    let mut out = String::new();
    for line in raw.lines() {
        let body = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        if body.starts_with("mymcp_recorder_") {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `POST /register`, where OAuth clients (mcp-remote, the Inspector) try dynamic client
/// registration after any 401, since they treat every 401 as "sign in with OAuth". There is no
/// authorization server here, and the registration error is the one message such clients show
/// the user: so it says what actually went wrong.
/// RFC 9728 protected resource metadata: which authorization server issues tokens for `/mcp`
/// and with which scopes. 404 when OAuth is off, so clients fall back to their static token.
pub(super) async fn resource_metadata(State(st): State<Arc<AppState>>) -> Response {
    match &st.oauth {
        Some(o) => axum::Json(o.resource_metadata()).into_response(),
        None => detail(
            StatusCode::NOT_FOUND,
            "OAuth is not configured on this server (MYMCP_OAUTH_ISSUER); use a static bearer token",
        ),
    }
}

pub(super) async fn no_client_registration(State(st): State<Arc<AppState>>) -> Response {
    if let Some(o) = &st.oauth {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({
                "error": "invalid_request",
                "error_description": format!(
                    "this mymcp server is an OAuth resource server and registers no clients: \
                     get a token from the authorization server {} (see \
                     /.well-known/oauth-protected-resource/mcp)",
                    o.settings().issuer
                ),
            })),
        )
            .into_response();
    }
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "error": "invalid_request",
            "error_description": "this mymcp server does not offer OAuth: it takes static \
                bearer tokens, and the token this client sent was missing or refused. Check \
                the Authorization header (mymcp token list on the server).",
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn recorder_file_cannot_add_other_series() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(recorder_series(d.path()), "");
        std::fs::write(
            d.path().join("metrics.prom"),
            "# HELP mymcp_recorder_pending_events x\n# TYPE mymcp_recorder_pending_events gauge\n\
             mymcp_recorder_pending_events 2\nmymcp_tool_calls_total{tool=\"x\"} 99\n\
             # TYPE up gauge\nup 1\n",
        )
        .unwrap();
        assert_eq!(
            recorder_series(d.path()),
            "# HELP mymcp_recorder_pending_events x\n# TYPE mymcp_recorder_pending_events gauge\n\
             mymcp_recorder_pending_events 2\n"
        );
    }
}
