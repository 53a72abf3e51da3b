//! The rmcp handler: role-filtered `tools/list`, and `tools/call` with role check, schema
//! validation, panic containment and logging. Every failure is a tool result with
//! `isError: true` and the reference's JSON body.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, ToolAnnotations,
};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::{Peer, RequestContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;

pub(crate) mod envelope;
pub(crate) mod fastpath;
pub(crate) mod tasks;

use crate::audit::Record;
use crate::caller::Caller;
use crate::error::ToolError;
use crate::state::AppState;
use crate::tokens::Role;
use crate::tools::bash::ProgressSink;
use crate::tools::{self, Context, Tool};

/// Sends MCP progress notifications for one call (the client asked with a `progressToken`).
struct PeerProgress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl ProgressSink for PeerProgress {
    fn update(&self, bytes: u64, last_line: String) {
        let mut p = ProgressNotificationParam::new(self.token.clone(), bytes as f64);
        p.message = Some(if last_line.is_empty() {
            format!("{bytes} bytes of output so far")
        } else {
            format!("{bytes} bytes of output so far; latest: {last_line}")
        });
        let peer = self.peer.clone();
        // Fire and forget: a slow client must not stall the command.
        tokio::spawn(async move {
            let _ = peer.notify_progress(p).await;
        });
    }
}

/// How a call can be stopped from outside: the token whose cancellation stops it, and the
/// JSON-RPC id a `notifications/cancelled` from the same caller would name.
pub(crate) struct Stop {
    /// Cancelled by the transport (rmcp's per-request token) or by a matching cancel.
    pub(crate) token: tokio_util::sync::CancellationToken,
    /// The request's id; `None` when there is none to cancel by.
    pub(crate) request_id: Option<Value>,
}

/// Request marker: the client's `Accept` does not allow `text/event-stream` (it named only
/// JSON, or sent no `Accept`). Such a call gets no progress notifications, because the first
/// one would switch rmcp's reply to an event stream the client did not ask for.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JsonOnly;

/// Server name reported in `initialize`, as the reference.
pub(crate) const SERVER_NAME: &str = "linux-server";

/// One handler value per HTTP request (rmcp's stateless mode); cheap to clone.
#[derive(Clone)]
pub(crate) struct McpHandler {
    state: Arc<AppState>,
    tools: Arc<Vec<rmcp::model::Tool>>,
    /// Set for `mymcp stdio`: the one caller every request comes from.
    local: Option<Arc<Caller>>,
}

impl McpHandler {
    /// Build the handler and the static tool list once.
    pub(crate) fn new(state: Arc<AppState>) -> Self {
        let tools = Tool::ALL
            .iter()
            .map(|t| {
                let schema = t.input_schema().as_object().cloned().unwrap_or_default();
                let a = t.annotations();
                let tool = rmcp::model::Tool::new(t.name(), t.description(), Arc::new(schema));
                tool.with_annotations(
                    ToolAnnotations::new()
                        .read_only(a.read_only)
                        .destructive(a.destructive)
                        .idempotent(a.idempotent)
                        .open_world(a.open_world),
                )
            })
            .collect();
        Self {
            state,
            tools: Arc::new(tools),
            local: None,
        }
    }

    /// A handler whose every call comes from one local caller (`mymcp stdio`).
    pub(crate) fn local(state: Arc<AppState>, caller: Caller) -> Self {
        Self {
            local: Some(Arc::new(caller)),
            ..Self::new(state)
        }
    }

    /// The caller of this request: the one the HTTP auth layer put into it, else the local
    /// caller with a fresh request id (stdio has no request headers to take one from).
    fn caller_of(&self, ctx: &RequestContext<RoleServer>) -> Result<Caller, ErrorData> {
        if let Some(c) = ctx
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>())
        {
            return Ok(c.clone());
        }
        match &self.local {
            Some(c) => Ok(Caller {
                request_id: hex::encode(rand::random::<[u8; 16]>()),
                ..Caller::clone(c)
            }),
            None => Err(ErrorData::internal_error("no authenticated caller", None)),
        }
    }
}

