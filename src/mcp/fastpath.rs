//! A fast path for the three requests that make up nearly all MCP traffic: `tools/call`,
//! `tools/list` and `ping`, when the reply is a single JSON object.
//!
//! rmcp serves each stateless request by building a service, spawning a task and passing
//! messages over channels; measured on the 2-core bench machine that is about half the cost
//! of a 1 KiB `read_file`. Requests that fit the plain shape below are answered here by the
//! very same handler code (`McpHandler::list_for` / `McpHandler::call`) and serialised with
//! rmcp's own result types, so the bytes match what rmcp would send (a test compares the
//! two). Everything else — `initialize`, notifications, `_meta` (progress tokens, the
//! 2026-07-28 per-request protocol), cursors, unknown methods, malformed JSON — goes to rmcp
//! untouched.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::caller::Caller;
use crate::mcp::McpHandler;

/// Protocol versions whose tools/list and tools/call replies are plain results.
const PLAIN_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// State of the fast-path middleware.
pub(crate) struct FastPath {
    /// The MCP handler (same code as the rmcp path).
    pub(crate) handler: McpHandler,
    /// Body cap for `/mcp`.
    pub(crate) limit: usize,
}

#[derive(Serialize)]
struct Reply<'a, T: Serialize> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: T,
}

fn eligible(headers: &HeaderMap) -> bool {
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let version_ok = match headers.get("mcp-protocol-version") {
        None => true,
        Some(v) => v.to_str().is_ok_and(|v| PLAIN_VERSIONS.contains(&v)),
    };
    let accept_ok = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && v.contains("text/event-stream"));
    json_ct && version_ok && accept_ok && !headers.contains_key("mcp-session-id")
}

/// Middleware: answer plain requests directly, hand the rest to rmcp.
pub(crate) async fn middleware(
    State(fp): State<Arc<FastPath>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || !eligible(req.headers()) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, fp.limit).await {
        Ok(b) => b,
        Err(e) => {
            let too_big = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            let (status, msg) = if too_big {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body exceeds {} bytes", fp.limit),
                )
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("cannot read request body: {e}"),
                )
            };
            return (
                status,
                [(header::CONNECTION, "close")],
                axum::Json(json!({ "detail": msg })),
            )
                .into_response();
        }
    };
    let caller = parts.extensions.get::<Caller>().cloned();
    if let Some(caller) = caller
        && let Some(resp) = answer(&fp.handler, &caller, &bytes).await
    {
        return resp;
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn answer(h: &McpHandler, caller: &Caller, body: &[u8]) -> Option<Response> {
    let Ok(Value::Object(mut msg)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let id = msg.remove("id")?;
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return None;
    }
    let params = match msg.remove("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => return None,
    };
    let method = msg.get("method").and_then(Value::as_str)?;
    let bytes = match method {
        "ping" if params.is_empty() => serde_json::to_vec(&Reply {
            jsonrpc: "2.0",
            id: &id,
            result: json!({}),
        }),
        "tools/list" if params.is_empty() => {
            let mut result = h.list_for(caller.role);
            // Pre-2026 peers get no resultType, as rmcp's strip_result_type_for_legacy_peer.
            result.result_type = None;
            serde_json::to_vec(&Reply {
                jsonrpc: "2.0",
                id: &id,
                result,
            })
        }
        "tools/call" => {
            let mut params = params;
            if params.keys().any(|k| k != "name" && k != "arguments") {
                return None;
            }
            let Some(Value::String(name)) = params.remove("name") else {
                return None;
            };
            let args = match params.remove("arguments") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(a)) => a,
                Some(_) => return None,
            };
            let mut result = h.call(caller, &name, args, None).await;
            result.result_type = None;
            serde_json::to_vec(&Reply {
                jsonrpc: "2.0",
                id: &id,
                result,
            })
        }
        _ => return None,
    };
    let bytes = bytes.ok()?;
    Some(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}
