//! Where rmcp's Streamable HTTP transport differs from what the reference's clients send or
//! expect, the request or response is adjusted here (and only here).

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::mcp::JsonOnly;

/// The `/mcp` layer between authentication and the MCP handlers: complete the `Accept`
/// header, and turn rmcp's 415 for unparseable JSON into the JSON-RPC parse error clients
/// expect.
pub(super) async fn middleware(mut req: Request, next: Next) -> Response {
    if !normalize_accept(req.headers_mut()) {
        req.extensions_mut().insert(JsonOnly);
    }
    let json_body = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let resp = next.run(req).await;
    if json_body && resp.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        parse_error(resp).await
    } else {
        resp
    }
}

/// rmcp insists on `Accept: application/json, text/event-stream`. The reference accepted a
/// request with no Accept header (plain `curl -d`), so a missing, `*/*` or JSON-only Accept is
/// completed here; the reply is JSON unless a tool streams progress. Returns whether the client
/// itself accepts an event stream: only an Accept that names `text/event-stream` (or `text/*`)
/// does; a missing Accept or a bare `*/*` (curl's default) keeps plain JSON.
fn normalize_accept(headers: &mut HeaderMap) -> bool {
    let cur = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = cur.contains("application/json");
    let sse = cur.contains("text/event-stream") || cur.contains("text/*");
    let wildcard = cur.is_empty() || cur.contains("*/*") || cur.contains("application/*");
    if (json || wildcard) && !(json && cur.contains("text/event-stream")) {
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/event-stream"),
        );
    }
    sse
}

/// rmcp answers unparseable JSON with 415 and a text body; clients expect -32700.
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
                "message": format!("Parse error: the body is not JSON ({why})"),
            }
        })),
    )
        .into_response()
}
