//! The tool table and the context tools run in.
//!
//! [`Tool`] is the one place that names each tool and gives its role, annotations,
//! description, argument type (whose JSON Schema is generated from it, so the schema and the
//! parser cannot drift), dispatch and audit summary: every one of those is an exhaustive
//! `match`, so a new variant does not compile until all are given. `tools/list` and
//! `tools/call` both read it, so a tool hidden from a role is also refused to it.

pub(crate) mod bash;
pub(crate) mod edit_file;
pub(crate) mod evidence;
pub(crate) mod glob;
pub(crate) mod grep;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod read_file;
pub(crate) mod transfer;
pub(crate) mod write_file;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use schemars::JsonSchema;
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use crate::caller::Caller;
use crate::config::Config;
use crate::error::ToolError;
use crate::guard::Guard;
use crate::recorder::events::PendingCounter;
use crate::tickets::Tickets;
use crate::tokens::Role;

/// Declares [`Tool`] and [`Tool::ALL`] from one list, so no variant can be left out of `ALL`.
macro_rules! tool_enum {
    ($($variant:ident),+ $(,)?) => {
        /// Every tool the server offers.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Tool {
            $(
                #[doc = concat!("See [`Tool::name`] for the wire name of `", stringify!($variant), "`.")]
                $variant
            ),+
        }

        impl Tool {
            /// All tools, in declaration order (sorted by wire name).
            pub(crate) const ALL: &'static [Tool] = &[$(Tool::$variant),+];
        }
    };
}

tool_enum!(
    BashExecute,
    EditFile,
    Glob,
    Grep,
    JobKill,
    JobList,
    JobOutput,
    PrepareDownload,
    PrepareUpload,
    ReadFile,
    ServerOverview,
    WriteFile,
);

/// MCP tool annotations: hints for clients deciding what to confirm with the user.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Annotations {
    /// Changes nothing.
    pub(crate) read_only: bool,
    /// May destroy or overwrite data.
    pub(crate) destructive: bool,
    /// Repeating the same call has no further effect.
    pub(crate) idempotent: bool,
    /// Reaches beyond this host's files (the network, anything).
    pub(crate) open_world: bool,
}

const fn annotations(
    read_only: bool,
    destructive: bool,
    idempotent: bool,
    open_world: bool,
) -> Annotations {
    Annotations {
        read_only,
        destructive,
        idempotent,
        open_world,
    }
}

