//! HTTP surface: router, bearer auth for `/mcp`, the admin API, health and version, Host and
//! Origin checks against DNS rebinding, body limits.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};

use crate::daemon::AppState;
use crate::mcp::{Caller, McpHandler};
use crate::tokens::{Role, TokenError};

/// Version string reported by `/health`, `/version` and `initialize`.
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest admin API body.
pub(crate) const ADMIN_BODY_LIMIT: usize = 64 * 1024;

/// How long a client may take to send a request body.
pub(crate) const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// `/mcp` body cap: the write_file limit plus room for JSON escaping and the envelope.
pub(crate) fn mcp_body_limit(write_max: u64) -> usize {
    let w = write_max as usize;
    w.saturating_add(w / 4).saturating_add(256 * 1024)
}

fn detail(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "detail": msg }))).into_response()
}

/// Which `Host` values (and `Origin` hosts) are accepted on `/mcp` and `/admin`.
///
/// On a loopback bind only loopback names are accepted: that is where DNS rebinding bites.
/// On any other bind we accept IP literals, `localhost`, this machine's hostname (and names
/// whose first label is the hostname), the host of `MYMCP_PUBLIC_BASE_URL`, and
/// `MYMCP_ALLOWED_HOSTS` (`*` disables the check).
#[derive(Debug, Clone)]
pub(crate) struct HostPolicy {
    any: bool,
    loopback_only: bool,
    names: HashSet<String>,
    hostname: Option<String>,
}

impl HostPolicy {
    /// Build from the bind address and configuration.
    pub(crate) fn new(bind_host: &str, extra: &[String], public_base_url: &str) -> Self {
        let mut names: HashSet<String> = ["localhost", "127.0.0.1", "::1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let any = extra.iter().any(|e| e == "*");
        for e in extra {
            names.insert(strip_port(&e.to_ascii_lowercase()).to_string());
        }
        if let Some(h) = url_host(public_base_url) {
            names.insert(h);
        }
        let loopback_only = match bind_host.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback(),
            Err(_) => bind_host.eq_ignore_ascii_case("localhost"),
        };
        let hostname = rustix::system::uname()
            .nodename()
            .to_str()
            .ok()
            .map(|s| s.to_ascii_lowercase())
            .filter(|s| !s.is_empty());
        if !loopback_only {
            names.insert(bind_host.to_ascii_lowercase());
        }
        HostPolicy {
            any,
            loopback_only,
            names,
            hostname,
        }
    }

    /// Is this `Host` value (with or without a port) acceptable? A value that is not a
    /// well-formed `host[:port]` (such as `[::1]evil`) never is.
    pub(crate) fn allows(&self, host: &str) -> bool {
        let Some(h) = parse_host(host) else {
            return false;
        };
        if self.any {
            return true;
        }
        if self.names.contains(&h) {
            return true;
        }
        if self.loopback_only {
            return false;
        }
        if h.parse::<IpAddr>().is_ok() {
            return true;
        }
        match &self.hostname {
            Some(hn) => h == *hn || h.split('.').next() == Some(hn.as_str()),
            None => false,
        }
    }
}

/// Parse a `Host` header value strictly (RFC 3986 authority without userinfo): a DNS name or
/// IPv4 address, or an IPv6 address in brackets, each optionally followed by `:port`.
/// Returns the host in lower case, without brackets or port.
pub(crate) fn parse_host(value: &str) -> Option<String> {
    let v = value.to_ascii_lowercase();
    if v.parse::<std::net::Ipv6Addr>().is_ok() {
        // A bare IPv6 address: what `url_host` leaves of an Origin's `[v6]:port`.
        return Some(v);
    }
    let (host, port) = if let Some(rest) = v.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (addr.to_string(), port)
    } else {
        let (name, port) = match v.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (v.as_str(), None),
        };
        let ok = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !ok {
            return None;
        }
        (name.to_string(), port)
    };
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(host)
}

fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or(rest);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => h,
    }
}

fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let h = strip_port(&authority.to_ascii_lowercase()).to_string();
    (!h.is_empty()).then_some(h)
}