/// Turn a tool's outcome into the wire result (one text block holding compact JSON).
pub(crate) fn to_result(outcome: &Result<Value, ToolError>) -> CallToolResult {
    match outcome {
        Ok(v) => CallToolResult::success(vec![ContentBlock::text(v.to_string())]),
        Err(e) => CallToolResult::error(vec![ContentBlock::text(e.to_json().to_string())]),
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "Tools to operate this Linux host. Paths must be absolute. Results are JSON \
                 objects; failures carry success=false, an error code and a message.",
        )
    }

    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        tasks::get_extension_task(self, &self.caller_of(&ctx)?, &request.task_id)
    }

    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        tasks::cancel_extension_task(self, &self.caller_of(&ctx)?, &request.task_id)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(self.list_for(self.caller_of(&ctx)?.role))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let caller = self.caller_of(&ctx)?;
        let args = request.arguments.unwrap_or_default();
        if request.name == tasks::TASK_TOOL
            && ctx
                .client_capabilities()
                .is_some_and(|c| c.supports_tasks())
        {
            let id = serde_json::to_value(&ctx.id).unwrap_or(Value::Null);
            return tasks::create_extension_task(self, &caller, &id, args)
                .await
                .map(CallToolResponse::Task);
        }
        let json_only = ctx
            .extensions
            .get::<http::request::Parts>()
            .is_some_and(|p| p.extensions.get::<JsonOnly>().is_some());
        // rmcp cancels `ctx.ct` when the HTTP request ends before its reply (any reply shape
        // or protocol version), and on stdio when the client sends `notifications/cancelled`.
        let stop = Stop {
            token: ctx.ct.child_token(),
            request_id: serde_json::to_value(&ctx.id).ok(),
        };
        let token = ctx.meta.get_progress_token().filter(|_| !json_only);
        let progress = token.map(|token| {
            Arc::new(PeerProgress {
                peer: ctx.peer.clone(),
                token,
            }) as Arc<dyn ProgressSink>
        });
        Ok(self
            .call(&caller, &request.name, args, progress, stop)
            .await
            .into())
    }
}

impl McpHandler {
    /// Whether `ro` callers get the confined shell.
    fn ro_shell(&self) -> bool {
        self.state.tools.ro_shell.is_some()
    }

    /// The tools a role may see. No cache hints: the list depends on the caller (rmcp then
    /// says "private" to peers that read hints).
    pub(crate) fn list_for(&self, role: Role) -> ListToolsResult {
        let tools = self
            .tools
            .iter()
            .filter(|t| Tool::from_name(&t.name).is_some_and(|s| s.allowed(role, self.ro_shell())))
            .cloned()
            .collect();
        ListToolsResult::with_all_items(tools)
    }

    /// Run one tool call for `caller` and log the outcome. Never fails: every failure is a
    /// tool result with `isError: true`.
    ///
    /// The call runs in a task of its own. The future returned here is what the transport
    /// drops when the client goes away (hyper drops it with the connection); dropping it
    /// cancels `stop.token`, and the task then stops the work the way a cancel should (a
    /// command gets SIGTERM, a grace, SIGKILL) and writes the call's audit line as
    /// `Cancelled`. A dropped future could do neither.
    pub(crate) async fn call(
        &self,
        caller: &Caller,
        name: &str,
        args: serde_json::Map<String, Value>,
        progress: Option<Arc<dyn ProgressSink>>,
        stop: Stop,
    ) -> CallToolResult {
        let cancel_on_drop = stop.token.clone().drop_guard();
        let registration = stop.request_id.as_ref().map(|id| {
            self.state
                .calls
                .register(caller.identity.id(), id, stop.token.clone())
        });
        let (me, caller, name) = (self.clone(), caller.clone(), name.to_string());
        let task = tokio::spawn(tracing::Instrument::instrument(
            async move {
                let _registration = registration;
                me.call_here(&caller, &name, args, progress, stop.token)
                    .await
            },
            tracing::Span::current(),
        ));
        let result = match task.await {
            Ok(r) => r,
            Err(e) => to_result(&Err(ToolError::Internal(format!(
                "the call failed with an unexpected error: {e}"
            )))),
        };
        cancel_on_drop.disarm();
        result
    }

