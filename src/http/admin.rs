//! The admin API: list, create and revoke client tokens (`/admin/tokens`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::admin_auth;
use super::reply::detail;
use crate::state::AppState;
use crate::tokens::{Role, TokenError};

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

pub(super) async fn list(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Response {
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

pub(super) async fn create(
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
        Ok(Err(e @ TokenError::NameTaken { .. })) => detail(StatusCode::CONFLICT, &e.to_string()),
        Ok(Err(e)) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => detail(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub(super) async fn revoke(
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
