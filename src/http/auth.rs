//! Request admission: Host/Origin checks, bearer authentication for `/mcp` (which puts the
//! [`Caller`] into the request) and for the admin API.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::reply::{detail, oauth_challenge, unauthorized};
use crate::caller::{Caller, Identity};
use crate::hosts::url_host;
use crate::oauth::OAuthError;
use crate::state::AppState;
use crate::tokens::Role;

/// Refuse foreign `Host` and `Origin` headers (DNS rebinding from a browser). An origin listed
/// in `MYMCP_CORS_ORIGINS` is not foreign: the operator allowed it by name.
pub(super) async fn host_origin_check(
    State(st): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
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
    if let Some(origin) = headers.get(header::ORIGIN)
        && super::cors::listed_origin(&st, headers).is_none()
    {
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

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
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
    let own = if st.tls.is_some() { "https" } else { "http" };
    let mut scheme = uri.scheme_str().unwrap_or(own).to_string();
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
pub(super) fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| (0x21..0x7f).contains(&b)))
        .map(String::from)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 16]>()))
}

/// Authenticate an `/mcp` request by its bearer token and put the [`Caller`] into it; the
/// reply carries the request id.
pub(super) async fn mcp_auth(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let base_url = base_url(&st, req.headers(), req.uri());
    let (identity, role) = match authenticate(&st, bearer(req.headers()), &base_url).await {
        Ok(who) => who,
        Err(refusal) => return refusal,
    };
    let rid = request_id(req.headers());
    req.extensions_mut().insert(Caller {
        identity,
        role,
        ip: peer.ip(),
        request_id: rid.clone(),
        base_url,
    });
    let mut resp = next.run(req).await;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

/// Who the bearer token speaks for: a static token from the token file (unless
/// `MYMCP_STATIC_TOKENS=false`), else an OAuth access token (when `MYMCP_OAUTH_ISSUER` is set).
/// A refusal is the 401/403 to send, with the challenge that tells an OAuth client where to
/// get a token.
async fn authenticate(
    st: &AppState,
    token: Option<&str>,
    base_url: &str,
) -> Result<(Identity, Role), Response> {
    let count = |method: &str, result: &str| {
        st.metrics.auth.with_label_values(&[method, result]).inc();
    };
    let Some(o) = &st.oauth else {
        let Some(tok) = token else {
            count("none", "missing");
            return Err(unauthorized("Missing Bearer token", false));
        };
        return match st.tokens.authenticate(tok) {
            Some(p) => {
                count("static", "ok");
                Ok(static_caller(p))
            }
            None => {
                count("static", "invalid");
                Err(unauthorized("Invalid or disabled token", true))
            }
        };
    };
    let settings = o.settings();
    let metadata_url = format!("{base_url}{RESOURCE_METADATA_PATH}");
    let challenge = |status, msg: &str, error| {
        oauth_challenge(status, msg, &metadata_url, &settings.scope_ro, error)
    };
    let Some(tok) = token else {
        count("none", "missing");
        return Err(challenge(
            StatusCode::UNAUTHORIZED,
            "Missing Bearer token",
            None,
        ));
    };
    if st.config.static_tokens
        && let Some(p) = st.tokens.authenticate(tok)
    {
        count("static", "ok");
        return Ok(static_caller(p));
    }
    match o.authenticate(tok).await {
        Ok(p) => {
            count("oauth", "ok");
            Ok((
                Identity::OAuth {
                    name: format!("oauth:{}", p.sub),
                    client_id: p.client_id,
                },
                p.role,
            ))
        }
        Err(e) => {
            count("oauth", e.reason());
            tracing::info!(reason = e.reason(), error = %e, "refused an OAuth access token");
            Err(match e {
                OAuthError::InsufficientScope { .. } => challenge(
                    StatusCode::FORBIDDEN,
                    &e.to_string(),
                    Some("insufficient_scope"),
                ),
                _ => challenge(
                    StatusCode::UNAUTHORIZED,
                    &format!("Invalid token: {e}"),
                    Some("invalid_token"),
                ),
            })
        }
    }
}

/// The identity and role of a client token from the token file.
fn static_caller(p: crate::tokens::Principal) -> (Identity, Role) {
    (
        Identity::StaticToken {
            name: p.name,
            id: p.id,
        },
        p.role,
    )
}

/// Where this server's RFC 9728 metadata for `/mcp` is (the path-suffixed form of §3.1).
pub(super) const RESOURCE_METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

/// `None` when the caller holds the admin token, else the 401/403 response to send.
pub(super) fn admin_auth(st: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(tok) = bearer(headers) else {
        return Some(unauthorized("Missing Bearer token", false));
    };
    if !st.tokens.is_admin(tok) {
        return Some(detail(StatusCode::FORBIDDEN, "Admin token required"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
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
