//! The tool table: names, roles, input schemas, descriptions, argument validation and
//! dispatch. One table decides both `tools/list` and `tools/call`, so a tool hidden from a
//! role is also refused to it.

pub(crate) mod bash;
pub(crate) mod edit_file;
pub(crate) mod glob;
pub(crate) mod grep;
pub(crate) mod overview;
pub(crate) mod read_file;
pub(crate) mod write_file;

use std::sync::{Arc, LazyLock};

use serde_json::{Map, Value, json};

use crate::daemon::AppState;
use crate::error::ToolError;
use crate::tokens::Role;

/// One tool's static description.
#[derive(Debug)]
pub(crate) struct ToolSpec {
    /// Tool name (wire).
    pub(crate) name: &'static str,
    /// Minimum role that may list and call it.
    pub(crate) role: Role,
    /// Description shown to the model.
    pub(crate) description: &'static str,
    /// JSON Schema of the arguments (names, types, `required` as the reference).
    pub(crate) schema: Value,
}

/// MCP tool annotations: (read_only, destructive, idempotent, open_world). Hints for clients
/// deciding what to confirm with the user.
pub(crate) fn annotations(name: &str) -> (bool, bool, bool, bool) {
    match name {
        "read_file" | "glob" | "grep" | "server_overview" => (true, false, true, false),
        // Mints a URL; reads nothing itself.
        "prepare_download" => (true, false, false, false),
        "write_file" => (false, true, true, false),
        "edit_file" => (false, true, false, false),
        "prepare_upload" => (false, true, false, false),
        // Anything goes, including the network.
        _ => (false, true, false, true),
    }
}

fn prop(ty: &str, description: &str) -> Value {
    json!({"type": ty, "description": description})
}

fn object(props: Vec<(&str, Value)>, required: &[&str]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert(k.to_string(), v);
    }
    json!({
        "type": "object",
        "properties": p,
        "required": required,
        "additionalProperties": false,
    })
}

