//! `bash_execute`: run a command in its own process group, with bounded output,
//! a timeout that keeps partial output, prompt return when the shell exits, a concurrency
//! cap, and termination of every group at shutdown.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::error::ToolError;
use crate::guard::require_absolute;

/// The description `tools/list` shows for `bash_execute`.
pub(crate) const DESCRIPTION: &str = "Run a shell command on this host with bash (sh if bash is missing) \
as the server's user, in its own process group, with stdin from /dev/null. Returns \
exit_code, stdout, stderr, timed_out, and signal when a signal ended the shell. Defaults: \
timeout 30 s (1-600), working_dir /, max_output_bytes 102400 per stream; beyond that the first \
and last halves are kept with a [TRUNCATED: ...] marker between them. On timeout the group gets \
SIGTERM, then SIGKILL 2 s later, and the output so far is returned. The call returns as soon \
as the shell exits: background jobs (cmd &) keep running, and their later output is discarded, \
so redirect it to a file. Protected paths do not apply here. At most MYMCP_BASH_MAX_CONCURRENT \
commands run at once; beyond that the call fails with Busy. \
For anything that may outlast a client's request limit (about 60 s: builds, upgrades, backups), \
use background=true: the call returns {job_id, status: running} at once, timeout becomes the \
job's limit (default 3600 s), and you poll job_output with wait=30 until status is no longer \
running. When you cannot tell how long it takes, set detach_after (e.g. 20): a command still \
running then becomes such a job and the call returns its job_id and the output so far. Stop a \
job with job_kill; job_list shows yours.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Command line passed to bash -c
    pub(crate) command: String,
    /// Seconds before the process group is killed (1-600, default 30)
    pub(crate) timeout: Option<i64>,
    /// Absolute directory to run in (default /)
    pub(crate) working_dir: Option<String>,
    /// Cap per stream in bytes (default 102400)
    pub(crate) max_output_bytes: Option<i64>,
    /// Start the command as a background job and return its job_id at once; read it with job_output (rw only)
    #[serde(default)]
    pub(crate) background: bool,
    /// Seconds (1-600) after which a still-running command becomes a background job instead of being waited for; the call then returns its job_id and the output so far (rw only)
    pub(crate) detach_after: Option<i64>,
}

/// How long to keep reading the pipes after the shell has exited. Output that a background
/// child writes later is not waited for.
pub(crate) const DRAIN: Duration = Duration::from_millis(250);

/// Time between SIGTERM and SIGKILL on timeout.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);

/// Pipes still held open by background children are drained (and discarded) by detached
/// tasks so those children do not die of SIGPIPE; at most this many at once.
const MAX_LEFTOVER_DRAINERS: usize = 128;

/// Reports progress to the client (MCP progress notifications). Implemented by the MCP layer.
pub(crate) trait ProgressSink: Send + Sync {
    /// Send one update: bytes of output so far and the latest output line.
    fn update(&self, bytes: u64, last_line: String);
}

/// Shared state of all bash calls.
pub(crate) struct BashRunner {
    /// Background jobs (commands that outlive their call).
    pub(crate) jobs: Arc<crate::tools::jobs::JobTable>,
    shell: PathBuf,
    env: Vec<(OsString, OsString)>,
    sem: Arc<Semaphore>,
    max_concurrent: usize,
    inflight: Arc<Mutex<HashSet<i32>>>,
    leftover: Arc<AtomicUsize>,
}

/// `bash` when present, `sh` otherwise: the tool is called `bash_execute`, and models write
/// bash (`source`, `[[`, arrays) that dash, Debian's `/bin/sh`, rejects.
pub(crate) fn find_shell() -> PathBuf {
    for p in ["/bin/bash", "/usr/bin/bash", "/usr/local/bin/bash"] {
        if Path::new(p).is_file() {
            return PathBuf::from(p);
        }
    }
    // NixOS and other FHS-less systems: bash only on PATH (the Nix module puts it there).
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("bash"))
        .find(|p| p.is_absolute() && p.is_file())
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// Output of one stream: the first half of the cap and a ring of the last half.
#[derive(Debug)]
pub(crate) struct HeadTail {
    cap: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    total: u64,
}

