//! The HTTP surface: one router, built top-down. Every request is counted and traced
//! (`track_http`), bodies have a time limit, and each route group stacks its own admission:
//! `/mcp` (CORS preflight, Host/Origin, body cap, bearer auth, fast path, rmcp), `/admin` (Host/Origin, body
//! cap, admin token), `/files/raw` (the ticket is the credential), and the open ops endpoints.

mod admin;
mod auth;
mod cors;
mod ops;
mod reply;
mod rmcp_shim;
mod transfer;

pub(crate) use transfer::DURABLE_UPLOADS;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use tower::util::BoxCloneSyncService;
use tower::{ServiceBuilder, ServiceExt};

use crate::mcp::McpHandler;
use crate::mcp::fastpath::{self, FastPath};
use crate::state::AppState;

/// Largest admin API body.
pub(crate) const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// How long a client may take to send a request body.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// `/mcp` body cap: the write_file limit plus room for JSON escaping and the envelope.
pub(crate) fn mcp_body_limit(write_max: u64) -> usize {
    let w = write_max as usize;
    w.saturating_add(w / 4).saturating_add(256 * 1024)
}

/// Count every request by route pattern (never the raw URL: tokens and tickets live in
/// paths, and a raw URL would both leak them into metrics and make unbounded series), method
/// and status.
async fn track_http(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    // MatchedPath holds an Arc<str>: cloning it avoids a String per request.
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let path = matched.as_ref().map_or("<unmatched>", |m| m.as_str());
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "PATCH" => "PATCH",
        _ => "OTHER",
    };
    let span = tracing::debug_span!("http_request", method, path, status = tracing::field::Empty);
    let resp = tracing::Instrument::instrument(next.run(req), span.clone()).await;
    span.record("status", resp.status().as_u16());
    crate::otel::record_http(path, method, resp.status().as_u16());
    st.metrics
        .http_requests
        .with_label_values(&[path, method, resp.status().as_str()])
        .inc();
    resp
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "404 page not found\n",
    )
        .into_response()
}

/// Body over the limit: answer 413 at once from `Content-Length`, before reading it.
async fn content_length_limit(limit: usize, req: Request, next: Next) -> Response {
    let too_big = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64);
    if too_big {
        // The body stays unread, so this connection cannot carry another request: say so,
        // or a client reusing it would see its next request fail.
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            [(header::CONNECTION, "close")],
            axum::Json(json!({"detail": format!("request body exceeds {limit} bytes")})),
        )
            .into_response();
    }
    next.run(req).await
}

/// Build the application router. Each `ServiceBuilder` lists its layers outermost first, so
/// they read in the order a request passes them.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mcp_limit = mcp_body_limit(state.config.write_file_max_bytes);
    let handler = McpHandler::new(state.clone());
    let rmcp_handler = handler.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(rmcp_handler.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            // Host/Origin are checked by our own middleware (which knows the bind policy).
            .disable_allowed_hosts()
            .with_max_request_body_bytes(mcp_limit),
    );
    let fast = Arc::new(FastPath {
        handler,
        limit: mcp_limit,
        rmcp: BoxCloneSyncService::new(ServiceExt::<Request>::map_response(mcp.clone(), |r| {
            r.map(axum::body::Body::new)
        })),
    });
    let mcp_routes = Router::new().route_service("/mcp", mcp).layer(
        ServiceBuilder::new()
            .layer(from_fn_with_state(state.clone(), cors::cors))
            .layer(from_fn_with_state(state.clone(), auth::host_origin_check))
            .layer(from_fn(move |req, next| {
                content_length_limit(mcp_limit, req, next)
            }))
            .layer(from_fn_with_state(state.clone(), auth::mcp_auth))
            .layer(from_fn(rmcp_shim::middleware))
            .layer(from_fn_with_state(fast, fastpath::middleware)),
    );
    let admin_routes = Router::new()
        .route("/admin/tokens", get(admin::list).post(admin::create))
        .route("/admin/tokens/{token}", delete(admin::revoke))
        .layer(
            ServiceBuilder::new()
                .layer(from_fn_with_state(state.clone(), auth::host_origin_check))
                .layer(from_fn(|req, next| {
                    content_length_limit(ADMIN_BODY_LIMIT, req, next)
                }))
                .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT)),
        );
    // The ticket in the path is the credential; each handler checks it.
    let transfer_routes = Router::new().route(
        "/files/raw/{ticket}",
        get(transfer::get).head(transfer::head).put(transfer::put),
    );
    Router::new()
        .route("/health", get(ops::health))
        .route("/version", get(ops::version))
        .route(
            "/.well-known/oauth-protected-resource",
            get(ops::resource_metadata),
        )
        .route(auth::RESOURCE_METADATA_PATH, get(ops::resource_metadata))
        .route("/metrics", get(ops::metrics))
        .route(
            "/register",
            axum::routing::post(ops::no_client_registration),
        )
        .merge(mcp_routes)
        .merge(admin_routes)
        .merge(transfer_routes)
        .fallback(not_found)
        .layer(
            ServiceBuilder::new()
                .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                    BODY_TIMEOUT,
                ))
                // The timeout wraps the body in its own type; axum's layers take axum's.
                .map_request(|r: Request<_>| r.map(axum::body::Body::new))
                .layer(from_fn_with_state(state.clone(), track_http)),
        )
        .with_state(state)
}
