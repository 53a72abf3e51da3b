//! Background jobs: commands that outlive the call that started them (`bash_execute` with
//! `background`, or a foreground call that passed `detach_after`), read with `job_output`,
//! signalled with `job_kill` and listed with `job_list`.
//!
//! A job belongs to the caller that started it; to anyone else it does not exist
//! (`JobNotFound`, the same answer as for an id never issued, so ids cannot be probed). Its
//! unread output is kept per stream within a cap (first and last halves, like a foreground
//! call's), and `job_output` hands out what arrived since the previous read. A disconnect
//! never touches a job; the job's own time limit, `job_kill` and server shutdown do.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::caller::Caller;
use crate::error::ToolError;
use crate::tools::bash::{self, HeadTail};

/// The description `tools/list` shows for `job_output`.
pub(crate) const OUTPUT_DESCRIPTION: &str = "Read a background job's output and status \
(a job started by bash_execute with background=true, or one that outlived detach_after). \
Returns status (running, exited, killed, timed_out), exit_code (null while running), signal, \
and the stdout/stderr written since your previous job_output of this job (first and last \
halves within max_output_bytes, with a [TRUNCATED: ...] marker). With wait (0-50 s, default 0) \
the call waits until new output arrives or the job ends, at most that long: poll with \
wait=30 instead of calling in a tight loop. Only the caller that started a job can see it.";

/// The description `tools/list` shows for `job_kill`.
pub(crate) const KILL_DESCRIPTION: &str = "Send a signal to a background job's whole process \
group: TERM (default), KILL, INT or HUP. Returns the job's status after waiting up to 1 s for \
it to end; job_output then returns what it printed last.";

/// The description `tools/list` shows for `job_list`.
pub(crate) const LIST_DESCRIPTION: &str = "List your background jobs, running and finished \
(finished jobs are kept for MYMCP_JOB_RETENTION_SEC, default 1 hour): job_id, status, the \
command (first 200 characters), started_at and exit_code.";

/// `job_output` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputArgs {
    /// The id bash_execute returned
    pub(crate) job_id: String,
    /// Seconds to wait for new output or the end of the job (0-50, default 0)
    pub(crate) wait: Option<i64>,
    /// Cap per stream in bytes (default 102400)
    pub(crate) max_output_bytes: Option<i64>,
}

/// A signal `job_kill` may send: TERM asks the job to stop, KILL stops it now, INT is what
/// Ctrl-C sends, HUP makes many daemons reload. (No doc comments on the variants: schemars
/// would then describe each one in a `oneOf` instead of the plain `enum` clients expect.)
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum SignalName {
    #[default]
    Term,
    Kill,
    Int,
    Hup,
}

impl SignalName {
    fn signal(self) -> rustix::process::Signal {
        match self {
            SignalName::Term => rustix::process::Signal::TERM,
            SignalName::Kill => rustix::process::Signal::KILL,
            SignalName::Int => rustix::process::Signal::INT,
            SignalName::Hup => rustix::process::Signal::HUP,
        }
    }
}

/// `job_kill` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct KillArgs {
    /// The id bash_execute returned
    pub(crate) job_id: String,
    /// TERM (default), KILL, INT or HUP
    pub(crate) signal: Option<SignalName>,
}

/// `job_list` arguments (none).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListArgs {}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Still running.
    Running,
    /// Ended by itself (an exit, or a signal nobody here sent).
    Exited,
    /// Ended after a `job_kill`.
    Killed,
    /// Ended because its time limit passed.
    TimedOut,
}

impl Status {
    /// The wire and label name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Exited => "exited",
            Status::Killed => "killed",
            Status::TimedOut => "timed_out",
        }
    }
}

/// The job settings from the configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobLimits {
    /// `MYMCP_JOB_MAX_SEC`.
    pub(crate) max_sec: u64,
    /// `MYMCP_JOBS_MAX_RUNNING`.
    pub(crate) max_running: usize,
    /// `MYMCP_JOB_OUTPUT_MAX_BYTES`.
    pub(crate) output_max: usize,
    /// `MYMCP_JOB_RETENTION_SEC`.
    pub(crate) retention: Duration,
}