/// All nine tools, sorted by name.
pub(crate) static TOOLS: LazyLock<Vec<ToolSpec>> = LazyLock::new(|| {
    let mut v = vec![
        ToolSpec {
            name: "bash_execute",
            role: Role::Rw,
            description: "Run a shell command on this host with bash (sh if bash is missing) \
as the server's user, in its own process group, with stdin from /dev/null. Returns \
exit_code, stdout, stderr, timed_out, and signal when a signal ended the shell. Defaults: \
timeout 30 s (1-600), working_dir /, max_output_bytes 102400 per stream; beyond that the first \
and last halves are kept with a [TRUNCATED: ...] marker between them. On timeout the group gets \
SIGTERM, then SIGKILL 2 s later, and the output so far is returned. The call returns as soon \
as the shell exits: background jobs (cmd &) keep running, and their later output is discarded, \
so redirect it to a file. Protected paths do not apply here. At most MYMCP_BASH_MAX_CONCURRENT \
commands run at once; beyond that the call fails with Busy.",
            schema: object(
                vec![
                    ("command", prop("string", "Command line passed to bash -c")),
                    (
                        "timeout",
                        prop(
                            "integer",
                            "Seconds before the process group is killed (1-600, default 30)",
                        ),
                    ),
                    (
                        "working_dir",
                        prop("string", "Absolute directory to run in (default /)"),
                    ),
                    (
                        "max_output_bytes",
                        prop("integer", "Cap per stream in bytes (default 102400)"),
                    ),
                ],
                &["command"],
            ),
        },
        ToolSpec {
            name: "edit_file",
            role: Role::Rw,
            description: "Replace an exact string in a file (absolute path). old_string must occur exactly once unless replace_all is true (then every occurrence is replaced); it must not be empty; old_string and new_string are at most 1 MiB each. Works on bytes: the rest of the file, non-UTF-8 bytes, a BOM and CRLF line endings are kept (an LF old_string also matches its CRLF form). The file is replaced atomically and keeps its mode and owner. Errors: StringNotFound, AmbiguousMatch, FileNotFoundError, ProtectedPath.",
            schema: object(
                vec![
                    (
                        "file_path",
                        prop("string", "Absolute path of the file to edit"),
                    ),
                    (
                        "old_string",
                        prop("string", "Exact text to find (at most 1 MiB, not empty)"),
                    ),
                    (
                        "new_string",
                        prop("string", "Text to put in its place (at most 1 MiB)"),
                    ),
                    (
                        "replace_all",
                        prop("boolean", "Replace every occurrence (default false)"),
                    ),
                ],
                &["file_path", "old_string", "new_string"],
            ),
        },
        ToolSpec {
            name: "glob",
            role: Role::Ro,
            description: "List files and directories under path (absolute, default /) whose path relative to it matches pattern. '*' and '?' stay within one directory level and do not match a leading dot, '**' spans levels, {a,b} and [ab] work; '..' is not allowed. Symlinked directories are not followed. Newest first (by mtime), at most 1000 entries (count tells how many matched, truncated whether some were left out). /proc, /sys and /dev are skipped when searching from /; protected paths are never listed.",
            schema: object(
                vec![
                    (
                        "pattern",
                        prop("string", "Glob pattern relative to path, e.g. '**/*.conf'"),
                    ),
                    (
                        "path",
                        prop("string", "Absolute directory to search from (default /)"),
                    ),
                ],
                &["pattern"],
            ),
        },
        ToolSpec {
            name: "grep",
            role: Role::Ro,
            description: "Search file contents for a regular expression (Rust regex syntax, in-process; the pattern is never an option). path is an absolute file or directory (default /). Directory searches skip hidden, .gitignored and binary files and walk in path order; a file named directly is always searched. output_mode: content (default) gives 'path:line:text' with context lines as 'path-line-text' and '--' between groups; files gives paths; count gives 'path:N'. glob filters file names (e.g. '*.log'). max_results defaults to 500 (at most 5000); past it a '[TRUNCATED: N more matches not shown]' line ends the results, and match_count counts every matching line (files in files/count mode). Long lines are cut at 2000 characters.",
            schema: object(
                vec![
                    (
                        "pattern",
                        prop("string", "Regular expression to search for"),
                    ),
                    (
                        "path",
                        prop("string", "Absolute file or directory to search (default /)"),
                    ),
                    (
                        "glob",
                        prop(
                            "string",
                            "Only search files whose name matches, e.g. '*.log'",
                        ),
                    ),
                    (
                        "output_mode",
                        json!({"type":"string","enum":["content","files","count"],
                               "description":"content (default), files or count"}),
                    ),
                    (
                        "context_lines",
                        prop("integer", "Lines of context around each match (default 0)"),
                    ),
                    (
                        "max_results",
                        prop("integer", "Maximum results (default 500, at most 5000)"),
                    ),
                    (
                        "case_insensitive",
                        prop("boolean", "Ignore case (default false)"),
                    ),
                ],
                &["pattern"],
            ),
        },
        ToolSpec {
            name: "prepare_download",
            role: Role::Ro,
            description: "Mint a one-time URL to download a server file outside the model's \
context (large or binary files). Run the returned curl command on the client side.",
            schema: object(
                vec![
                    (
                        "src_path",
                        prop("string", "Absolute path of the server file to send"),
                    ),
                    (
                        "expires_in",
                        prop("integer", "Seconds the URL stays valid (default 300)"),
                    ),
                ],
                &["src_path"],
            ),
        },
        ToolSpec {
            name: "prepare_upload",
            role: Role::Rw,
            description: "Mint a one-time URL to upload a file to the server outside the model's \
context (large or binary files). Run the returned curl command on the client side.",
            schema: object(
                vec![
                    (
                        "dest_path",
                        prop("string", "Absolute path the upload is written to"),
                    ),
                    (
                        "max_bytes",
                        prop("integer", "Largest accepted body in bytes"),
                    ),
                    (
                        "expires_in",
                        prop("integer", "Seconds the URL stays valid (default 300)"),
                    ),
                    (
                        "overwrite",
                        prop("boolean", "Allow replacing an existing file (default true)"),
                    ),
                ],
                &["dest_path"],
            ),
        },
        ToolSpec {
            name: "read_file",
            role: Role::Ro,
            description: "Read a text file (absolute path) as numbered lines: '   N\\t<line>'. Starts at line offset (1-based, default 1) and returns up to limit lines (default 2000, at most 50000). total_lines counts the whole file; truncated says whether lines remain after the window (read on with a larger offset). Lines longer than 32768 bytes are cut and end in ' [LINE TRUNCATED]'. Only regular files: devices and FIFOs are refused. Invalid UTF-8 shows as U+FFFD.",
            schema: object(
                vec![
                    ("file_path", prop("string", "Absolute path of the file")),
                    (
                        "offset",
                        prop("integer", "First line to return, 1-based (default 1)"),
                    ),
                    (
                        "limit",
                        prop("integer", "Number of lines (default 2000, at most 50000)"),
                    ),
                ],
                &["file_path"],
            ),
        },
        ToolSpec {
            name: "server_overview",
            role: Role::Ro,
            description: "Return the recorder's summary of this host (services, ports, recent \
changes) with its age and how many changes are not yet folded in.",
            schema: object(vec![], &[]),
        },
        ToolSpec {
            name: "write_file",
            role: Role::Rw,
            description: "Create or replace a file (absolute path) with content, at most 10 MiB (use prepare_upload for more or for binary data). Missing parent directories are created. The file is replaced atomically (a reader never sees a partial file) and a replaced file keeps its mode and owner; a symlink is followed and its target replaced. Returns bytes_written.",
            schema: object(
                vec![
                    ("file_path", prop("string", "Absolute path of the file")),
                    (
                        "content",
                        prop("string", "Full new content (at most 10 MiB)"),
                    ),
                ],
                &["file_path", "content"],
            ),
        },
    ];
    v.sort_by_key(|t| t.name);
    v
});