impl Tool {
    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::BashExecute => "bash_execute",
            Tool::EditFile => "edit_file",
            Tool::Glob => "glob",
            Tool::Grep => "grep",
            Tool::JobKill => "job_kill",
            Tool::JobList => "job_list",
            Tool::JobOutput => "job_output",
            Tool::PrepareDownload => "prepare_download",
            Tool::PrepareUpload => "prepare_upload",
            Tool::ReadFile => "read_file",
            Tool::ServerOverview => "server_overview",
            Tool::WriteFile => "write_file",
        }
    }

    /// Look a tool up by its wire name.
    pub(crate) fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// The least role that may list and call it.
    pub(crate) fn role(self) -> Role {
        match self {
            Tool::Glob
            | Tool::Grep
            | Tool::PrepareDownload
            | Tool::ReadFile
            | Tool::ServerOverview => Role::Ro,
            Tool::BashExecute
            | Tool::EditFile
            | Tool::JobKill
            | Tool::JobList
            | Tool::JobOutput
            | Tool::PrepareUpload
            | Tool::WriteFile => Role::Rw,
        }
    }

    /// Whether `role` may see and call this tool: its own role or above, and `bash_execute`
    /// for `ro` too when the confined shell is on.
    pub(crate) fn allowed(self, role: Role, ro_shell: bool) -> bool {
        role >= self.role() || (self == Tool::BashExecute && ro_shell)
    }

    /// Hints for clients (read-only, destructive, idempotent, open world).
    pub(crate) fn annotations(self) -> Annotations {
        match self {
            Tool::ReadFile | Tool::Glob | Tool::Grep | Tool::ServerOverview => {
                annotations(true, false, true, false)
            }
            // Mints a URL; reads nothing itself.
            Tool::PrepareDownload => annotations(true, false, false, false),
            // Not idempotent since `append`: the same call twice adds the text twice.
            Tool::WriteFile | Tool::EditFile | Tool::PrepareUpload => {
                annotations(false, true, false, false)
            }
            // Anything goes, including the network.
            Tool::BashExecute => annotations(false, true, false, true),
            // Reading a job's output consumes it: a second call returns what came after.
            Tool::JobOutput => annotations(true, false, false, false),
            Tool::JobList => annotations(true, false, true, false),
            // Signals a process group: it may end work under way.
            Tool::JobKill => annotations(false, true, false, false),
        }
    }

    /// What the model is told the tool does.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Tool::BashExecute => bash::DESCRIPTION,
            Tool::EditFile => edit_file::DESCRIPTION,
            Tool::Glob => glob::DESCRIPTION,
            Tool::Grep => grep::DESCRIPTION,
            Tool::JobKill => jobs::KILL_DESCRIPTION,
            Tool::JobList => jobs::LIST_DESCRIPTION,
            Tool::JobOutput => jobs::OUTPUT_DESCRIPTION,
            Tool::PrepareDownload => transfer::DOWNLOAD_DESCRIPTION,
            Tool::PrepareUpload => transfer::UPLOAD_DESCRIPTION,
            Tool::ReadFile => read_file::DESCRIPTION,
            Tool::ServerOverview => overview::DESCRIPTION,
            Tool::WriteFile => write_file::DESCRIPTION,
        }
    }

    /// The JSON Schema of the arguments, generated once from the tool's argument type.
    pub(crate) fn input_schema(self) -> &'static Value {
        static SCHEMAS: LazyLock<Vec<Value>> =
            LazyLock::new(|| Tool::ALL.iter().map(|t| t.generate_schema()).collect());
        // ALL lists every variant, so every tool has its index.
        let i = Tool::ALL.iter().position(|t| *t == self).unwrap_or(0);
        &SCHEMAS[i]
    }

    fn generate_schema(self) -> Value {
        match self {
            Tool::BashExecute => input_schema::<bash::Args>(),
            Tool::EditFile => input_schema::<edit_file::Args>(),
            Tool::Glob => input_schema::<glob::Args>(),
            Tool::Grep => input_schema::<grep::Args>(),
            Tool::JobKill => input_schema::<jobs::KillArgs>(),
            Tool::JobList => input_schema::<jobs::ListArgs>(),
            Tool::JobOutput => input_schema::<jobs::OutputArgs>(),
            Tool::PrepareDownload => input_schema::<transfer::DownloadArgs>(),
            Tool::PrepareUpload => input_schema::<transfer::UploadArgs>(),
            Tool::ReadFile => input_schema::<read_file::Args>(),
            Tool::ServerOverview => input_schema::<overview::Args>(),
            Tool::WriteFile => input_schema::<write_file::Args>(),
        }
    }

    /// Whether [`Tool::audit_summary`] needs the call's arguments (kept only then, and only
    /// when the audit log is on: a write's content can be 10 MiB).
    pub(crate) fn summary_needs_args(self) -> bool {
        matches!(self, Tool::WriteFile | Tool::EditFile)
    }

    /// The audit line's `output` for a successful call: what a mutating call did, without
    /// copying content.
    pub(crate) fn audit_summary(
        self,
        args: &Map<String, Value>,
        result: &Value,
        limits: &Limits,
    ) -> Option<Value> {
        match self {
            Tool::BashExecute => Some(bash::audit_summary(
                result,
                limits.audit_stdout_head,
                limits.audit_stdout_tail,
            )),
            Tool::WriteFile => Some(write_file::audit_summary(args)),
            Tool::EditFile => Some(edit_file::audit_summary(args, result)),
            Tool::Glob
            | Tool::Grep
            | Tool::JobKill
            | Tool::JobList
            | Tool::JobOutput
            | Tool::PrepareDownload
            | Tool::PrepareUpload
            | Tool::ReadFile
            | Tool::ServerOverview => None,
        }
    }

    /// A successful call whose result still reports a failure, for the audit line:
    /// (error code, message). Only a command's non-zero exit or timeout.
    pub(crate) fn failure_in_result(self, result: &Value) -> Option<(String, String)> {
        match self {
            Tool::BashExecute => bash::failure_in_result(result),
            Tool::EditFile
            | Tool::Glob
            | Tool::Grep
            | Tool::JobKill
            | Tool::JobList
            | Tool::JobOutput
            | Tool::PrepareDownload
            | Tool::PrepareUpload
            | Tool::ReadFile
            | Tool::ServerOverview
            | Tool::WriteFile => None,
        }
    }

    /// Run a validated call. The caller has already checked the role.
    pub(crate) async fn run(
        self,
        ctx: Context,
        args: Map<String, Value>,
    ) -> Result<Value, ToolError> {
        let svc = ctx.services.clone();
        match self {
            Tool::BashExecute => {
                let a: bash::Args = parse(args)?;
                // An ro caller only gets here with the confined shell on; without it, refuse
                // rather than run unconfined.
                let confine = match (ctx.caller.role, &svc.ro_shell) {
                    (Role::Rw, _) => None,
                    (Role::Ro, Some(shell)) => Some(shell),
                    (Role::Ro, None) => {
                        return Err(ToolError::PermissionDenied(
                            "Permission denied: tool 'bash_execute' requires rw role".into(),
                        ));
                    }
                };
                svc.bash.run(a, &ctx, confine).await
            }
            Tool::ReadFile => {
                let a: read_file::Args = parse(args)?;
                // Open and read on a blocking thread, even for small files: the open walks the
                // path, and on a stuck network or FUSE mount that alone can hang. An async
                // worker must never wait on the kernel's file system code (docs/decisions.md).
                let rt = tokio::runtime::Handle::current();
                blocking(&svc.clone(), self, move || {
                    let p = read_file::prepare(&svc.guard, svc.limits.read_file, a)?;
                    // A large file can make a reply of up to MAX_REPLY_BYTES, several times
                    // that in memory while it is serialised: only a few such reads run at once.
                    let _large = if p.size() > read_file::LARGE_READ_BYTES {
                        let wait = svc.large_reads.clone().acquire_owned();
                        match rt.block_on(tokio::time::timeout(FILE_JOB_QUEUE_WAIT, wait)) {
                            Ok(Ok(permit)) => Some(permit),
                            _ => {
                                return Err(ToolError::Busy(format!(
                                    "{MAX_LARGE_READS} reads of large files are already running; retry shortly"
                                )));
                            }
                        }
                    } else {
                        None
                    };
                    read_file::read(p)
                })
                .await
            }
            Tool::Glob => {
                let a: glob::Args = parse(args)?;
                let cancel = ctx.cancel;
                blocking(&svc.clone(), self, move || {
                    glob::run(&svc.guard, svc.limits.glob_max, glob::DEADLINE, &cancel, a)
                })
                .await
            }
            Tool::Grep => {
                let a: grep::Args = parse(args)?;
                let cancel = ctx.cancel;
                blocking(&svc.clone(), self, move || {
                    let l = &svc.limits;
                    let limits = (l.grep_default, l.grep_max);
                    grep::run(&svc.guard, limits, grep::DEADLINE, &cancel, a)
                })
                .await
            }
            Tool::JobOutput => {
                let a = parse(args)?;
                let l = &svc.limits;
                let limits = (l.bash_output, l.bash_output_hard);
                svc.bash
                    .jobs
                    .output(&ctx.caller, a, limits, &ctx.cancel)
                    .await
            }
            Tool::JobKill => {
                let a = parse(args)?;
                svc.bash.jobs.kill(&ctx.caller, a).await
            }
            Tool::JobList => {
                let _: jobs::ListArgs = parse(args)?;
                Ok(svc.bash.jobs.list(&ctx.caller))
            }
            Tool::PrepareUpload => {
                let a = parse(args)?;
                let who = transfer::Issuer::of(&ctx.caller);
                transfer::prepare_upload(&svc.tickets, &svc.guard, svc.limits.transfer, &who, a)
            }
            Tool::PrepareDownload => {
                let a = parse(args)?;
                let who = transfer::Issuer::of(&ctx.caller);
                transfer::prepare_download(&svc.tickets, &svc.guard, svc.limits.transfer, &who, a)
            }
            Tool::WriteFile => {
                let a: write_file::Args = parse(args)?;
                blocking(&svc.clone(), self, move || {
                    write_file::run(&svc.guard, svc.limits.write_max, a)
                })
                .await
            }
            Tool::EditFile => {
                let a: edit_file::Args = parse(args)?;
                blocking(&svc.clone(), self, move || {
                    edit_file::run(&svc.guard, svc.limits.edit_string_max, a)
                })
                .await
            }
            Tool::ServerOverview => {
                let _: overview::Args = parse(args)?;
                blocking(&svc.clone(), self, move || {
                    let l = &svc.limits;
                    let src = overview::Sources {
                        data_dir: &l.recorder_data_dir,
                        audit_dir: &l.audit_dir,
                        merge_interval: l.recorder_merge_interval,
                    };
                    overview::run(src, &svc.pending, std::time::SystemTime::now())
                })
                .await
            }
        }
    }
}