/// Finished jobs kept at most, whatever their age: each can hold two full output buffers, so
/// the unread output the server holds stays under (running + this) × 2 × the job cap
/// (with the defaults (16 + 64) × 2 × 8 MiB).
const MAX_FINISHED: usize = 64;

/// A job's end, as the audit line and the metrics record it.
pub(crate) struct JobEnd<'a> {
    /// The job.
    pub(crate) job: &'a Job,
    /// How it ended.
    pub(crate) status: Status,
    /// The shell's exit code (-1 after a signal).
    pub(crate) exit_code: i32,
    /// The signal that ended the shell, if one did.
    pub(crate) signal: Option<String>,
    /// From start to end.
    pub(crate) duration: Duration,
}

/// Told when a job ends (implemented where the audit log and metrics live).
pub(crate) trait JobObserver: Send + Sync {
    /// One job ended.
    fn ended(&self, end: &JobEnd<'_>);
}

/// What changes while a job runs.
#[derive(Debug)]
struct JobState {
    status: Status,
    exit_code: Option<i32>,
    signal: Option<String>,
    ended: Option<Instant>,
    /// RFC 3339 time of the end (MCP tasks report `lastUpdatedAt`).
    ended_at: Option<String>,
}

/// A job as an MCP task reports it.
#[derive(Debug, Clone)]
pub(crate) struct JobInfo {
    /// The job id (the task id).
    pub(crate) id: String,
    /// Where it is.
    pub(crate) status: Status,
    /// Ended by `tasks/cancel`.
    pub(crate) cancelled: bool,
    /// RFC 3339 start.
    pub(crate) started_at: String,
    /// RFC 3339 end, or the start while it runs.
    pub(crate) updated_at: String,
    /// The shell's exit code, once it ended.
    pub(crate) exit_code: Option<i32>,
    /// The signal that ended it, if one did.
    pub(crate) signal: Option<String>,
}

/// One background job.
pub(crate) struct Job {
    id: String,
    owner: Caller,
    command: String,
    started_at: String,
    started: Instant,
    pgid: i32,
    state: Mutex<JobState>,
    /// New output or the end: wakes `job_output` waiters.
    changed: Arc<Notify>,
    kill_requested: AtomicBool,
    /// Stopped through `tasks/cancel`: the task reports `cancelled`.
    cancelled: AtomicBool,
    /// A task's result, once taken from the buffers: every later `tasks/result` or
    /// `tasks/get` returns the same output.
    final_output: Mutex<Option<(String, String)>>,
    stdout: Arc<Mutex<HeadTail>>,
    stderr: Arc<Mutex<HeadTail>>,
}

impl Job {
    /// The caller that started it.
    pub(crate) fn owner(&self) -> &Caller {
        &self.owner
    }

    /// Its id.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    fn snapshot(&self) -> (Status, Option<i32>, Option<String>) {
        match self.state.lock() {
            Ok(s) => (s.status, s.exit_code, s.signal.clone()),
            Err(p) => {
                let s = p.into_inner();
                (s.status, s.exit_code, s.signal.clone())
            }
        }
    }

    fn has_unread(&self) -> bool {
        [&self.stdout, &self.stderr]
            .iter()
            .any(|b| b.lock().is_ok_and(|b| b.total() > 0))
    }

    /// Take the unread output of one stream, within `cap` bytes.
    fn take(&self, buf: &Mutex<HeadTail>, cap: usize, keep: usize) -> String {
        let old = match buf.lock() {
            Ok(mut b) => std::mem::replace(&mut *b, HeadTail::new(keep)),
            Err(_) => return String::new(),
        };
        old.shrink(cap).render()
    }
}