impl HeadTail {
    /// Keep at most `cap` bytes.
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
        }
    }

    fn head_cap(&self) -> usize {
        self.cap.div_ceil(2)
    }

    /// Bytes pushed so far (kept or dropped).
    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// The same output within a smaller cap: the first and last halves of what is kept, and
    /// the same total, so the marker still counts every byte dropped. A larger `cap` changes
    /// nothing.
    pub(crate) fn shrink(self, cap: usize) -> HeadTail {
        if cap >= self.cap {
            return self;
        }
        let mut out = HeadTail::new(cap);
        out.push(&self.head);
        let (a, b) = self.tail.as_slices();
        out.push(a);
        out.push(b);
        out.total = self.total;
        out
    }

    /// Append bytes, dropping the middle when over the cap.
    pub(crate) fn push(&mut self, mut data: &[u8]) {
        self.total += data.len() as u64;
        let room = self.head_cap().saturating_sub(self.head.len());
        if room > 0 {
            let n = room.min(data.len());
            self.head.extend_from_slice(&data[..n]);
            data = &data[n..];
        }
        let tail_cap = self.cap - self.head_cap();
        if tail_cap == 0 || data.is_empty() {
            return;
        }
        if data.len() >= tail_cap {
            self.tail.clear();
            self.tail.extend(&data[data.len() - tail_cap..]);
        } else {
            let excess = (self.tail.len() + data.len()).saturating_sub(tail_cap);
            self.tail.drain(..excess);
            self.tail.extend(data);
        }
    }

    /// The text to return: everything when it fitted, else head, marker, tail. Invalid
    /// UTF-8 becomes U+FFFD here only; a character cut by the seam is dropped, not mangled.
    pub(crate) fn render(&self) -> String {
        let kept = (self.head.len() + self.tail.len()) as u64;
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        if kept == self.total {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return String::from_utf8_lossy(&all).into_owned();
        }
        let head = trim_incomplete_end(&self.head);
        let tail = trim_incomplete_start(&tail);
        format!(
            "{}\n[TRUNCATED: total {} bytes; {} bytes dropped between the first {} and the last {} bytes]\n{}",
            String::from_utf8_lossy(head),
            self.total,
            self.total - kept,
            self.head.len(),
            self.tail.len(),
            String::from_utf8_lossy(tail)
        )
    }
}

fn trim_incomplete_end(b: &[u8]) -> &[u8] {
    // Find the start of the last (possibly partial) UTF-8 sequence within 3 bytes.
    for back in 1..=3.min(b.len()) {
        let i = b.len() - back;
        let c = b[i];
        if c & 0xC0 != 0x80 {
            let need = if c >= 0xF0 {
                4
            } else if c >= 0xE0 {
                3
            } else if c >= 0xC0 {
                2
            } else {
                1
            };
            return if back < need { &b[..i] } else { b };
        }
    }
    b
}

fn trim_incomplete_start(b: &[u8]) -> &[u8] {
    let skip = b.iter().take(3).take_while(|c| *c & 0xC0 == 0x80).count();
    &b[skip..]
}

/// Conventional name of a signal number.
pub(crate) fn signal_name(n: i32) -> String {
    let name = match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        10 => "SIGUSR1",
        11 => "SIGSEGV",
        12 => "SIGUSR2",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return format!("SIG{n}"),
    };
    name.to_string()
}

pub(crate) fn killpg(pgid: i32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pgid) {
        let _ = rustix::process::kill_process_group(p, sig);
    }
}

/// Why a command was stopped before it ended by itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Cut {
    /// Its `timeout` passed.
    Timeout,
    /// The client cancelled the call or went away.
    Cancelled,
}

/// Stop a command's process group: SIGTERM, then SIGKILL to whatever of the group is still
/// there `KILL_GRACE` later (the shell, or children it left behind when it exited on the
/// SIGTERM). Returns the shell's exit status and whether SIGKILL was needed.
pub(crate) async fn stop_group(
    pgid: i32,
    child: &mut tokio::process::Child,
) -> (std::io::Result<std::process::ExitStatus>, bool) {
    killpg(pgid, rustix::process::Signal::TERM);
    let until = Instant::now() + KILL_GRACE;
    let st = match tokio::time::timeout_at(until, child.wait()).await {
        Ok(st) => st,
        Err(_) => {
            killpg(pgid, rustix::process::Signal::KILL);
            return (child.wait().await, true);
        }
    };
    // The shell is gone. Its group number stays taken while any member lives, so signalling
    // it cannot reach another process; members get the rest of the grace to exit.
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while group_alive(pgid) {
        if Instant::now() >= until {
            killpg(pgid, rustix::process::Signal::KILL);
            return (st, true);
        }
        tick.tick().await;
    }
    (st, false)
}

