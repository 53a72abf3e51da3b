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

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::caller::Caller;
use crate::mcp::{JsonOnly, McpHandler, Stop, envelope};

/// Protocol versions whose tools/list and tools/call replies are plain results.
const PLAIN_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The only protocol revision with JSON-RPC batches (2025-06-18 removed them). A request
/// without `MCP-Protocol-Version` is taken to speak it, as the specification says.
const BATCH_VERSION: &str = "2025-03-26";

/// Most elements one batch may hold. The elements run one after another inside one HTTP
/// request, so an unbounded batch would let one request occupy the server for as long as
/// its sender likes.
const BATCH_MAX: usize = 100;

/// State of the fast-path middleware.
pub(crate) struct FastPath {
    /// The MCP handler (same code as the rmcp path).
    pub(crate) handler: McpHandler,
    /// Body cap for `/mcp`.
    pub(crate) limit: usize,
    /// rmcp's service, for the elements of a batch the fast path does not answer itself.
    pub(crate) rmcp: BoxCloneSyncService<Request, Response, Infallible>,
}

#[derive(Serialize)]
struct Reply<'a, T: Serialize> {
    jsonrpc: &'static str,
    id: &'a Value,
    result: T,
}

fn json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// No `MCP-Protocol-Version`, or one whose results are plain (2025-11-25 and before).
fn plain_version(headers: &HeaderMap) -> bool {
    match headers.get("mcp-protocol-version") {
        None => true,
        Some(v) => v.to_str().is_ok_and(|v| PLAIN_VERSIONS.contains(&v)),
    }
}

fn eligible(headers: &HeaderMap) -> bool {
    let json_ct = json_body(headers);
    let version_ok = plain_version(headers);
    let accept_ok = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && v.contains("text/event-stream"));
    json_ct && version_ok && accept_ok && !headers.contains_key("mcp-session-id")
}