/// The jobs of this server.
pub(crate) struct JobTable {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
    limits: JobLimits,
    running: Arc<Semaphore>,
    observer: OnceLock<Arc<dyn JobObserver>>,
}

/// A reserved running-job slot, held by the job until it ends.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

/// A command already running that becomes a job: its shell, group, in-flight registration
/// and output streams (whose buffers the job takes over).
pub(crate) struct Adopt {
    /// The shell.
    pub(crate) child: tokio::process::Child,
    /// Its process group.
    pub(crate) pgid: i32,
    /// Keeps the group in the runner's set (shutdown signals it) until the job ends.
    pub(crate) inflight: bash::Inflight,
    /// stdout and stderr readers.
    pub(crate) streams: [Option<bash::Stream>; 2],
    /// The command line, as given.
    pub(crate) command: String,
    /// When it must end.
    pub(crate) deadline: Instant,
    /// When it started.
    pub(crate) started: Instant,
}

impl JobTable {
    /// An empty table.
    pub(crate) fn new(limits: JobLimits) -> Self {
        Self {
            jobs: Mutex::default(),
            running: Arc::new(Semaphore::new(limits.max_running.max(1))),
            limits,
            observer: OnceLock::new(),
        }
    }

    /// The settings.
    pub(crate) fn limits(&self) -> JobLimits {
        self.limits
    }

    /// Who hears about jobs ending (set once, at start-up).
    pub(crate) fn observe(&self, o: Arc<dyn JobObserver>) {
        let _ = self.observer.set(o);
    }

    /// Jobs running now.
    pub(crate) fn running(&self) -> usize {
        self.limits
            .max_running
            .max(1)
            .saturating_sub(self.running.available_permits())
    }

    /// A running-job slot, or `Busy`.
    pub(crate) fn reserve(&self) -> Result<Slot, ToolError> {
        self.running
            .clone()
            .try_acquire_owned()
            .map(|p| Slot { _permit: p })
            .map_err(|_| {
                ToolError::Busy(format!(
                    "{} background jobs are already running (MYMCP_JOBS_MAX_RUNNING); wait for one to end or stop one with job_kill",
                    self.limits.max_running
                ))
            })
    }

    /// Make `run` a job of `owner`, supervised until it ends. With `so_far` (a call that
    /// detaches and reports the output so far) its output buffers are emptied into new ones
    /// of the job's size, and what they held is returned (stdout, stderr) within that many
    /// bytes each. Without it (a background start, whose buffers already have the job's size)
    /// the buffers are kept as they are: what the command printed before this is the job's
    /// first output, not lost.
    pub(crate) fn adopt(
        self: &Arc<Self>,
        slot: Slot,
        owner: &Caller,
        run: Adopt,
        so_far: Option<usize>,
    ) -> (Arc<Job>, String, String) {
        let keep = self.limits.output_max;
        let mut taken = [String::new(), String::new()];
        let mut bufs = Vec::with_capacity(2);
        for (i, s) in run.streams.iter().enumerate() {
            let buf = s
                .as_ref()
                .map(|s| s.buf.clone())
                .unwrap_or_else(|| Arc::new(Mutex::new(HeadTail::new(keep))));
            if let Some(cap) = so_far
                && let Ok(mut b) = buf.lock()
            {
                let old = std::mem::replace(&mut *b, HeadTail::new(keep));
                taken[i] = old.shrink(cap).render();
            }
            bufs.push(buf);
        }
        let changed = run
            .streams
            .iter()
            .flatten()
            .map(|s| s.changed.clone())
            .next()
            .unwrap_or_default();
        let (stderr, stdout) = (bufs.pop(), bufs.pop());
        let job = Arc::new(Job {
            id: format!("job_{}", hex::encode(rand::random::<[u8; 12]>())),
            owner: owner.clone(),
            command: run.command.clone(),
            started_at: crate::clock::now_rfc3339(),
            started: run.started,
            pgid: run.pgid,
            state: Mutex::new(JobState {
                status: Status::Running,
                exit_code: None,
                signal: None,
                ended: None,
                ended_at: None,
            }),
            changed,
            kill_requested: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            final_output: Mutex::new(None),
            stdout: stdout.unwrap_or_else(|| Arc::new(Mutex::new(HeadTail::new(keep)))),
            stderr: stderr.unwrap_or_else(|| Arc::new(Mutex::new(HeadTail::new(keep)))),
        });
        if let Ok(mut m) = self.jobs.lock() {
            prune(&mut m, self.limits.retention);
            m.insert(job.id.clone(), job.clone());
        }
        tracing::info!(
            job_id = %job.id, token = %owner.identity.name(), pgid = run.pgid,
            "command continues as a background job"
        );
        let table = self.clone();
        let j = job.clone();
        tokio::spawn(async move { table.supervise(j, run, slot).await });
        let [out, err] = taken;
        (job, out, err)
    }