/// The JSON Schema of `T` as `tools/list` shows it: an object with `properties`, `required`
/// and `additionalProperties: false`, each property inlined with its type and description.
/// An optional argument is shown by its absence from `required` (as the reference did), not
/// by a `null` type: the validator refuses `null` for it.
fn input_schema<T: JsonSchema>() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if let Some(o) = v.as_object_mut() {
        // The Rust type's name and doc comment are not for clients.
        o.remove("title");
        o.remove("description");
        o.entry("properties")
            .or_insert_with(|| Value::Object(Map::new()));
        o.entry("required")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Some(props) = o.get_mut("properties").and_then(Value::as_object_mut) {
            for p in props.values_mut().filter_map(Value::as_object_mut) {
                // `format: int64` and the like say how Rust stores it, not what is accepted.
                p.remove("format");
                if let Some(Value::Array(types)) = p.get("type") {
                    let types: Vec<Value> = types
                        .iter()
                        .filter(|t| t.as_str() != Some("null"))
                        .cloned()
                        .collect();
                    let single = (types.len() == 1).then(|| types[0].clone());
                    p.insert("type".into(), single.unwrap_or(Value::Array(types)));
                }
                if let Some(Value::Array(allowed)) = p.get_mut("enum") {
                    allowed.retain(|a| !a.is_null());
                }
            }
        }
    }
    unwrap_descriptions(&mut v);
    v
}