    /// Stop `caller`'s call with JSON-RPC id `request_id` (a `notifications/cancelled` that
    /// reached us as its own HTTP request). Returns how many calls it stopped.
    pub(crate) fn cancel_request(
        &self,
        caller: &Caller,
        request_id: &Value,
        reason: Option<&str>,
    ) -> usize {
        let n = self.state.calls.cancel(caller.identity.id(), request_id);
        let id = crate::audit::loggable(&request_id.to_string());
        let reason = crate::audit::loggable(reason.unwrap_or(""));
        if n > 0 {
            tracing::info!(
                token = %caller.identity.name(), request_id = %caller.request_id,
                cancelled_id = %id, reason = %reason, "client cancelled a call; stopping it"
            );
        } else {
            tracing::debug!(
                token = %caller.identity.name(), cancelled_id = %id,
                "cancel for no call of this caller in flight (finished, unknown or another caller's)"
            );
        }
        n
    }

    /// [`McpHandler::call`]'s work, in its task.
    async fn call_here(
        &self,
        caller: &Caller,
        name: &str,
        args: serde_json::Map<String, Value>,
        progress: Option<Arc<dyn ProgressSink>>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> CallToolResult {
        let tool = Tool::from_name(name);
        let audit_on = self.state.audit.enabled();
        let kept_args =
            (audit_on && tool.is_some_and(Tool::summary_needs_args)).then(|| args.clone());
        let mut pending = PendingAudit {
            state: self.state.clone(),
            caller: caller.clone(),
            tool: name.to_string(),
            label: metric_label(tool),
            params: audit_on.then(|| crate::audit::redact_params(&args)),
            started: Instant::now(),
            done: false,
        };
        let span = tracing::debug_span!(
            "tool_call",
            tool = %crate::audit::loggable(name),
            role = %caller.role,
            token = %caller.identity.name(),
            request_id = %caller.request_id,
        );
        // This runs in the call's own task (see `call`), so it is dropped here only if the
        // runtime goes away mid-call; `pending` then writes the call's one audit line.
        let mut outcome = tracing::Instrument::instrument(
            self.run(caller, tool, name, args, progress, cancel),
            span,
        )
        .await;
        pending.done = true;
        let elapsed = pending.started.elapsed();
        let ms = elapsed.as_millis() as u64;
        let soft_failure = match (&outcome, tool) {
            (Ok(v), Some(t)) => t.failure_in_result(v),
            _ => None,
        };
        let (result, code, message, reason) = crate::audit::classify(&outcome, soft_failure);
        let executed = result != "denied";
        if let Some(params) = pending.params.take() {
            let empty = serde_json::Map::new();
            let output = match (&outcome, tool, result) {
                (Ok(v), Some(t), "ok") => t.audit_summary(
                    kept_args.as_ref().unwrap_or(&empty),
                    v,
                    &self.state.tools.limits,
                ),
                _ => None,
            };
            let tool_name = crate::audit::cap_str(name);
            let mut record = Record::for_call(caller, &tool_name, params, result);
            record.reason = reason;
            record.error_code = code;
            record.error_message = message;
            record.duration_ms = executed.then_some(ms);
            record.output = output;
            record.confined =
                executed && tool == Some(Tool::BashExecute) && caller.role == Role::Ro;
            if let Err(e) = self.state.write_audit(&record) {
                // The action happened, but an unaudited success must not look like one.
                outcome = Err(ToolError::Internal(format!(
                    "Tool '{}' ran but its audit record could not be written: {e}",
                    crate::audit::loggable(name)
                )));
            }
        }
        self.state.metrics.tool_call(
            pending.label,
            caller.role.as_str(),
            result,
            executed.then_some(elapsed.as_secs_f64()),
        );
        let shown = crate::audit::loggable(name);
        match &outcome {
            Ok(_) => tracing::debug!(
                tool = %shown, token = %caller.identity.name(), request_id = %caller.request_id,
                duration_ms = ms, "tool call ok"
            ),
            Err(e @ ToolError::PermissionDenied(_)) => tracing::warn!(
                tool = %shown, token = %caller.identity.name(), role = %caller.role, ip = %caller.ip,
                request_id = %caller.request_id, "denied: {}", crate::audit::loggable(&e.to_string())
            ),
            Err(e) => tracing::warn!(
                tool = %shown, token = %caller.identity.name(), ip = %caller.ip,
                request_id = %caller.request_id, error = e.code(), duration_ms = ms,
                "tool returned error: {}", crate::audit::loggable(&e.to_string())
            ),
        }
        to_result(&outcome)
    }
}

/// The `tool` label of the call metrics: a known tool's name, else one fixed value (a
/// caller-chosen name must not create series).
fn metric_label(tool: Option<Tool>) -> &'static str {
    tool.map_or("<unknown>", Tool::name)
}