/// Whether any process is left in group `pgid` (signal 0 probes without sending; `EPERM`
/// also means someone is there).
fn group_alive(pgid: i32) -> bool {
    rustix::process::Pid::from_raw(pgid).is_some_and(|p| {
        rustix::process::test_kill_process_group(p) != Err(rustix::io::Errno::SRCH)
    })
}

/// Removes the group from the in-flight set when the call (or job) ends; kills the group if
/// it is dropped before the shell exited (a call whose task went away).
pub(crate) struct Inflight {
    set: Arc<Mutex<HashSet<i32>>>,
    pgid: i32,
    /// The shell has exited: nothing to kill on drop.
    pub(crate) done: bool,
}

impl Drop for Inflight {
    fn drop(&mut self) {
        if !self.done {
            killpg(self.pgid, rustix::process::Signal::KILL);
        }
        if let Ok(mut s) = self.set.lock() {
            s.remove(&self.pgid);
        }
    }
}

/// A child's stdout or stderr, boxed so both are one type.
type Pipe = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// One output pipe's reader and what it collected.
pub(crate) struct Stream {
    /// The bounded output (a job swaps in its own buffer and keeps this `Arc`).
    pub(crate) buf: Arc<Mutex<HeadTail>>,
    /// Notified after every chunk (a job's `job_output` waits on it).
    pub(crate) changed: Arc<tokio::sync::Notify>,
    /// The reader; ends at EOF.
    pub(crate) task: tokio::task::JoinHandle<()>,
}

fn spawn_reader<R>(
    mut r: R,
    cap: usize,
    bytes: Arc<AtomicU64>,
    last_line: Arc<Mutex<String>>,
    changed: Arc<tokio::sync::Notify>,
) -> Stream
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
{
    let buf = Arc::new(Mutex::new(HeadTail::new(cap)));
    let b2 = buf.clone();
    let c2 = changed.clone();
    let task = tokio::spawn(async move {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match r.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let data = &chunk[..n];
            bytes.fetch_add(n as u64, Ordering::Relaxed);
            if let Some(line) = last_full_line(data)
                && let Ok(mut l) = last_line.lock()
            {
                *l = String::from_utf8_lossy(line).chars().take(200).collect();
            }
            if let Ok(mut b) = b2.lock() {
                b.push(data);
            }
            c2.notify_waiters();
        }
    });
    Stream { buf, changed, task }
}

fn last_full_line(data: &[u8]) -> Option<&[u8]> {
    let end = memchr::memrchr(b'\n', data)?;
    let start = memchr::memrchr(b'\n', &data[..end]).map_or(0, |i| i + 1);
    let line = &data[start..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.is_empty()).then_some(line)
}

/// Result of one run.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// Exit code, or -1 when a signal ended the shell or it timed out.
    pub(crate) exit_code: i32,
    /// Signal name when a signal ended the shell.
    pub(crate) signal: Option<String>,
    /// Whether the timeout fired.
    pub(crate) timed_out: bool,
    /// Captured stdout (head + tail).
    pub(crate) stdout: String,
    /// Captured stderr (head + tail).
    pub(crate) stderr: String,
}

/// The audit line's `output` for a finished command: exit code, how much it printed and a
/// hash of it. The text itself only when the operator asked for it
/// (`MYMCP_AUDIT_OUTPUT_BASH_{HEAD,TAIL}_BYTES` > 0): then the first `head` and last `tail`
/// bytes (whole characters) and how many bytes between them were left out.
pub(crate) fn audit_summary(result: &Value, head: usize, tail: usize) -> Value {
    let out = result.get("stdout").and_then(Value::as_str).unwrap_or("");
    let mut summary = json!({
        "exit_code": result.get("exit_code"),
        "stdout_bytes": out.len(),
        "stdout_sha256": hex::encode(Sha256::digest(out.as_bytes())),
        "timed_out": result.get("timed_out"),
    });
    // A command that became a job: its end has a `job_exit` line under this id.
    if let Some(id) = result.get("job_id") {
        summary["job_id"] = id.clone();
    }
    if head > 0 || tail > 0 {
        let (h, t, left_out) = head_and_tail(out, head, tail);
        summary["stdout_head"] = json!(h);
        summary["stdout_tail"] = json!(t);
        summary["stdout_truncated_bytes"] = json!(left_out);
    }
    summary
}