/// Doc comments wrap at 100 columns; a description is one paragraph for the client.
fn unwrap_descriptions(v: &mut Value) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                match x {
                    Value::String(s) if k == "description" => *s = s.replace('\n', " "),
                    _ => unwrap_descriptions(x),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// Limits the tools apply, fixed at start from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    /// `read_file` window and line limits.
    pub(crate) read_file: read_file::Limits,
    /// `MYMCP_GLOB_MAX_RESULTS`.
    pub(crate) glob_max: u64,
    /// `MYMCP_GREP_DEFAULT_MAX_RESULTS`.
    pub(crate) grep_default: u64,
    /// `MYMCP_GREP_MAX_RESULTS`.
    pub(crate) grep_max: u64,
    /// `MYMCP_WRITE_FILE_MAX_BYTES`.
    pub(crate) write_max: u64,
    /// `MYMCP_EDIT_STRING_MAX_BYTES`.
    pub(crate) edit_string_max: u64,
    /// `MYMCP_BASH_MAX_OUTPUT_BYTES`.
    pub(crate) bash_output: u64,
    /// `MYMCP_BASH_MAX_OUTPUT_BYTES_HARD`.
    pub(crate) bash_output_hard: u64,
    /// Ticket limits for `prepare_upload` / `prepare_download`.
    pub(crate) transfer: transfer::Limits,
    /// `MYMCP_RECORDER_DATA_DIR` (where `server_overview` reads).
    pub(crate) recorder_data_dir: PathBuf,
    /// `MYMCP_RECORDER_MERGE_INTERVAL_SEC`.
    pub(crate) recorder_merge_interval: Duration,
    /// `MYMCP_AUDIT_LOG_DIR` (`server_overview` counts the events not yet folded in).
    pub(crate) audit_dir: PathBuf,
    /// `MYMCP_AUDIT_OUTPUT_BASH_HEAD_BYTES`.
    pub(crate) audit_stdout_head: usize,
    /// `MYMCP_AUDIT_OUTPUT_BASH_TAIL_BYTES`.
    pub(crate) audit_stdout_tail: usize,
}

