//! JSON-RPC envelope checks, made before rmcp sees a message because rmcp reports these cases
//! with the wrong code: a well-formed message that is not a valid request (`"id": null`, no
//! `"jsonrpc"`) came back as -32700 Parse error, and a `tools/call` whose params are not
//! `{name, arguments}` as -32601 Method not found. JSON-RPC 2.0 says -32600 Invalid Request and
//! -32602 Invalid params.

use serde_json::{Value, json};

/// JSON-RPC: the input is not JSON.
pub(crate) const PARSE_ERROR: i64 = -32700;
/// JSON-RPC: the message is not a valid request object.
pub(crate) const INVALID_REQUEST: i64 = -32600;
/// JSON-RPC: the method exists but its params are wrong.
pub(crate) const INVALID_PARAMS: i64 = -32602;
/// JSON-RPC: an error inside the server.
pub(crate) const INTERNAL_ERROR: i64 = -32603;

/// A JSON-RPC error message.
pub(crate) fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// An id a request may carry: a string or an integer (fractions are refused as rmcp does).
fn valid_id(id: &Value) -> bool {
    match id {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

/// The request id of a message, when it has a valid one.
pub(crate) fn id_of(msg: &Value) -> Option<&Value> {
    msg.get("id").filter(|id| valid_id(id))
}

/// Is this a notification (a request without an id)?
pub(crate) fn is_notification(msg: &Value) -> bool {
    msg.get("method").is_some() && msg.get("id").is_none()
}

/// The error reply for a message that must not reach rmcp, or `None` to let it through.
/// A refused message with a valid id is answered with that id; otherwise the id is null.
pub(crate) fn check(msg: &Value) -> Option<Value> {
    let Value::Object(m) = msg else {
        return Some(error(
            Value::Null,
            INVALID_REQUEST,
            "Invalid Request: a JSON-RPC message is an object",
        ));
    };
    let id = m.get("id");
    let reply_id = id.filter(|i| valid_id(i)).cloned().unwrap_or(Value::Null);
    if m.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Some(error(
            reply_id,
            INVALID_REQUEST,
            r#"Invalid Request: "jsonrpc" must be "2.0""#,
        ));
    }
    if id.is_some_and(|i| !valid_id(i)) {
        return Some(error(
            Value::Null,
            INVALID_REQUEST,
            r#"Invalid Request: "id" must be a string or an integer"#,
        ));
    }
    // No method: a response from the client; rmcp answers those.
    let method = m.get("method")?;
    let Some(method) = method.as_str() else {
        return Some(error(
            reply_id,
            INVALID_REQUEST,
            r#"Invalid Request: "method" must be a string"#,
        ));
    };
    if method == "tools/call" && id.is_some() {
        let problem = match m.get("params") {
            Some(Value::Object(p)) => match (p.get("name"), p.get("arguments")) {
                (Some(Value::String(_)), None | Some(Value::Null | Value::Object(_))) => None,
                (Some(Value::String(_)), Some(_)) => Some(r#""arguments" must be an object"#),
                _ => Some(r#""name" (a string) is required"#),
            },
            _ => Some(r#"params must be an object with "name" and "arguments""#),
        };
        if let Some(p) = problem {
            return Some(error(
                reply_id,
                INVALID_PARAMS,
                &format!("Invalid params: {p}"),
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(msg: Value) -> Option<(i64, Value)> {
        check(&msg).map(|e| (e["error"]["code"].as_i64().unwrap_or(0), e["id"].clone()))
    }

    #[test]
    fn valid_messages_pass_and_each_defect_gets_its_code() {
        let call =
            |params: Value| json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":params});
        assert_eq!(code(call(json!({"name":"glob","arguments":{}}))), None);
        assert_eq!(code(call(json!({"name":"glob"}))), None);
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":"a","method":"tools/list"})),
            None
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","method":"notifications/initialized"})),
            None
        );
        assert_eq!(code(json!({"jsonrpc":"2.0","id":1,"result":{}})), None);

        assert_eq!(
            code(call(json!({"name":"glob","arguments":"x"}))),
            Some((-32602, json!(7)))
        );
        assert_eq!(
            code(call(json!({"arguments":{}}))),
            Some((-32602, json!(7)))
        );
        assert_eq!(code(call(json!("x"))), Some((-32602, json!(7))));
        assert_eq!(code(call(json!({"name":5}))), Some((-32602, json!(7))));

        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":null,"method":"tools/list"})),
            Some((-32600, Value::Null))
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":1.5,"method":"tools/list"})),
            Some((-32600, Value::Null))
        );
        assert_eq!(
            code(json!({"id":3,"method":"tools/list"})),
            Some((-32600, json!(3)))
        );
        assert_eq!(
            code(json!({"jsonrpc":"1.0","id":3,"method":"tools/list"})),
            Some((-32600, json!(3)))
        );
        assert_eq!(
            code(json!({"jsonrpc":"2.0","id":3,"method":5})),
            Some((-32600, json!(3)))
        );
        assert_eq!(code(json!(5)), Some((-32600, Value::Null)));
    }
}