    /// Wait for the job's end (or its limit), record it, tell the observer.
    async fn supervise(&self, job: Arc<Job>, run: Adopt, slot: Slot) {
        let Adopt {
            mut child,
            pgid,
            mut inflight,
            streams,
            deadline,
            ..
        } = run;
        let ended = tokio::select! {
            st = child.wait() => Ok(st),
            _ = tokio::time::sleep_until(deadline) => Err(()),
        };
        let (st, timed_out) = match ended {
            Ok(st) => (st, false),
            Err(()) => (bash::stop_group(pgid, &mut child).await.0, true),
        };
        inflight.done = true;
        // The last output the shell wrote is in the pipes: give the readers a moment, so a
        // `job_output` that sees the end also sees everything before it.
        let until = Instant::now() + bash::DRAIN;
        for s in streams.into_iter().flatten() {
            let _ = tokio::time::timeout_at(until, s.task).await;
        }
        let (exit_code, signal) = match &st {
            Ok(st) => (st.code().unwrap_or(-1), st.signal().map(bash::signal_name)),
            Err(_) => (-1, None),
        };
        let status = if timed_out {
            Status::TimedOut
        } else if job.kill_requested.load(Ordering::Relaxed) {
            Status::Killed
        } else {
            Status::Exited
        };
        // The slot is free before anyone can see the job ended, so a caller that starts the
        // next job on seeing `exited` is not refused.
        drop(slot);
        let now = Instant::now();
        if let Ok(mut s) = job.state.lock() {
            s.status = status;
            s.exit_code = Some(if timed_out { -1 } else { exit_code });
            s.signal = signal.clone();
            s.ended = Some(now);
            s.ended_at = Some(crate::clock::now_rfc3339());
        }
        job.changed.notify_waiters();
        let duration = now.duration_since(job.started);
        tracing::info!(
            job_id = %job.id, status = status.as_str(), exit_code,
            duration_ms = duration.as_millis() as u64, "background job ended"
        );
        if let Some(o) = self.observer.get() {
            o.ended(&JobEnd {
                job: &job,
                status,
                exit_code: if timed_out { -1 } else { exit_code },
                signal,
                duration,
            });
        }
        // Only now does the group leave the in-flight set: shutdown waits for that set to
        // empty, and the job's end must be in the audit log before the server exits.
        drop(inflight);
    }

    /// `caller`'s job `id`, or `JobNotFound` (also for another caller's job).
    fn get(&self, caller: &Caller, id: &str) -> Result<Arc<Job>, ToolError> {
        let found = self.jobs.lock().ok().and_then(|mut m| {
            prune(&mut m, self.limits.retention);
            m.get(id).cloned()
        });
        match found {
            Some(j) if j.owner.identity.id() == caller.identity.id() => Ok(j),
            _ => Err(ToolError::JobNotFound(format!(
                "No job {} among yours (finished jobs are forgotten after {} s); job_list shows them",
                crate::audit::cap_str(id),
                self.limits.retention.as_secs()
            ))),
        }
    }