/// Refuse foreign `Host` and `Origin` headers (DNS rebinding from a browser).
async fn host_origin_check(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST)
        && !host.to_str().is_ok_and(|h| st.hosts.allows(h))
    {
        tracing::warn!(host = ?host, "refused request with a Host header not in the allow-list");
        return detail(
            StatusCode::FORBIDDEN,
            "Host header not allowed (add it to MYMCP_ALLOWED_HOSTS)",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(url_host)
            .is_some_and(|h| st.hosts.allows(&h));
        if !ok {
            tracing::warn!(origin = ?origin, "refused request with a foreign Origin");
            return detail(StatusCode::FORBIDDEN, "Origin not allowed");
        }
    }
    next.run(req).await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// The base URL clients use: `MYMCP_PUBLIC_BASE_URL`, else the request's scheme and `Host`
/// (`X-Forwarded-Proto`/`-Host` only with `MYMCP_TRUST_FORWARDED=true`).
fn base_url(st: &AppState, headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    let cfg = &st.config;
    if !cfg.public_base_url.is_empty() {
        return cfg.public_base_url.trim_end_matches('/').to_string();
    }
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or("").trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let mut scheme = uri.scheme_str().unwrap_or("http").to_string();
    let mut host = get("host").unwrap_or_else(|| format!("{}:{}", cfg.host, cfg.port));
    if cfg.trust_forwarded {
        if let Some(p) = get("x-forwarded-proto").filter(|p| p == "http" || p == "https") {
            scheme = p;
        }
        if let Some(h) = get("x-forwarded-host") {
            host = h;
        }
    }
    // A Host header is attacker-chosen text: keep only characters a host:port can have.
    host.retain(|c| c.is_ascii_alphanumeric() || "-.:[]".contains(c));
    format!("{scheme}://{host}")
}

/// `X-Request-ID` if short and printable ASCII, else a fresh random id.
pub(crate) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .map(String::from)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()))
}

async fn mcp_auth(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(tok) = bearer(req.headers()) else {
        return detail(StatusCode::UNAUTHORIZED, "Missing Bearer token");
    };
    let Some(p) = st.tokens.authenticate(tok) else {
        return detail(StatusCode::UNAUTHORIZED, "Invalid or disabled token");
    };
    let rid = request_id(req.headers());
    let base_url = base_url(&st, req.headers(), req.uri());
    normalize_accept(req.headers_mut());
    req.extensions_mut().insert(Caller {
        token_name: p.name,
        token_id: p.id,
        role: p.role,
        ip: peer.ip(),
        request_id: rid.clone(),
        base_url,
    });
    let json_body = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut resp = next.run(req).await;
    if json_body && resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        // rmcp answers unparseable JSON with 415 and a text body; clients expect -32700.
        resp = parse_error(resp).await;
    }
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// rmcp insists on `Accept: application/json, text/event-stream`. The reference accepted a
/// request with no Accept header (plain `curl -d`), so a missing, `*/*` or JSON-only Accept is
/// completed here; the reply is JSON unless a tool streams progress.
fn normalize_accept(headers: &mut HeaderMap) {
    let cur = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = cur.contains("application/json");
    let sse = cur.contains("text/event-stream");
    let wildcard = cur.is_empty() || cur.contains("*/*") || cur.contains("application/*");
    if (json || wildcard) && !(json && sse) {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
}

async fn parse_error(resp: Response) -> Response {
    let text = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let why = text
        .strip_prefix("fail to deserialize request body ")
        .unwrap_or(&text)
        .trim();
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": -32700,
                "message": format!("Parse error: the body is not a JSON-RPC request ({why}); batches are not supported"),
            }
        })),
    )
        .into_response()
}

/// `None` when the caller holds the admin token, else the 401/403 response to send.
fn admin_auth(st: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(tok) = bearer(headers) else {
        return Some(detail(StatusCode::UNAUTHORIZED, "Missing Bearer token"));
    };
    if !st.tokens.is_admin(tok) {
        return Some(detail(StatusCode::FORBIDDEN, "Admin token required"));
    }
    None
}

/// Run token-file work on a fresh thread rather than tokio's blocking pool: admin calls are
/// rare, and revocation must work even while the pool is full.
async fn on_own_thread<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("mymcp-admin".into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    rx.await
        .map_err(|_| "the admin operation failed unexpectedly".to_string())
}

async fn admin_list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(r) = admin_auth(&st, &headers) {
        return r;
    }
    let map: serde_json::Map<String, Value> = st
        .tokens
        .list()
        .into_iter()
        .map(|(id, t)| {
            (
                id,
                json!({
                    "name": t.name,
                    "created_at": t.created_at,
                    "last_used": t.last_used,
                    "enabled": t.enabled,
                    "role": t.role,
                }),
            )
        })
        .collect();
    axum::Json(Value::Object(map)).into_response()
}

