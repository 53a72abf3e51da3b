//! MCP tasks as the 2025-11-25 protocol has them: a `tools/call` of `bash_execute` with a
//! `task` parameter runs as a background job and answers at once with the task; `tasks/get`,
//! `tasks/result`, `tasks/list` and `tasks/cancel` read and stop it. The task id is the job id,
//! so a task is also visible to `job_list`.
//!
//! rmcp 3.11 implements only the later tasks extension (SEP-2663, protocol 2026-07-28) and has
//! no types for these methods, so they are answered here, in the fast path, for requests that
//! speak 2025-11-25 or earlier. Requests under 2026-07-28 go to rmcp untouched.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::caller::Caller;
use crate::error::ToolError;
use crate::mcp::{McpHandler, Stop, envelope};
use crate::tools::jobs::{JobInfo, Status};

/// The protocol revision whose tasks these are.
pub(crate) const VERSION: &str = "2025-11-25";

/// The one tool that can run as a task: the others answer in well under a request's time.
pub(crate) const TASK_TOOL: &str = "bash_execute";

/// How often a client should ask `tasks/get`, in milliseconds.
const POLL_INTERVAL_MS: u64 = 1000;

/// Where the related task goes in a `tasks/result`'s `_meta`.
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

/// The reply to `msg` if it is a task request (`tasks/*`, or a task-augmented call of the
/// task tool), else `None` for the usual paths.
pub(crate) async fn answer(h: &McpHandler, caller: &Caller, msg: &Value) -> Option<Value> {
    let method = msg.get("method").and_then(Value::as_str)?;
    let id = envelope::id_of(msg)?.clone();
    let params = msg.get("params").and_then(Value::as_object);
    let task_id = || {
        params
            .and_then(|p| p.get("taskId"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let jobs = &h.state.tools.bash.jobs;
    let ttl_ms = jobs.limits().retention.as_millis() as u64;
    let outcome = match method {
        "tools/call" => {
            let p = params?;
            if !p.get("task").is_some_and(Value::is_object)
                || p.get("name").and_then(Value::as_str) != Some(TASK_TOOL)
            {
                return None;
            }
            create(h, caller, &id, p, ttl_ms).await
        }
        "tasks/get" => jobs
            .info(caller, task_id())
            .map(|i| Value::Object(task(&i, ttl_ms))),
        "tasks/list" => Ok(json!({
            "tasks": jobs
                .infos(caller)
                .iter()
                .map(|i| Value::Object(task(i, ttl_ms)))
                .collect::<Vec<_>>()
        })),
        "tasks/cancel" => match cancel_audited(h, caller, task_id()) {
            Ok(true) => jobs
                .info(caller, task_id())
                .map(|i| Value::Object(task(&i, ttl_ms))),
            Ok(false) => {
                return Some(envelope::error(
                    id,
                    envelope::INVALID_PARAMS,
                    "Cannot cancel task: it has already finished",
                ));
            }
            Err(e) => Err(e),
        },
        "tasks/result" => {
            let cap = h.state.tools.limits.bash_output as usize;
            let never = CancellationToken::new();
            jobs.finish(caller, task_id(), cap, &never)
                .await
                .map(|(info, stdout, stderr)| result(&info, stdout, stderr))
        }
        _ => return None,
    };
    Some(match outcome {
        Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
        Err(ToolError::JobNotFound(_)) => envelope::error(
            id,
            envelope::INVALID_PARAMS,
            "Task not found (unknown, another caller's, or forgotten after its retention)",
        ),
        Err(e) => envelope::error(id, envelope::INVALID_PARAMS, &e.to_string()),
    })
}

/// Add `execution.taskSupport: "optional"` to the task tool in a `tools/list` result: what a
/// 2025-11-25 client reads to know it may ask for a task (rmcp's `Tool` has no such field).
pub(crate) fn mark_task_tools(list: &mut Value) {
    let Some(tools) = list.get_mut("tools").and_then(Value::as_array_mut) else {
        return;
    };
    for t in tools {
        if t.get("name").and_then(Value::as_str) == Some(TASK_TOOL)
            && let Some(o) = t.as_object_mut()
        {
            o.insert("execution".into(), json!({"taskSupport": "optional"}));
        }
    }
}

/// Add the `tasks` capability to an `initialize` reply that settled on 2025-11-25 (rmcp's
/// capabilities have no field for it). Any other reply passes through unchanged.
pub(crate) async fn advertise(resp: Response, limit: usize) -> Response {
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json || resp.status() != StatusCode::OK {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "initialize reply unreadable",
        )
            .into_response();
    };
    let mut v: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    if v.pointer("/result/protocolVersion").and_then(Value::as_str) != Some(VERSION) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    if let Some(caps) = v
        .pointer_mut("/result/capabilities")
        .and_then(Value::as_object_mut)
    {
        caps.insert(
            "tasks".into(),
            json!({"list": {}, "cancel": {}, "requests": {"tools": {"call": {}}}}),
        );
    }
    let out = serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

/// A 2025-11-25 task-augmented call: the job as `{"task": Task}`.
async fn create(
    h: &McpHandler,
    caller: &Caller,
    id: &Value,
    p: &Map<String, Value>,
    ttl_ms: u64,
) -> Result<Value, ToolError> {
    let args = match p.get("arguments") {
        Some(Value::Object(a)) => a.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => {
            return Err(ToolError::InvalidArguments(
                "arguments must be an object".into(),
            ));
        }
    };
    let info = start(h, caller, id, args).await?;
    Ok(json!({ "task": Value::Object(task(&info, ttl_ms)) }))
}

/// Run the call as a job through the usual pipeline (role check, validation, the audit line
/// with `background: true`).
async fn start(
    h: &McpHandler,
    caller: &Caller,
    id: &Value,
    mut args: Map<String, Value>,
) -> Result<JobInfo, ToolError> {
    args.insert("background".into(), Value::Bool(true));
    args.remove("detach_after");
    let stop = Stop {
        token: CancellationToken::new(),
        request_id: Some(id.clone()),
    };
    let r = h.call(caller, TASK_TOOL, args, None, stop).await;
    let body: Value = r
        .content
        .first()
        .and_then(|c| c.as_text())
        .and_then(|t| serde_json::from_str(&t.text).ok())
        .unwrap_or(Value::Null);
    if r.is_error == Some(true) {
        let message = body["message"].as_str().unwrap_or("the call failed");
        return Err(ToolError::InvalidArguments(message.to_string()));
    }
    let job_id = body["job_id"].as_str().unwrap_or("");
    h.state.tools.bash.jobs.info(caller, job_id)
}

/// The tasks extension of protocol 2026-07-28 (SEP-2663), served through rmcp: a call of the
/// task tool from a client that declared the extension becomes a job.
pub(crate) async fn create_extension_task(
    h: &McpHandler,
    caller: &Caller,
    id: &Value,
    args: Map<String, Value>,
) -> Result<rmcp::model::CreateTaskResult, rmcp::ErrorData> {
    let info = start(h, caller, id, args)
        .await
        .map_err(|e| rmcp::ErrorData::invalid_params(e.to_string(), None))?;
    Ok(rmcp::model::CreateTaskResult::new(extension_task(h, &info)))
}

/// SEP-2663 `tasks/get`: the task, with the tool's result once it ended.
pub(crate) fn get_extension_task(
    h: &McpHandler,
    caller: &Caller,
    task_id: &str,
) -> Result<rmcp::model::GetTaskResult, rmcp::ErrorData> {
    use rmcp::model::{DetailedTask, GetTaskResult, TaskPayload};
    let cap = h.state.tools.limits.bash_output as usize;
    let (info, out) = h
        .state
        .tools
        .bash
        .jobs
        .info_with_result(caller, task_id, cap)
        .map_err(not_found)?;
    let payload = match (info.cancelled, out) {
        (true, _) => TaskPayload::Cancelled,
        (false, None) => TaskPayload::Working,
        (false, Some((stdout, stderr))) => match result(&info, stdout, stderr) {
            Value::Object(result) => TaskPayload::Completed { result },
            _ => TaskPayload::Working,
        },
    };
    Ok(GetTaskResult::new(DetailedTask::new(
        extension_task(h, &info),
        payload,
    )))
}

/// SEP-2663 `tasks/cancel`: SIGTERM to the job; the ack is empty, `tasks/get` shows the rest.
pub(crate) fn cancel_extension_task(
    h: &McpHandler,
    caller: &Caller,
    task_id: &str,
) -> Result<(), rmcp::ErrorData> {
    match cancel_audited(h, caller, task_id) {
        Ok(true) => Ok(()),
        Ok(false) => Err(rmcp::ErrorData::invalid_params(
            "Cannot cancel task: it has already finished",
            None,
        )),
        Err(e) => Err(not_found(e)),
    }
}

/// Cancel `caller`'s task: it signals a process group, so it leaves an audit line as
/// `job_kill` does (`tool: "tasks/cancel"`), whatever the outcome.
fn cancel_audited(h: &McpHandler, caller: &Caller, task_id: &str) -> Result<bool, ToolError> {
    let r = h.state.tools.bash.jobs.cancel_task(caller, task_id);
    if h.state.audit.enabled() {
        let (result, code) = match &r {
            Ok(true) => ("ok", None),
            Ok(false) => ("error", Some("TaskFinished")),
            Err(e) => ("error", Some(e.code())),
        };
        let params = json!({ "taskId": crate::audit::cap_str(task_id) });
        let mut record = crate::audit::Record::for_call(caller, "tasks/cancel", params, result);
        record.error_code = code.map(str::to_string);
        // A failure is counted and logged by write_audit.
        let _ = h.state.write_audit(&record);
    }
    r
}

fn not_found(_: ToolError) -> rmcp::ErrorData {
    rmcp::ErrorData::invalid_params(
        "Task not found (unknown, another caller's, or forgotten after its retention)",
        None,
    )
}

/// A job as rmcp's SEP-2663 `Task` (the status is set from the payload by `DetailedTask`).
fn extension_task(h: &McpHandler, i: &JobInfo) -> rmcp::model::Task {
    let (status, message) = status_of(i);
    let status = match status {
        "cancelled" => rmcp::model::TaskStatus::Cancelled,
        "working" => rmcp::model::TaskStatus::Working,
        _ => rmcp::model::TaskStatus::Completed,
    };
    rmcp::model::Task::new(
        i.id.clone(),
        status,
        i.started_at.clone(),
        i.updated_at.clone(),
    )
    .with_status_message(message)
    .with_ttl_ms(h.state.tools.bash.jobs.limits().retention.as_millis() as u64)
    .with_poll_interval_ms(POLL_INTERVAL_MS)
}

/// A job's task status (`working`, `completed`, `cancelled`) and status message, the same
/// in both revisions.
fn status_of(i: &JobInfo) -> (&'static str, String) {
    match (i.cancelled, i.status) {
        (true, _) => ("cancelled", "cancelled with tasks/cancel".to_string()),
        (false, Status::Running) => ("working", "running".to_string()),
        (false, Status::TimedOut) => ("completed", "the job's time limit passed".to_string()),
        (false, Status::Killed) => ("completed", "ended after job_kill".to_string()),
        (false, Status::Exited) => (
            "completed",
            match (&i.signal, i.exit_code) {
                (Some(s), _) => format!("ended by {s}"),
                (None, Some(c)) => format!("exit code {c}"),
                (None, None) => "ended".to_string(),
            },
        ),
    }
}

/// A job as the `Task` object of the protocol.
fn task(i: &JobInfo, ttl_ms: u64) -> Map<String, Value> {
    let (status, message) = status_of(i);
    let mut m = Map::new();
    m.insert("taskId".into(), json!(i.id));
    m.insert("status".into(), json!(status));
    m.insert("statusMessage".into(), json!(message));
    m.insert("ttl".into(), json!(ttl_ms));
    m.insert("createdAt".into(), json!(i.started_at));
    m.insert("lastUpdatedAt".into(), json!(i.updated_at));
    m.insert("pollInterval".into(), json!(POLL_INTERVAL_MS));
    m
}

/// The `CallToolResult` of a finished job: the same JSON a foreground `bash_execute` returns.
fn result(i: &JobInfo, stdout: String, mut stderr: String) -> Value {
    let timed_out = i.status == Status::TimedOut;
    if timed_out {
        if !stderr.is_empty() && !stderr.ends_with('\n') {
            stderr.push('\n');
        }
        stderr.push_str("Command timed out (the job's limit)");
    }
    let mut body = json!({
        "exit_code": i.exit_code.unwrap_or(-1),
        "stdout": stdout,
        "stderr": stderr,
        "timed_out": timed_out,
    });
    if let (Some(s), Some(o)) = (&i.signal, body.as_object_mut()) {
        o.insert("signal".into(), json!(s));
    }
    json!({
        "content": [{"type": "text", "text": body.to_string()}],
        "isError": false,
        "_meta": { RELATED_TASK: { "taskId": i.id } },
    })
}