/// Middleware: refuse malformed envelopes with the right JSON-RPC code, answer batches (2025-03-26)
/// and plain requests directly, hand the rest to rmcp.
pub(crate) async fn middleware(
    State(fp): State<Arc<FastPath>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() != Method::POST || !json_body(req.headers()) {
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
    // Unparseable JSON goes on to rmcp, whose refusal becomes -32700 in the Accept shim.
    let Ok(msg) = serde_json::from_slice::<Value>(&bytes) else {
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    };
    if let Value::Array(items) = msg {
        return batch(&fp, parts, items).await;
    }
    if let Some(err) = envelope::check(&msg) {
        return error_reply(&err);
    }
    let caller = parts.extensions.get::<Caller>().cloned();
    if let Some(caller) = &caller
        && cancel_named_call(&fp.handler, caller, &msg)
    {
        return StatusCode::ACCEPTED.into_response();
    }
    if let Some(caller) = &caller
        && plain_version(&parts.headers)
        && let Some(reply) = crate::mcp::tasks::answer(&fp.handler, caller, &msg).await
    {
        return axum::Json(reply).into_response();
    }
    let tasks_version = parts
        .headers
        .get("mcp-protocol-version")
        .is_some_and(|v| v == crate::mcp::tasks::VERSION);
    let initialize = msg.get("method").and_then(Value::as_str) == Some("initialize");
    if eligible(&parts.headers)
        && let Some(caller) = caller
        && let Some(bytes) = answer(&fp.handler, &caller, msg, tasks_version).await
    {
        return json_reply(bytes);
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if initialize {
        return crate::mcp::tasks::advertise(resp, fp.limit).await;
    }
    resp
}

fn json_reply(bytes: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// A refused envelope: 400 when there is no valid request to answer (-32600), else 200 with the
/// error as the request's reply (-32602).
fn error_reply(err: &Value) -> Response {
    let status = if err["error"]["code"] == envelope::INVALID_REQUEST {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, axum::Json(err)).into_response()
}

/// A JSON-RPC batch. Under 2025-03-26 each element is answered as if it came alone (the fast
/// path, else rmcp, never with an event stream), notifications get no entry, and the replies go
/// back as one array (202 and no body when there is none). Other revisions have no batches.
async fn batch(fp: &FastPath, parts: http::request::Parts, items: Vec<Value>) -> Response {
    let version = parts
        .headers
        .get("mcp-protocol-version")
        .map(|v| v.to_str().unwrap_or(""));
    if version.is_some_and(|v| v != BATCH_VERSION) {
        return error_reply(&envelope::error(
            Value::Null,
            envelope::INVALID_REQUEST,
            "Invalid Request: JSON-RPC batches exist only in MCP 2025-03-26",
        ));
    }
    if items.is_empty() || items.len() > BATCH_MAX {
        return error_reply(&envelope::error(
            Value::Null,
            envelope::INVALID_REQUEST,
            &format!(
                "Invalid Request: a batch holds 1 to {BATCH_MAX} messages, this one {}",
                items.len()
            ),
        ));
    }
    let caller = parts.extensions.get::<Caller>().cloned();
    let mut replies = Vec::with_capacity(items.len());
    for item in items {
        if let Some(err) = envelope::check(&item) {
            replies.push(err);
            continue;
        }
        let notification = envelope::is_notification(&item);
        if let Some(caller) = &caller
            && cancel_named_call(&fp.handler, caller, &item)
        {
            continue;
        }
        let id = envelope::id_of(&item).cloned().unwrap_or(Value::Null);
        if !notification
            && let Some(caller) = &caller
            && let Some(bytes) = answer(&fp.handler, caller, item.clone(), false).await
        {
            match serde_json::from_slice(&bytes) {
                Ok(v) => replies.push(v),
                Err(_) => replies.push(internal(id)),
            }
            continue;
        }
        let mut p = parts.clone();
        p.extensions.insert(JsonOnly);
        let body = Body::from(item.to_string());
        let resp = match fp.rmcp.clone().oneshot(Request::from_parts(p, body)).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        if notification || resp.status() == StatusCode::ACCEPTED {
            continue;
        }
        let reply = axum::body::to_bytes(resp.into_body(), fp.limit)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        replies.push(reply.unwrap_or_else(|| internal(id)));
    }
    if replies.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    axum::Json(Value::Array(replies)).into_response()
}

/// If `msg` is a `notifications/cancelled` naming a request, stop `caller`'s call with that id
/// (if it has one in flight) and return true: the notification is handled. rmcp's stateless
/// transport would answer it 202 and drop it, since it cannot know which request, sent on
/// which connection, the id belongs to.
fn cancel_named_call(h: &McpHandler, caller: &Caller, msg: &Value) -> bool {
    if !envelope::is_notification(msg)
        || msg.get("method").and_then(Value::as_str) != Some("notifications/cancelled")
    {
        return false;
    }
    let Some(id) = msg
        .pointer("/params/requestId")
        .filter(|id| id.is_string() || id.is_i64() || id.is_u64())
    else {
        return false;
    };
    let reason = msg.pointer("/params/reason").and_then(Value::as_str);
    h.cancel_request(caller, id, reason);
    true
}

fn internal(id: Value) -> Value {
    envelope::error(
        id,
        envelope::INTERNAL_ERROR,
        "Internal error: no JSON reply for this batch element",
    )
}

/// The reply bytes for a plain `ping`, `tools/list` or `tools/call`, or `None` when the message
/// needs rmcp.
async fn answer(
    h: &McpHandler,
    caller: &Caller,
    msg: Value,
    tasks_version: bool,
) -> Option<Vec<u8>> {
    let Value::Object(mut msg) = msg else {
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
            if tasks_version {
                // A `Value` orders keys differently from rmcp's types: only for these clients.
                let mut result = serde_json::to_value(result).ok()?;
                crate::mcp::tasks::mark_task_tools(&mut result);
                serde_json::to_vec(&Reply {
                    jsonrpc: "2.0",
                    id: &id,
                    result,
                })
            } else {
                serde_json::to_vec(&Reply {
                    jsonrpc: "2.0",
                    id: &id,
                    result,
                })
            }
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
            let stop = Stop {
                token: tokio_util::sync::CancellationToken::new(),
                request_id: Some(id.clone()),
            };
            let mut result = h.call(caller, &name, args, None, stop).await;
            result.result_type = None;
            serde_json::to_vec(&Reply {
                jsonrpc: "2.0",
                id: &id,
                result,
            })
        }
        _ => return None,
    };
    bytes.ok()
}