impl Limits {
    /// Take the tools' limits from the configuration.
    pub(crate) fn from_config(cfg: &Config) -> Limits {
        Limits {
            read_file: read_file::Limits {
                default_limit: cfg.read_file_default_limit,
                max_limit: cfg.read_file_max_limit,
                max_line_bytes: cfg.read_file_max_line_bytes,
                hash_max_bytes: cfg.write_file_max_bytes,
            },
            glob_max: cfg.glob_max_results,
            grep_default: cfg.grep_default_max_results,
            grep_max: cfg.grep_max_results,
            write_max: cfg.write_file_max_bytes,
            edit_string_max: cfg.edit_string_max_bytes,
            bash_output: cfg.bash_max_output_bytes,
            bash_output_hard: cfg.bash_max_output_bytes_hard,
            transfer: transfer::Limits {
                enabled: cfg.transfer_enabled,
                max_bytes: cfg.transfer_max_bytes,
                default_ttl: cfg.transfer_default_ttl_sec,
                max_ttl: cfg.transfer_max_ttl_sec,
            },
            recorder_data_dir: cfg.recorder_data_dir.clone(),
            recorder_merge_interval: Duration::from_secs(cfg.recorder_merge_interval_sec),
            audit_dir: cfg.audit_log_dir.clone(),
            audit_stdout_head: usize::try_from(cfg.audit_output_bash_head_bytes)
                .unwrap_or(usize::MAX),
            audit_stdout_tail: usize::try_from(cfg.audit_output_bash_tail_bytes)
                .unwrap_or(usize::MAX),
        }
    }
}

/// What the tools share, built once at start: the path guard, the shell runner, the ticket
/// store, the limits and the slots that bound blocking work. The transfer endpoints and the
/// daemon's reload loop use the guard and tickets too.
pub(crate) struct Services {
    /// Protected paths and safe opens.
    pub(crate) guard: Guard,
    /// Running shell commands.
    pub(crate) bash: bash::BashRunner,
    /// Transfer tickets.
    pub(crate) tickets: Tickets,
    /// Limits from the configuration.
    pub(crate) limits: Limits,
    /// Slots for file tool jobs on blocking threads (see [`MAX_FILE_JOBS`]).
    pub(crate) file_jobs: Arc<Semaphore>,
    /// Slots for reads of large files (see [`MAX_LARGE_READS`]).
    pub(crate) large_reads: Arc<Semaphore>,
    /// `server_overview`'s backlog counter (scan positions kept between calls).
    pub(crate) pending: Mutex<PendingCounter>,
    /// The confined shell for `ro` callers, when `MYMCP_RO_SHELL` is on.
    pub(crate) ro_shell: Option<crate::sandbox::RoShell>,
}

impl Services {
    /// Build the shared services from the configuration and the path guard.
    pub(crate) fn new(
        cfg: &Config,
        guard: Guard,
        ro_shell: Option<crate::sandbox::RoShell>,
    ) -> Services {
        Services {
            ro_shell,
            guard,
            bash: bash::BashRunner::new(
                cfg.bash_max_concurrent,
                crate::config::child_env(),
                jobs::JobLimits {
                    max_sec: cfg.job_max_sec,
                    max_running: cfg.jobs_max_running as usize,
                    output_max: cfg.job_output_max_bytes.min(usize::MAX as u64) as usize,
                    retention: Duration::from_secs(cfg.job_retention_sec),
                },
            ),
            tickets: Tickets::default(),
            limits: Limits::from_config(cfg),
            file_jobs: Arc::new(Semaphore::new(MAX_FILE_JOBS)),
            large_reads: Arc::new(Semaphore::new(MAX_LARGE_READS)),
            pending: Mutex::default(),
        }
    }
}

/// One call's context: the shared services, who is calling, and where progress goes.
pub(crate) struct Context {
    /// Shared services.
    pub(crate) services: Arc<Services>,
    /// The authenticated caller (ticket issuer, base URL for ticket links).
    pub(crate) caller: Caller,
    /// Progress notifications for the client, when it asked for them.
    pub(crate) progress: Option<Arc<dyn bash::ProgressSink>>,
    /// Cancelled when the client cancels the call or goes away: a command is stopped, a walk
    /// ends at its next file. A write already under way finishes (it is quick and atomic, and
    /// its audit line must say what happened).
    pub(crate) cancel: tokio_util::sync::CancellationToken,
}