/// The first `head` and last `tail` bytes of `s`, cut at character boundaries (inwards),
/// never overlapping, and the number of bytes between them.
fn head_and_tail(s: &str, head: usize, tail: usize) -> (&str, &str, usize) {
    let mut h = head.min(s.len());
    while !s.is_char_boundary(h) {
        h -= 1;
    }
    let mut t = s.len() - tail.min(s.len() - h);
    while !s.is_char_boundary(t) {
        t += 1;
    }
    (&s[..h], &s[t..], t - h)
}

/// A finished command that failed, as the audit line records it: (error code, message).
/// `None` for a zero exit.
pub(crate) fn failure_in_result(result: &Value) -> Option<(String, String)> {
    let stderr = result.get("stderr").and_then(Value::as_str).unwrap_or("");
    let first_200 = || stderr.chars().take(200).collect::<String>();
    if result.get("timed_out") == Some(&Value::Bool(true)) {
        return Some(("TimeoutError".into(), first_200()));
    }
    match result.get("exit_code").and_then(Value::as_i64) {
        Some(code) if code != 0 => {
            let msg = if stderr.is_empty() {
                "Non-zero exit code".to_string()
            } else {
                first_200()
            };
            Some((format!("ExitCode:{code}"), msg))
        }
        _ => None,
    }
}

impl Outcome {
    /// The reference's result object, plus `signal`.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "exit_code": self.exit_code,
            "stderr": self.stderr,
            "stdout": self.stdout,
            "timed_out": self.timed_out,
        });
        if let (Some(s), Some(o)) = (&self.signal, v.as_object_mut()) {
            o.insert("signal".into(), Value::String(s.clone()));
        }
        v
    }
}