async fn admin_create(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(r) = admin_auth(&st, &headers) {
        return r;
    }
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&body) else {
        return detail(StatusCode::BAD_REQUEST, "invalid JSON body");
    };
    let name = match obj.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return detail(
                StatusCode::BAD_REQUEST,
                "name is required and must not be empty",
            );
        }
        Some(_) => return detail(StatusCode::BAD_REQUEST, "name must be a string"),
    };
    if name.chars().count() > 128 || name.chars().any(char::is_control) {
        return detail(
            StatusCode::BAD_REQUEST,
            "name must be at most 128 printable characters",
        );
    }
    let role_str = match obj.get("role") {
        None | Some(Value::Null) => "ro".to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    let Some(role) = Role::parse(&role_str) else {
        return detail(
            StatusCode::BAD_REQUEST,
            &TokenError::InvalidRole(role_str).to_string(),
        );
    };
    let st2 = st.clone();
    let name2 = name.clone();
    let res = on_own_thread(move || st2.tokens.create(&name2, role)).await;
    match res {
        Ok(Ok((token, id))) => {
            tracing::info!(token_id = %id, name = %name, role = %role, "admin API created a token");
            axum::Json(json!({"name": name, "role": role, "token": token, "id": id}))
                .into_response()
        }
        Ok(Err(e)) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn admin_revoke(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Some(r) = admin_auth(&st, &headers) {
        return r;
    }
    let st2 = st.clone();
    let t2 = token.clone();
    match on_own_thread(move || st2.tokens.revoke(&t2)).await {
        Ok(Ok(id)) => {
            tracing::info!(token_id = %id, "admin API revoked a token");
            axum::Json(json!({"revoked": token, "id": id})).into_response()
        }
        Ok(Err(TokenError::NotFound)) => detail(StatusCode::NOT_FOUND, "Token not found"),
        Ok(Err(e)) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok", "version": VERSION})).into_response()
}

async fn version() -> Response {
    axum::Json(json!({"version": VERSION})).into_response()
}

async fn metrics(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if !st.tokens.metrics_enabled() {
        return detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "Metrics disabled: MYMCP_METRICS_TOKEN not configured",
        );
    }
    match bearer(&headers) {
        Some(t) if st.tokens.is_metrics(t) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            {
                let mut text = st.metrics.render(st.bash.inflight());
                if st.config.recorder_enabled {
                    text.push_str(&recorder_series(&st.config.recorder_data_dir));
                }
                text
            },
        )
            .into_response(),
        _ => detail(StatusCode::UNAUTHORIZED, "Unauthorized"),
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

/// Count every request by route pattern (never the raw URL: tokens and tickets live in
/// paths, D-31), method and status.
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

/// Build the application router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let mcp_limit = mcp_body_limit(state.config.write_file_max_bytes);
    let handler = McpHandler::new(state.clone());
    let fast = Arc::new(crate::fastpath::FastPath {
        handler: handler.clone(),
        limit: mcp_limit,
    });
    let mcp = StreamableHttpService::new(
        move || Ok(handler.clone()),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(Some(Duration::from_secs(15)))
            // Host/Origin are checked by our own middleware (which knows the bind policy).
            .disable_allowed_hosts()
            .with_max_request_body_bytes(mcp_limit),
    );
    let mcp_routes = Router::new()
        .route_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(
            fast,
            crate::fastpath::middleware,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), mcp_auth))
        .layer(middleware::from_fn(move |req, next| {
            content_length_limit(mcp_limit, req, next)
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_origin_check,
        ));
    let admin_routes = Router::new()
        .route("/admin/tokens", get(admin_list).post(admin_create))
        .route("/admin/tokens/{token}", delete(admin_revoke))
        .layer(axum::extract::DefaultBodyLimit::max(ADMIN_BODY_LIMIT))
        .layer(middleware::from_fn(|req, next| {
            content_length_limit(ADMIN_BODY_LIMIT, req, next)
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            host_origin_check,
        ));
    let raw_routes = Router::new().route(
        "/files/raw/{ticket}",
        get(crate::raw::get)
            .head(crate::raw::head)
            .put(crate::raw::put),
    );
    Router::new()
        .route("/health", get(health))
        .route("/version", get(version))
        .route("/metrics", get(metrics))
        .merge(mcp_routes)
        .merge(admin_routes)
        .merge(raw_routes)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), track_http))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            BODY_TIMEOUT,
        ))
        .with_state(state)
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

    #[test]
    fn loopback_bind_accepts_only_loopback_names() {
        let p = HostPolicy::new("127.0.0.1", &[], "");
        assert!(p.allows("127.0.0.1:8765"));
        assert!(p.allows("localhost"));
        assert!(p.allows("[::1]:80"));
        assert!(!p.allows("evil.example"));
        assert!(!p.allows("10.0.0.5"));
        // Malformed values are refused, not trimmed into something acceptable.
        for bad in [
            "[::1]evil",
            "[::1]:80x",
            "localhost:",
            "local host",
            "[::1",
            "127.0.0.1:99999x",
            "",
        ] {
            assert!(!p.allows(bad), "{bad:?}");
        }
        assert!(p.allows("[::1]"));
        assert_eq!(
            parse_host("Example.COM:8443").as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn wildcard_bind_accepts_ips_hostname_and_configured_names() {
        let p = HostPolicy::new(
            "0.0.0.0",
            &["mcp.corp.example".into()],
            "https://pub.example:8443/x",
        );
        assert!(p.allows("10.0.0.5:8765"));
        assert!(p.allows("mcp.corp.example"));
        assert!(p.allows("pub.example"));
        assert!(!p.allows("evil.example"));
        let any = HostPolicy::new("0.0.0.0", &["*".into()], "");
        assert!(any.allows("evil.example"));
    }

    #[test]
    fn request_id_is_validated() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(
            "x-request-id",
            HeaderValue::from_str(&"a".repeat(200)).unwrap(),
        );
        assert_eq!(request_id(&h).len(), 32);
    }
}