    /// `caller`'s job `id` as a task sees it.
    pub(crate) fn info(&self, caller: &Caller, id: &str) -> Result<JobInfo, ToolError> {
        Ok(info_of(&*self.get(caller, id)?))
    }

    /// `caller`'s jobs, oldest first (finished ones past their retention forgotten first).
    fn mine(&self, caller: &Caller) -> Vec<Arc<Job>> {
        let mut mine: Vec<Arc<Job>> = match self.jobs.lock() {
            Ok(mut m) => {
                prune(&mut m, self.limits.retention);
                m.values()
                    .filter(|j| j.owner.identity.id() == caller.identity.id())
                    .cloned()
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        mine.sort_by_key(|j| j.started);
        mine
    }

    /// `caller`'s jobs as tasks see them, oldest first.
    pub(crate) fn infos(&self, caller: &Caller) -> Vec<JobInfo> {
        self.mine(caller).iter().map(|j| info_of(j)).collect()
    }

    /// Wait until `caller`'s job `id` ends (or `cancel`), then take all its unread output
    /// within `cap` bytes per stream: a task's result.
    pub(crate) async fn finish(
        &self,
        caller: &Caller,
        id: &str,
        cap: usize,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<(JobInfo, String, String), ToolError> {
        let job = self.get(caller, id)?;
        loop {
            let changed = job.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if job.snapshot().0 != Status::Running {
                break;
            }
            tokio::select! {
                _ = &mut changed => {}
                _ = cancel.cancelled() => {
                    return Err(ToolError::Cancelled("the client stopped waiting".into()));
                }
            }
        }
        let (stdout, stderr) = self.final_output(&job, cap);
        Ok((info_of(&job), stdout, stderr))
    }

    /// `caller`'s job `id` as a task, with its result (stdout, stderr within `cap`) once it
    /// has ended.
    pub(crate) fn info_with_result(
        &self,
        caller: &Caller,
        id: &str,
        cap: usize,
    ) -> Result<(JobInfo, Option<(String, String)>), ToolError> {
        let job = self.get(caller, id)?;
        if job.snapshot().0 == Status::Running {
            return Ok((info_of(&job), None));
        }
        let out = self.final_output(&job, cap);
        Ok((info_of(&job), Some(out)))
    }

    /// The output of an ended job as a task's result: taken from the buffers once, then kept.
    fn final_output(&self, job: &Job, cap: usize) -> (String, String) {
        let Ok(mut kept) = job.final_output.lock() else {
            return (String::new(), String::new());
        };
        if let Some(out) = kept.as_ref() {
            return out.clone();
        }
        let keep = self.limits.output_max;
        let out = (
            job.take(&job.stdout, cap, keep),
            job.take(&job.stderr, cap, keep),
        );
        *kept = Some(out.clone());
        out
    }

    /// `tasks/cancel`: SIGTERM to a running job of `caller`, which then reports `cancelled`.
    /// `Ok(false)` when it had already ended.
    pub(crate) fn cancel_task(&self, caller: &Caller, id: &str) -> Result<bool, ToolError> {
        let job = self.get(caller, id)?;
        if job.snapshot().0 != Status::Running {
            return Ok(false);
        }
        job.cancelled.store(true, Ordering::Relaxed);
        job.kill_requested.store(true, Ordering::Relaxed);
        bash::killpg(job.pgid, rustix::process::Signal::TERM);
        Ok(true)
    }

    /// `job_output`.
    pub(crate) async fn output(
        &self,
        caller: &Caller,
        args: OutputArgs,
        (default_max, hard_max): (u64, u64),
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<Value, ToolError> {
        let job = self.get(caller, &args.job_id)?;
        let wait = Duration::from_secs(args.wait.unwrap_or(0).clamp(0, 50) as u64);
        let cap = args
            .max_output_bytes
            .map(|m| m.clamp(1, hard_max as i64) as u64)
            .unwrap_or(default_max)
            .min(hard_max) as usize;
        let until = Instant::now() + wait;
        loop {
            // Registered before the checks, so a change between them and the wait is seen.
            let changed = job.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if job.has_unread() || job.snapshot().0 != Status::Running || Instant::now() >= until {
                break;
            }
            tokio::select! {
                _ = &mut changed => {}
                _ = tokio::time::sleep_until(until) => break,
                _ = cancel.cancelled() => break,
            }
        }
        let keep = self.limits.output_max;
        let stdout = job.take(&job.stdout, cap, keep);
        let stderr = job.take(&job.stderr, cap, keep);
        let (status, exit_code, signal) = job.snapshot();
        let mut v = json!({
            "job_id": job.id,
            "status": status,
            "exit_code": exit_code,
            "stdout": stdout,
            "stderr": stderr,
        });
        if let (Some(s), Some(o)) = (signal, v.as_object_mut()) {
            o.insert("signal".into(), Value::String(s));
        }
        Ok(v)
    }

    /// `job_kill`.
    pub(crate) async fn kill(&self, caller: &Caller, args: KillArgs) -> Result<Value, ToolError> {
        let job = self.get(caller, &args.job_id)?;
        let sig = args.signal.unwrap_or_default();
        let changed = job.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if job.snapshot().0 == Status::Running {
            job.kill_requested.store(true, Ordering::Relaxed);
            bash::killpg(job.pgid, sig.signal());
            // Most jobs end at once; a short wait lets the reply say so.
            let until = Instant::now() + Duration::from_secs(1);
            while job.snapshot().0 == Status::Running {
                tokio::select! {
                    _ = &mut changed => {
                        changed.set(job.changed.notified());
                        changed.as_mut().enable();
                    }
                    _ = tokio::time::sleep_until(until) => break,
                }
            }
        }
        let (status, exit_code, signal) = job.snapshot();
        let mut v = json!({"job_id": job.id, "status": status, "exit_code": exit_code});
        if let (Some(s), Some(o)) = (signal, v.as_object_mut()) {
            o.insert("signal".into(), Value::String(s));
        }
        Ok(v)
    }

    /// `job_list`.
    pub(crate) fn list(&self, caller: &Caller) -> Value {
        let jobs: Vec<Value> = self
            .mine(caller)
            .iter()
            .map(|j| {
                let (status, exit_code, _) = j.snapshot();
                json!({
                    "job_id": j.id,
                    "status": status,
                    "command": j.command.chars().take(200).collect::<String>(),
                    "started_at": j.started_at,
                    "exit_code": exit_code,
                })
            })
            .collect();
        json!({ "jobs": jobs })
    }
}

fn info_of(j: &Job) -> JobInfo {
    let (status, exit_code, signal) = j.snapshot();
    let ended_at = j.state.lock().ok().and_then(|s| s.ended_at.clone());
    JobInfo {
        id: j.id.clone(),
        status,
        cancelled: j.cancelled.load(Ordering::Relaxed),
        started_at: j.started_at.clone(),
        updated_at: ended_at.unwrap_or_else(|| j.started_at.clone()),
        exit_code,
        signal,
    }
}

/// Forget finished jobs older than `retention`, and the oldest finished beyond
/// [`MAX_FINISHED`].
fn prune(m: &mut HashMap<String, Arc<Job>>, retention: Duration) {
    let now = Instant::now();
    let ended = |j: &Job| j.state.lock().ok().and_then(|s| s.ended);
    m.retain(|_, j| ended(j).is_none_or(|e| now.duration_since(e) < retention));
    let mut finished: Vec<(Instant, String)> = m
        .values()
        .filter_map(|j| ended(j).map(|e| (e, j.id.clone())))
        .collect();
    if finished.len() > MAX_FINISHED {
        finished.sort();
        for (_, id) in finished.iter().take(finished.len() - MAX_FINISHED) {
            m.remove(id);
        }
    }
}