impl BashRunner {
    /// Build once at start-up. `env` is the scrubbed child environment.
    pub(crate) fn new(
        max_concurrent: u32,
        env: Vec<(OsString, OsString)>,
        jobs: crate::tools::jobs::JobLimits,
    ) -> Self {
        let n = max_concurrent.max(1) as usize;
        Self {
            jobs: Arc::new(crate::tools::jobs::JobTable::new(jobs)),
            shell: find_shell(),
            env,
            sem: Arc::new(Semaphore::new(n)),
            max_concurrent: n,
            inflight: Arc::new(Mutex::new(HashSet::new())),
            leftover: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Number of running shells.
    pub(crate) fn inflight(&self) -> usize {
        self.inflight.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Shutdown: SIGTERM every group, wait up to `grace` for them to go, SIGKILL the rest.
    pub(crate) async fn terminate_all(&self, grace: Duration) {
        let groups: Vec<i32> = match self.inflight.lock() {
            Ok(s) => s.iter().copied().collect(),
            Err(_) => return,
        };
        if groups.is_empty() {
            return;
        }
        tracing::info!(count = groups.len(), "terminating running commands");
        for g in &groups {
            killpg(*g, rustix::process::Signal::TERM);
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline && self.inflight() > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let left: Vec<i32> = match self.inflight.lock() {
            Ok(s) => s.iter().copied().collect(),
            Err(_) => return,
        };
        for g in left {
            tracing::warn!(pgid = g, "command ignored SIGTERM; killing it");
            killpg(g, rustix::process::Signal::KILL);
        }
    }

    /// Run one command: in the foreground (the reference's behaviour), as a background job
    /// (`background`), or in the foreground until `detach_after` and then as a job.
    pub(crate) async fn run(
        &self,
        args: Args,
        ctx: &crate::tools::Context,
        confine: Option<&crate::sandbox::RoShell>,
    ) -> Result<Value, ToolError> {
        let l = &ctx.services.limits;
        let (default_max, hard_max) = (l.bash_output, l.bash_output_hard);
        let as_job = args.background || args.detach_after.is_some();
        if as_job && confine.is_some() {
            return Err(ToolError::InvalidArguments(
                "background and detach_after need an rw token: an ro caller cannot read a job's output back".into(),
            ));
        }
        let job_limits = self.jobs.limits();
        // A background job takes a job slot, not a foreground one; a call that may detach
        // runs in the foreground first.
        let (job_slot, _permit) = if args.background {
            (Some(self.jobs.reserve()?), None)
        } else {
            let Ok(p) = self.sem.clone().try_acquire_owned() else {
                return Err(ToolError::Busy(format!(
                    "{} commands are already running (MYMCP_BASH_MAX_CONCURRENT={}); retry when one finishes",
                    self.max_concurrent, self.max_concurrent
                )));
            };
            (None, Some(p))
        };
        let timeout_s = if as_job {
            args.timeout
                .unwrap_or(3600)
                .clamp(1, job_limits.max_sec.min(i64::MAX as u64) as i64) as u64
        } else {
            args.timeout.unwrap_or(30).clamp(1, 600) as u64
        };
        let detach_at = args
            .detach_after
            .map(|d| Instant::now() + Duration::from_secs(d.clamp(1, 600) as u64));
        let cap = args
            .max_output_bytes
            .map(|m| m.clamp(1, hard_max as i64) as u64)
            .unwrap_or(default_max)
            .min(hard_max) as usize;
        // A job's buffers hold its unread output, up to the job cap.
        let buf_cap = if args.background {
            job_limits.output_max
        } else {
            cap
        };
        let dir = args.working_dir.as_deref().unwrap_or("/");
        check_working_dir(dir)?;

        // A confined call runs the shell through `mymcp confine-exec` (crate::sandbox), with
        // a private temp directory that is removed when `sandbox` drops, after the call.
        let sandbox = confine.map(crate::sandbox::RoShell::prepare).transpose()?;
        let mut cmd = match &sandbox {
            Some(s) => {
                let mut c = tokio::process::Command::new(&s.program);
                c.args(&s.args).arg("--").arg(&self.shell);
                c
            }
            None => tokio::process::Command::new(&self.shell),
        };
        cmd.arg("-c")
            .arg(&args.command)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .envs(
                sandbox
                    .iter()
                    .flat_map(|s| s.env.iter().map(|(k, v)| (k, v))),
            )
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(false);
        // Own process group (pgid = pid) so the whole job can be signalled at once. Not a
        // new session: setsid needs a pre_exec hook, which forces fork() instead of
        // posix_spawn and cost 25% of spawn throughput in the bench; stdin is /dev/null and
        // the service has no controlling terminal, so a session buys nothing here.
        cmd.process_group(0);
        let started = Instant::now();
        let mut child = cmd.spawn().map_err(|e| spawn_error(&e, dir, &self.shell))?;
        let pgid = child.id().map(|p| p as i32).unwrap_or(0);
        let mut guard = Inflight {
            set: self.inflight.clone(),
            pgid,
            done: false,
        };
        if let Ok(mut s) = self.inflight.lock() {
            s.insert(pgid);
        }
        let bytes = Arc::new(AtomicU64::new(0));
        let last_line = Arc::new(Mutex::new(String::new()));
        let changed = Arc::new(tokio::sync::Notify::new());
        let reader = |r| {
            spawn_reader(
                r,
                buf_cap,
                bytes.clone(),
                last_line.clone(),
                changed.clone(),
            )
        };
        let out = child.stdout.take().map(|r| reader(Box::new(r) as Pipe));
        let err = child.stderr.take().map(|r| reader(Box::new(r) as Pipe));

        let deadline = started + Duration::from_secs(timeout_s);
        let adopt = |child, guard, out, err| crate::tools::jobs::Adopt {
            child,
            pgid,
            inflight: guard,
            streams: [out, err],
            command: args.command.clone(),
            deadline,
            started,
        };
        if let Some(slot) = job_slot {
            let (job, _, _) =
                self.jobs
                    .adopt(slot, &ctx.caller, adopt(child, guard, out, err), None);
            return Ok(json!({"job_id": job.id(), "status": "running"}));
        }
        // Detaching needs a free job slot; when there is none the call stays in the
        // foreground (and says so in the log) rather than fail a command that is running.
        let mut may_detach = detach_at.is_some();
        let progress = &ctx.progress;
        let cancel = &ctx.cancel;
        let mut tick = tokio::time::interval_at(
            Instant::now() + Duration::from_secs(1),
            Duration::from_secs(1),
        );
        let status = loop {
            tokio::select! {
                st = child.wait() => break Ok(st),
                _ = tokio::time::sleep_until(deadline) => break Err(Cut::Timeout),
                _ = cancel.cancelled() => break Err(Cut::Cancelled),
                _ = tokio::time::sleep_until(detach_at.unwrap_or(deadline)), if may_detach => {
                    match self.jobs.reserve() {
                        Ok(slot) => {
                            let (job, stdout, stderr) = self.jobs.adopt(
                                slot,
                                &ctx.caller,
                                adopt(child, guard, out, err),
                                Some(cap),
                            );
                            return Ok(json!({
                                "job_id": job.id(),
                                "status": "running",
                                "exit_code": null,
                                "stdout": stdout,
                                "stderr": stderr,
                                "timed_out": false,
                            }));
                        }
                        Err(e) => {
                            tracing::warn!(
                                error = %e, "detach_after reached but no job slot is free; the command stays in the foreground"
                            );
                            may_detach = false;
                        }
                    }
                }
                _ = tick.tick(), if progress.is_some() => {
                    if let Some(p) = &progress {
                        let line = last_line.lock().map(|l| l.clone()).unwrap_or_default();
                        p.update(bytes.load(Ordering::Relaxed), line);
                    }
                }
            }
        };
        let (status, cut) = match status {
            Ok(st) => (st, None),
            Err(cut) => {
                let (st, killed) = stop_group(pgid, &mut child).await;
                (st, Some((cut, killed)))
            }
        };
        let timed_out = matches!(cut, Some((Cut::Timeout, _)));
        guard.done = true;
        let status = status.map_err(|e| ToolError::Os(format!("waiting for the command: {e}")))?;
        if sandbox.is_some() {
            // Nothing a confined command started outlives its call (no background work
            // for ro, and its temp directory is about to go).
            killpg(pgid, rustix::process::Signal::KILL);
        }

        // The shell is gone; give the pipes a moment, then take what we have.
        let mut stdout = String::new();
        let mut stderr = String::new();
        let drain_until = Instant::now() + DRAIN;
        for (s, dst) in [(out, &mut stdout), (err, &mut stderr)] {
            let Some(mut s) = s else { continue };
            if tokio::time::timeout_at(drain_until, &mut s.task)
                .await
                .is_err()
            {
                self.leave_draining(s.task);
            }
            if let Ok(b) = s.buf.lock() {
                *dst = b.render();
            }
        }
        drop(guard);

        let signal = status.signal().map(signal_name);
        let exit_code = status.code().unwrap_or(-1);
        if sandbox.is_some()
            && exit_code == crate::sandbox::CONFINE_FAILED
            && let Some(why) = stderr.strip_prefix(crate::sandbox::FAILURE_PREFIX)
        {
            // The helper could not confine itself, so the command never ran.
            return Err(ToolError::Os(format!(
                "the ro shell's sandbox could not be set up, nothing was run: {}",
                why.trim()
            )));
        }
        drop(sandbox);
        if let Some((Cut::Cancelled, killed)) = cut {
            return Err(ToolError::Cancelled(format!(
                "cancelled by the client: the command's process group got SIGTERM{}; its output was discarded",
                if killed {
                    format!(
                        " and, still running {} s later, SIGKILL",
                        KILL_GRACE.as_secs()
                    )
                } else {
                    String::new()
                }
            )));
        }
        if timed_out {
            if !stderr.is_empty() && !stderr.ends_with('\n') {
                stderr.push('\n');
            }
            stderr.push_str(&format!("Command timed out after {timeout_s}s"));
        }
        Ok(Outcome {
            exit_code: if timed_out { -1 } else { exit_code },
            signal,
            timed_out,
            stdout,
            stderr,
        }
        .to_json())
    }

    /// A background child still holds the pipe: keep the reader running (it discards into the
    /// bounded buffer) so the child does not get SIGPIPE, up to a limit of such readers.
    fn leave_draining(&self, task: tokio::task::JoinHandle<()>) {
        let n = self.leftover.fetch_add(1, Ordering::Relaxed);
        if n >= MAX_LEFTOVER_DRAINERS {
            self.leftover.fetch_sub(1, Ordering::Relaxed);
            task.abort();
            return;
        }
        let counter = self.leftover.clone();
        tokio::spawn(async move {
            let _ = task.await;
            counter.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

fn check_working_dir(dir: &str) -> Result<(), ToolError> {
    let p = require_absolute(dir, "working_dir")?;
    match std::fs::metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ToolError::FileNotFound {
            message: format!("Working directory not found: {dir}"),
            suggestion: Some("Check that the working_dir path exists"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(ToolError::Permission {
            message: format!("{e}: {dir}"),
            suggestion: "Check directory permissions",
        }),
        Err(e) => Err(ToolError::Os(format!("{dir}: {e}"))),
        Ok(m) if !m.is_dir() => Err(ToolError::Os(format!(
            "Working directory is not a directory: {dir}"
        ))),
        Ok(_) => match rustix::fs::access(p, rustix::fs::Access::EXEC_OK) {
            Ok(()) => Ok(()),
            Err(e) => Err(ToolError::Permission {
                message: format!("{}: {dir}", std::io::Error::from(e)),
                suggestion: "Check directory permissions",
            }),
        },
    }
}

fn spawn_error(e: &std::io::Error, dir: &str, shell: &Path) -> ToolError {
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => ToolError::Permission {
            message: format!("{e}: {dir}"),
            suggestion: "Check directory permissions",
        },
        _ => ToolError::Os(format!("cannot start {}: {e}", shell.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_tail_keeps_everything_under_the_cap() {
        let mut h = HeadTail::new(10);
        h.push(b"hello");
        h.push(b" you");
        assert_eq!(h.render(), "hello you");
        h.push(b"!");
        assert_eq!(h.render(), "hello you!");
    }

    #[test]
    fn head_tail_drops_the_middle_with_a_marker() {
        let mut h = HeadTail::new(10);
        for _ in 0..1000 {
            h.push(b"0123456789");
        }
        h.push(b"END");
        let r = h.render();
        assert!(
            r.starts_with("01234\n[TRUNCATED: total 10003 bytes; 9993 bytes dropped"),
            "{r}"
        );
        assert!(r.ends_with("]\n89END"), "{r}");
        assert_eq!(h.total, 10003);
        // Memory stays at the cap.
        assert_eq!(h.head.len() + h.tail.len(), 10);
    }

    #[test]
    fn seams_do_not_mangle_utf8() {
        let mut h = HeadTail::new(6);
        h.push("ééééééééé".as_bytes()); // 18 bytes
        let r = h.render();
        assert!(!r.contains('\u{fffd}'), "{r}");
    }

    #[test]
    fn audit_head_and_tail() {
        assert_eq!(head_and_tail("abcdef", 2, 2), ("ab", "ef", 2));
        assert_eq!(head_and_tail("abc", 2, 4), ("ab", "c", 0));
        assert_eq!(head_and_tail("abc", 0, 0), ("", "", 3));
        // "é" is two bytes: a cut inside it moves inwards.
        assert_eq!(head_and_tail("aébcé", 2, 1), ("a", "", 6));
        let v = json!({"exit_code": 0, "stdout": "hello world", "timed_out": false});
        assert!(audit_summary(&v, 0, 0).get("stdout_head").is_none());
        let s = audit_summary(&v, 5, 5);
        assert_eq!(s["stdout_head"], "hello");
        assert_eq!(s["stdout_tail"], "world");
        assert_eq!(s["stdout_truncated_bytes"], 1);
    }

    #[test]
    fn last_line_and_signal_names() {
        assert_eq!(last_full_line(b"a\nbb\nccc"), Some(&b"bb"[..]));
        assert_eq!(last_full_line(b"x\r\n"), Some(&b"x"[..]));
        assert_eq!(last_full_line(b"no newline"), None);
        assert_eq!(signal_name(9), "SIGKILL");
        assert_eq!(signal_name(40), "SIG40");
    }
}