/// Threads a walk (glob, grep) runs on: one per core, at most 8 (past that a search waits on
/// the disk and the walk's lock, not on the CPU).
pub(crate) fn walk_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// When a walk (glob, grep) must stop: its time limit passed, or its call was cancelled.
/// Checked between files, from any of the walk's threads.
pub(crate) struct Budget<'a> {
    started: Instant,
    limit: Duration,
    cancel: &'a tokio_util::sync::CancellationToken,
}

impl<'a> Budget<'a> {
    /// A budget of `limit` from now, cut short by `cancel`.
    pub(crate) fn new(limit: Duration, cancel: &'a tokio_util::sync::CancellationToken) -> Self {
        Budget {
            started: Instant::now(),
            limit,
            cancel,
        }
    }

    /// Whether to stop now.
    pub(crate) fn spent(&self) -> bool {
        self.cancel.is_cancelled() || self.started.elapsed() > self.limit
    }

    /// The error of a walk stopped by a cancel (its partial result is nobody's).
    pub(crate) fn check_cancelled(&self) -> Result<(), ToolError> {
        if self.cancel.is_cancelled() {
            return Err(ToolError::Cancelled(
                "cancelled by the client before the search finished; the walk was stopped".into(),
            ));
        }
        Ok(())
    }
}