/// Look a tool up by name.
pub(crate) fn spec(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
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
            _ => true,
        };
        if !ok {
            return Err(ToolError::InvalidArguments(format!(
                "'{k}' must be {}, got {}",
                match ty {
                    "integer" => "an integer",
                    "boolean" => "a boolean",
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
    jobs: &Arc<tokio::sync::Semaphore>,
    tool: &'static str,
    f: impl FnOnce() -> Result<Value, ToolError> + Send + 'static,
) -> Result<Value, ToolError> {
    let permit = match tokio::time::timeout(FILE_JOB_QUEUE_WAIT, jobs.clone().acquire_owned()).await
    {
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

/// Run a validated call. The caller has already checked the role.
pub(crate) async fn dispatch(
    state: Arc<AppState>,
    caller: &crate::mcp::Caller,
    name: &str,
    args: Map<String, Value>,
    progress: Option<Arc<dyn bash::ProgressSink>>,
) -> Result<Value, ToolError> {
    match name {
        "bash_execute" => {
            let a: bash::Args = parse(args)?;
            let cfg = &state.config;
            let out = state
                .bash
                .run(
                    a,
                    cfg.bash_max_output_bytes,
                    cfg.bash_max_output_bytes_hard,
                    progress,
                )
                .await?;
            Ok(out.to_json())
        }
        "read_file" => {
            let a: read_file::Args = parse(args)?;
            let limits = read_file::Limits {
                default_limit: state.config.read_file_default_limit,
                max_limit: state.config.read_file_max_limit,
                max_line_bytes: state.config.read_file_max_line_bytes,
            };
            // Open and read on a blocking thread, even for small files: the open walks the
            // path, and on a stuck network or FUSE mount that alone can hang. An async worker
            // must never wait on the kernel's file system code (docs/decisions.md).
            let jobs = state.file_jobs.clone();
            let rt = tokio::runtime::Handle::current();
            blocking(&jobs, "read_file", move || {
                let p = read_file::prepare(&state.guard, limits, a)?;
                // A large file can make a reply of up to MAX_REPLY_BYTES, several times that
                // in memory while it is serialised: only a few such reads run at once.
                let _large = if p.size() > read_file::LARGE_READ_BYTES {
                    let wait = state.large_reads.clone().acquire_owned();
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
        "glob" => {
            let a: glob::Args = parse(args)?;
            let max = state.config.glob_max_results;
            let jobs = state.file_jobs.clone();
            blocking(&jobs, "glob", move || {
                glob::run(&state.guard, max, glob::DEADLINE, a)
            })
            .await
        }
        "grep" => {
            let a: grep::Args = parse(args)?;
            let (d, m) = (
                state.config.grep_default_max_results,
                state.config.grep_max_results,
            );
            let jobs = state.file_jobs.clone();
            blocking(&jobs, "grep", move || {
                grep::run(&state.guard, d, m, grep::DEADLINE, a)
            })
            .await
        }
        "prepare_upload" | "prepare_download" => {
            let cfg = &state.config;
            let limits = crate::transfer::Limits {
                enabled: cfg.transfer_enabled,
                max_bytes: cfg.transfer_max_bytes,
                default_ttl: cfg.transfer_default_ttl_sec,
                max_ttl: cfg.transfer_max_ttl_sec,
            };
            let who = crate::transfer::Issuer {
                name: &caller.token_name,
                role: caller.role.as_str(),
                id: &caller.token_id,
                base_url: &caller.base_url,
            };
            if name == "prepare_upload" {
                let a = parse(args)?;
                crate::transfer::prepare_upload(&state.tickets, &state.guard, limits, &who, a)
            } else {
                let a = parse(args)?;
                crate::transfer::prepare_download(&state.tickets, &state.guard, limits, &who, a)
            }
        }
        "write_file" => {
            let a: write_file::Args = parse(args)?;
            let max = state.config.write_file_max_bytes;
            let jobs = state.file_jobs.clone();
            blocking(&jobs, "write_file", move || {
                write_file::run(&state.guard, max, a)
            })
            .await
        }
        "edit_file" => {
            let a: edit_file::Args = parse(args)?;
            let max = state.config.edit_string_max_bytes;
            let jobs = state.file_jobs.clone();
            blocking(&jobs, "edit_file", move || {
                edit_file::run(&state.guard, max, a)
            })
            .await
        }
        "server_overview" => {
            let jobs = state.file_jobs.clone();
            blocking(&jobs, "server_overview", move || {
                let cfg = &state.config;
                let src = overview::Sources {
                    data_dir: &cfg.recorder_data_dir,
                    audit_dir: &cfg.audit_log_dir,
                    merge_interval: std::time::Duration::from_secs(cfg.recorder_merge_interval_sec),
                };
                overview::run(src, &state.pending, std::time::SystemTime::now())
            })
            .await
        }
        other => Err(ToolError::Internal(format!("Tool '{other}' is unknown"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn nine_tools_sorted_with_reference_required_sets() {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        assert_eq!(
            names,
            [
                "bash_execute",
                "edit_file",
                "glob",
                "grep",
                "prepare_download",
                "prepare_upload",
                "read_file",
                "server_overview",
                "write_file"
            ]
        );
        let ro: Vec<&str> = TOOLS
            .iter()
            .filter(|t| t.role == Role::Ro)
            .map(|t| t.name)
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
        for t in TOOLS.iter() {
            assert_eq!(t.schema["additionalProperties"], json!(false), "{}", t.name);
        }
    }

    #[test]
    fn validation_names_the_field() {
        let s = &spec("bash_execute").unwrap().schema;
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
        let g = &spec("grep").unwrap().schema;
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
        let keys: Vec<String> = spec(name)
            .and_then(|s| s.schema["properties"].as_object())
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
            (name, args) in prop::sample::select(TOOLS.iter().map(|t| t.name).collect::<Vec<_>>())
                .prop_flat_map(|n| (Just(n), args_for(n))),
        ) {
            if let Some(s) = spec(name) && validate(&s.schema, &args).is_ok() {
                let v = Value::Object(args.clone());
                let _ = match name {
                    "bash_execute" => serde_json::from_value::<bash::Args>(v).map(drop),
                    "read_file" => serde_json::from_value::<read_file::Args>(v).map(drop),
                    "glob" => serde_json::from_value::<glob::Args>(v).map(drop),
                    "grep" => serde_json::from_value::<grep::Args>(v).map(drop),
                    "write_file" => serde_json::from_value::<write_file::Args>(v).map(drop),
                    "edit_file" => serde_json::from_value::<edit_file::Args>(v).map(drop),
                    "prepare_upload" => serde_json::from_value::<crate::transfer::UploadArgs>(v).map(drop),
                    "prepare_download" => serde_json::from_value::<crate::transfer::DownloadArgs>(v).map(drop),
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
            let _ = glob::run(&crate::guard::Guard::default(), 10, std::time::Duration::from_secs(5), args);
        }

        #[test]
        fn regex_builder_never_panics(p in "(\\\\p\\{L\\}|[(){}\\[\\]|*+?.a-z^$\\\\]){0,60}", ci in any::<bool>()) {
            let _ = grep::build_matcher(&p, ci);
        }

        #[test]
        fn host_parser_never_panics(h in ".{0,64}") {
            let _ = crate::http::parse_host(&h);
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