/// The audit line of a call in progress. A call that ends normally (a cancelled one included)
/// writes its own line and sets `done`; one whose task is dropped first (the runtime shut down
/// mid-call) writes it here, as `error`/`Cancelled`, so every call that started leaves
/// exactly one line.
struct PendingAudit {
    state: Arc<AppState>,
    caller: Caller,
    tool: String,
    label: &'static str,
    params: Option<Value>,
    started: Instant,
    done: bool,
}

impl Drop for PendingAudit {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let elapsed = self.started.elapsed();
        tracing::warn!(
            tool = %crate::audit::loggable(&self.tool), token = %self.caller.identity.name(),
            request_id = %self.caller.request_id, duration_ms = elapsed.as_millis() as u64,
            "call abandoned before it finished (the server is stopping)"
        );
        self.state.metrics.tool_call(
            self.label,
            self.caller.role.as_str(),
            "error",
            Some(elapsed.as_secs_f64()),
        );
        let Some(params) = self.params.take() else {
            return;
        };
        let tool = crate::audit::cap_str(&self.tool);
        let mut record = Record::for_call(&self.caller, &tool, params, "error");
        record.error_code = Some("Cancelled".into());
        record.error_message = Some(
            "the call was abandoned before it finished (the server was stopping); what it had \
             done by then stays done"
                .into(),
        );
        record.duration_ms = Some(elapsed.as_millis() as u64);
        // A failure is counted and logged by write_audit; the client is gone, nobody to tell.
        let _ = self.state.write_audit(&record);
    }
}

impl McpHandler {
    /// Authorize, validate and dispatch one call.
    async fn run(
        &self,
        caller: &Caller,
        tool: Option<Tool>,
        name: &str,
        args: serde_json::Map<String, Value>,
        progress: Option<Arc<dyn ProgressSink>>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Result<Value, ToolError> {
        let Some(tool) = tool else {
            return Err(ToolError::PermissionDenied(format!(
                "Unknown tool: {}",
                crate::audit::cap_str(name)
            )));
        };
        if !tool.allowed(caller.role, self.ro_shell()) {
            return Err(ToolError::PermissionDenied(format!(
                "Permission denied: tool '{name}' requires {} role",
                tool.role()
            )));
        }
        tools::validate(tool.input_schema(), &args)?;
        if tool.role() == Role::Rw
            && let Err(e) = self.state.audit_ready(name)
        {
            return Err(ToolError::AuditUnavailable(format!(
                "The audit log cannot be written ({e}); mutating tools are refused until it can."
            )));
        }
        let ctx = Context {
            services: self.state.tools.clone(),
            caller: caller.clone(),
            progress,
            cancel,
        };
        match AssertUnwindSafe(tool.run(ctx, args)).catch_unwind().await {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(tool = %name, request_id = %caller.request_id, "tool panicked");
                Err(ToolError::Internal(format!(
                    "Tool '{name}' failed with an unexpected error"
                )))
            }
        }
    }
}