/// Validate `args` against `schema`: required fields, JSON types, enums, unknown fields.
/// Messages name the field.
pub(crate) fn validate(schema: &Value, args: &Map<String, Value>) -> Result<(), ToolError> {
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(req) = schema.get("required").and_then(Value::as_array) {
        for r in req.iter().filter_map(Value::as_str) {
            if !args.contains_key(r) {
                return Err(ToolError::InvalidArguments(format!(
                    "'{r}' is a required property"
                )));
            }
        }
    }
    for (k, v) in args {
        let Some(p) = props.get(k) else {
            let known: Vec<&str> = props.keys().map(String::as_str).collect();
            return Err(ToolError::InvalidArguments(format!(
                "unknown property '{k}' (accepted: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        };
        let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
        let ok = match ty {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "integer" => {
                v.is_i64() || v.is_u64() && v.as_u64().is_some_and(|u| u <= i64::MAX as u64)
            }
            "array" => v.is_array(),
            _ => true,
        };
        if !ok {
            return Err(ToolError::InvalidArguments(format!(
                "'{k}' must be {}, got {}",
                match ty {
                    "integer" => "an integer",
                    "boolean" => "a boolean",
                    "array" => "an array",
                    _ => "a string",
                },
                describe(v)
            )));
        }
        if let Some(allowed) = p.get("enum").and_then(Value::as_array)
            && !allowed.contains(v)
        {
            let names: Vec<String> = allowed.iter().map(|a| a.to_string()).collect();
            return Err(ToolError::InvalidArguments(format!(
                "'{k}' must be one of {}, got {v}",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    let shown: String = s.chars().take(40).collect();
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(n) if n.as_i64().is_none() => "integer out of range",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if shown.len() < s.len() {
        format!("{kind} {shown}…")
    } else {
        format!("{kind} {shown}")
    }
}

fn parse<T: serde::de::DeserializeOwned>(args: Map<String, Value>) -> Result<T, ToolError> {
    serde_json::from_value(Value::Object(args))
        .map_err(|e| ToolError::InvalidArguments(e.to_string()))
}

/// File tool jobs (read, glob, grep, write, edit, overview) running at once on blocking
/// threads. Bounded so that no caller can fill tokio's blocking pool (which token reloads,
/// transfers and the admin API need too) with reads that hang on a slow file system.
pub(crate) const MAX_FILE_JOBS: usize = 32;

/// Reads of files over [`read_file::LARGE_READ_BYTES`] running at once (each may build a
/// reply of up to 16 MiB).
pub(crate) const MAX_LARGE_READS: usize = 4;

/// How long a call waits for a free file-job slot before answering `Busy`.
pub(crate) const FILE_JOB_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a call waits for its file job. Tools stop themselves well before (walks and reads
/// have 30 s deadlines); this only fires when a file system stops answering. The job keeps its
/// slot until the kernel returns, so a hung mount cannot take more than [`MAX_FILE_JOBS`].
pub(crate) const FILE_JOB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Run blocking file work off the async workers, within the file-job bound.
async fn blocking(
    svc: &Services,
    tool: Tool,
    f: impl FnOnce() -> Result<Value, ToolError> + Send + 'static,
) -> Result<Value, ToolError> {
    let tool = tool.name();
    let jobs = svc.file_jobs.clone();
    let permit = match tokio::time::timeout(FILE_JOB_QUEUE_WAIT, jobs.acquire_owned()).await {
        Ok(Ok(p)) => p,
        _ => {
            return Err(ToolError::Busy(format!(
                "{MAX_FILE_JOBS} file operations are already running; retry shortly"
            )));
        }
    };
    let job = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    });
    match tokio::time::timeout(FILE_JOB_TIMEOUT, job).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(ToolError::Internal(format!(
            "Tool '{tool}' failed with an unexpected error: {e}"
        ))),
        Err(_) => Err(ToolError::Os(format!(
            "Tool '{tool}' gave up after {} s: the file system did not answer",
            FILE_JOB_TIMEOUT.as_secs()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    /// A cancelled call's walk stops and says so; the control (not cancelled) finds the files.
    #[test]
    fn walks_stop_when_their_call_is_cancelled() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..300 {
            std::fs::write(d.path().join(format!("f{i}.txt")), "needle\n").unwrap();
        }
        let path = Some(d.path().display().to_string());
        let guard = crate::guard::Guard::default();
        let limit = Duration::from_secs(30);
        let grep_args = || grep::Args {
            pattern: "needle".into(),
            path: path.clone(),
            glob: None,
            output_mode: Some(grep::Mode::Count),
            context_lines: None,
            max_results: None,
            case_insensitive: false,
        };
        let glob_args = || glob::Args {
            pattern: "*.txt".into(),
            path: path.clone(),
        };
        let live = tokio_util::sync::CancellationToken::new();
        let v = grep::run(&guard, (10, 100), limit, &live, grep_args()).unwrap();
        assert_eq!(v["match_count"], 300, "{v}");
        let v = glob::run(&guard, 10, limit, &live, glob_args()).unwrap();
        assert_eq!(v["count"], 300, "{v}");

        let cancelled = tokio_util::sync::CancellationToken::new();
        cancelled.cancel();
        for r in [
            grep::run(&guard, (10, 100), limit, &cancelled, grep_args()),
            glob::run(&guard, 10, limit, &cancelled, glob_args()),
        ] {
            assert!(matches!(r, Err(ToolError::Cancelled(_))), "{r:?}");
        }
    }

    #[test]
    fn the_reference_tools_and_the_job_tools_sorted_with_reference_required_sets() {
        let names: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(
            names,
            [
                "bash_execute",
                "edit_file",
                "glob",
                "grep",
                "job_kill",
                "job_list",
                "job_output",
                "prepare_download",
                "prepare_upload",
                "read_file",
                "server_overview",
                "write_file"
            ]
        );
        let ro: Vec<&str> = Tool::ALL
            .iter()
            .filter(|t| t.role() == Role::Ro)
            .map(|t| t.name())
            .collect();
        assert_eq!(
            ro,
            [
                "glob",
                "grep",
                "prepare_download",
                "read_file",
                "server_overview"
            ]
        );
        for t in Tool::ALL {
            let s = t.input_schema();
            assert_eq!(s["additionalProperties"], json!(false), "{}", t.name());
            assert_eq!(s["type"], json!("object"), "{}", t.name());
            assert_eq!(Tool::from_name(t.name()), Some(*t));
        }
    }

    #[test]
    fn validation_names_the_field() {
        let s = Tool::BashExecute.input_schema();
        let e = validate(s, &args(json!({}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Input validation error: 'command' is a required property"
        );
        let e = validate(s, &args(json!({"command":"x","timeout":"5"}))).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Input validation error: 'timeout' must be an integer, got string \"5\""
        );
        let e = validate(s, &args(json!({"command":"x","timeout":2.7}))).unwrap_err();
        assert!(e.to_string().contains("'timeout' must be an integer"));
        let e = validate(s, &args(json!({"command":"x","bogus":1}))).unwrap_err();
        assert!(e.to_string().contains("unknown property 'bogus'"));
        assert!(validate(s, &args(json!({"command":"x","timeout":5}))).is_ok());
        let g = Tool::Grep.input_schema();
        assert!(validate(g, &args(json!({"pattern":"x","output_mode":"lines"}))).is_err());
    }
}

/// Property-based fuzzing of everything a caller's arguments reach before a tool runs: schema
/// validation, typed parsing, and the glob and regex builders. Any panic, overflow or hang
/// fails the test; it runs a few hundred cases per property in every `cargo test`.
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use super::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,40}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn args_for(name: &'static str) -> impl Strategy<Value = Map<String, Value>> {
        let keys: Vec<String> = Tool::from_name(name)
            .and_then(|t| t.input_schema()["properties"].as_object())
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        let key = if keys.is_empty() {
            ".{0,12}".boxed()
        } else {
            prop_oneof![prop::sample::select(keys).boxed(), ".{0,12}".boxed()].boxed()
        };
        prop::collection::btree_map(key, json_value(), 0..6).prop_map(|m| m.into_iter().collect())
    }

    /// Brace-, bracket- and star-heavy strings: the glob parser's worst inputs.
    fn globbish() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop::sample::select(vec![
                "{", "}", ",", "[", "]", "!", "*", "**", "?", "\\", "/", "a", ".", "-", "^",
            ]),
            0..200,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        #[test]
        fn validation_and_parsing_never_panic(
            (name, args) in prop::sample::select(Tool::ALL.iter().map(|t| t.name()).collect::<Vec<_>>())
                .prop_flat_map(|n| (Just(n), args_for(n))),
        ) {
            if let Some(t) = Tool::from_name(name) && validate(t.input_schema(), &args).is_ok() {
                let v = Value::Object(args.clone());
                let _ = match name {
                    "bash_execute" => serde_json::from_value::<bash::Args>(v).map(drop),
                    "read_file" => serde_json::from_value::<read_file::Args>(v).map(drop),
                    "glob" => serde_json::from_value::<glob::Args>(v).map(drop),
                    "grep" => serde_json::from_value::<grep::Args>(v).map(drop),
                    "write_file" => serde_json::from_value::<write_file::Args>(v).map(drop),
                    "edit_file" => serde_json::from_value::<edit_file::Args>(v).map(drop),
                    "prepare_upload" => serde_json::from_value::<transfer::UploadArgs>(v).map(drop),
                    "prepare_download" => serde_json::from_value::<transfer::DownloadArgs>(v).map(drop),
                    _ => Ok(()),
                };
            }
            let _ = crate::audit::redact_params(&args);
        }

        #[test]
        fn glob_builders_never_panic(p in globbish()) {
            let _ = glob::check_glob_shape(&p).map(|()| globset::Glob::new(&p).map(|g| g.compile_matcher()));
            let d = tempfile::tempdir().unwrap();
            let args = glob::Args { pattern: p, path: Some(d.path().display().to_string()) };
            let _ = glob::run(&crate::guard::Guard::default(), 10, std::time::Duration::from_secs(5), &Default::default(), args);
        }

        #[test]
        fn regex_builder_never_panics(p in "(\\\\p\\{L\\}|[(){}\\[\\]|*+?.a-z^$\\\\]){0,60}", ci in any::<bool>()) {
            let _ = grep::build_matcher(&p, ci);
        }

        #[test]
        fn host_parser_never_panics(h in ".{0,64}") {
            let _ = crate::hosts::parse_host(&h);
            let _ = crate::guard::require_absolute(&h, "p");
        }
    }

    #[test]
    fn deep_braces_are_refused_before_parsing() {
        let bomb = format!("{}a{}", "{".repeat(20_000), "}".repeat(20_000));
        assert_eq!(
            glob::check_glob_shape(&bomb).unwrap_err().code(),
            "InvalidPattern"
        );
        let ok = format!(
            "{}a{}",
            "{".repeat(glob::MAX_BRACE_DEPTH),
            "}".repeat(glob::MAX_BRACE_DEPTH)
        );
        assert!(glob::check_glob_shape(&ok).is_ok());
        assert!(grep::build_matcher(&"\\p{L}".repeat(1_600), false).is_err());
        assert!(grep::build_matcher("\\p{L}+", false).is_ok());
    }
}
