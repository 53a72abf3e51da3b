//! The recorder: keeps an LLM-written map of this host (`overview.md`, `changelog.md`) in
//! step with the mutating calls in the audit log. Runs as `mymcp recorder`, its own service.
//!
//! One cycle: read up to `MAX_EVENTS_PER_CYCLE` mutating events past the cursor; without an
//! overview, bootstrap one from fixed read-only probes; otherwise ask the model to fold the
//! events in, validate its answer, write overview and changelog atomically, and only then
//! advance the cursor. Any failure leaves the files and the cursor as they were.

pub(crate) mod events;
pub(crate) mod llm;
mod metrics;
mod prompt;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::clock::{format_utc, now_unix};
use crate::config::{self, EnvSource, Lookup};
use crate::error::{PathIo, io_at};
use events::{Batch, Cursor};
use llm::{LlmClient, LlmConfig, Provider};
pub(crate) use metrics::RecorderMetrics;

/// Why the recorder could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecorderError {
    /// Bad or missing setting.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A recorder setting that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// HTTP client could not be built.
    #[error(transparent)]
    Llm(#[from] llm::LlmError),
    /// Data directory problem.
    #[error(transparent)]
    Io(#[from] PathIo),
}

/// Every recorder setting, resolved (process env > env file > default).
#[derive(Debug, Clone)]
pub(crate) struct RecorderConfig {
    /// `MYMCP_RECORDER_ENABLED`.
    pub(crate) enabled: bool,
    /// `MYMCP_RECORDER_DATA_DIR`.
    pub(crate) data_dir: PathBuf,
    /// `MYMCP_AUDIT_LOG_DIR` (where the events come from).
    pub(crate) audit_dir: PathBuf,
    /// `MYMCP_RECORDER_MERGE_INTERVAL_SEC`.
    pub(crate) merge_interval: Duration,
    /// `MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE`.
    pub(crate) max_events_per_cycle: usize,
    /// `MYMCP_RECORDER_BOOTSTRAP_MAX_ITERATIONS`: at most this many probes run.
    pub(crate) bootstrap_max_iterations: usize,
    /// `MYMCP_RECORDER_BOOTSTRAP_TOKEN_BUDGET`: prompt plus answer, estimated up front.
    pub(crate) bootstrap_token_budget: u64,
    /// `MYMCP_RECORDER_BOOTSTRAP_PROBE_TIMEOUT_SEC`.
    pub(crate) bootstrap_probe_timeout: Duration,
    /// `MYMCP_RECORDER_BOOTSTRAP_RETRY_INTERVAL_SEC`.
    pub(crate) bootstrap_retry_interval: Duration,
    /// `MYMCP_RECORDER_CIRCUIT_BREAKER_THRESHOLD` (0: never open).
    pub(crate) breaker_threshold: u32,
    /// `MYMCP_RECORDER_LLM_*`.
    pub(crate) llm: LlmConfig,
}

impl RecorderConfig {
    /// Resolve from the process environment and the env file.
    pub(crate) fn resolve(
        env: &BTreeMap<String, String>,
        source: &EnvSource,
    ) -> Result<RecorderConfig, RecorderError> {
        let cfg = config::Config::resolve(env, source)?;
        let l = Lookup::new(env, source.file());
        let provider_s = l.string("MYMCP_RECORDER_LLM_PROVIDER", "anthropic");
        let provider = Provider::parse(&provider_s).ok_or_else(|| {
            RecorderError::Invalid(format!(
                "MYMCP_RECORDER_LLM_PROVIDER: {provider_s:?} is not anthropic or openai"
            ))
        })?;
        let model = l
            .get("MYMCP_RECORDER_LLM_MODEL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(provider.default_model())
            .to_string();
        let base_url = l
            .get("MYMCP_RECORDER_LLM_BASE_URL")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or(provider.default_base_url())
            .trim_end_matches('/')
            .to_string();
        let api_key = l.string("MYMCP_RECORDER_LLM_API_KEY", "");
        Ok(RecorderConfig {
            enabled: cfg.recorder_enabled,
            data_dir: cfg.recorder_data_dir.clone(),
            audit_dir: cfg.audit_log_dir.clone(),
            merge_interval: Duration::from_secs(cfg.recorder_merge_interval_sec),
            max_events_per_cycle: l.uint("MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE", 50, 1)? as usize,
            bootstrap_max_iterations: l.uint("MYMCP_RECORDER_BOOTSTRAP_MAX_ITERATIONS", 200, 1)?
                as usize,
            bootstrap_token_budget: l.uint(
                "MYMCP_RECORDER_BOOTSTRAP_TOKEN_BUDGET",
                10_000_000,
                1000,
            )?,
            bootstrap_probe_timeout: Duration::from_secs(l.uint(
                "MYMCP_RECORDER_BOOTSTRAP_PROBE_TIMEOUT_SEC",
                30,
                1,
            )?),
            bootstrap_retry_interval: Duration::from_secs(l.uint(
                "MYMCP_RECORDER_BOOTSTRAP_RETRY_INTERVAL_SEC",
                3600,
                0,
            )?),
            breaker_threshold: l.uint("MYMCP_RECORDER_CIRCUIT_BREAKER_THRESHOLD", 5, 0)? as u32,
            llm: LlmConfig {
                provider,
                model,
                api_key: crate::secret::Secret::new(api_key),
                base_url,
                max_tokens: l.uint("MYMCP_RECORDER_LLM_MAX_TOKENS", 32768, 16)?,
                timeout: Duration::from_secs(l.uint("MYMCP_RECORDER_LLM_TIMEOUT_SEC", 120, 1)?),
                retries: l.uint("MYMCP_RECORDER_LLM_RETRIES", 2, 0)? as u32,
                backoff: Duration::from_millis(l.uint(
                    "MYMCP_RECORDER_LLM_RETRY_BACKOFF_MS",
                    1000,
                    0,
                )?),
            },
        })
    }

    fn overview_dir(&self) -> PathBuf {
        self.data_dir.join("overview")
    }
    /// `overview/overview.md`.
    pub(crate) fn overview_path(&self) -> PathBuf {
        self.overview_dir().join("overview.md")
    }
    /// `overview/changelog.md`.
    pub(crate) fn changelog_path(&self) -> PathBuf {
        self.overview_dir().join("changelog.md")
    }
    /// `cursor.json`.
    pub(crate) fn cursor_path(&self) -> PathBuf {
        self.data_dir.join("cursor.json")
    }
    fn state_path(&self) -> PathBuf {
        self.data_dir.join("state.json")
    }
    /// `metrics.prom`: the recorder's series, served by the server's `/metrics`.
    pub(crate) fn metrics_path(&self) -> PathBuf {
        self.data_dir.join("metrics.prom")
    }
}

/// What one cycle came to (the `reason` label of `mymcp_recorder_merge_cycles_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// Overview (and changelog) written, cursor advanced.
    Success,
    /// Nothing new; no LLM call.
    NoEvents,
    /// No overview and bootstrap not due yet.
    BootstrapRequired,
    /// Transport, timeout or HTTP error.
    LlmError,
    /// The model hit `max_tokens`.
    MaxTokens,
    /// Empty answer.
    Empty,
    /// Not the JSON (or Markdown) asked for.
    Unparseable,
    /// JSON, but fields missing, wrong or out of bounds.
    SchemaInvalid,
    /// Writing the files failed.
    ApplyError,
    /// Breaker open and nothing new past the high-water mark: skipped, not counted.
    CircuitOpen,
}

impl Reason {
    /// Label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Reason::Success => "success",
            Reason::NoEvents => "no_events",
            Reason::BootstrapRequired => "bootstrap_required",
            Reason::LlmError => "llm_error",
            Reason::MaxTokens => "max_tokens",
            Reason::Empty => "empty",
            Reason::Unparseable => "unparseable",
            Reason::SchemaInvalid => "schema_invalid",
            Reason::ApplyError => "apply_error",
            Reason::CircuitOpen => "circuit_open",
        }
    }

    fn is_failure(self) -> bool {
        matches!(
            self,
            Reason::LlmError
                | Reason::MaxTokens
                | Reason::Empty
                | Reason::Unparseable
                | Reason::SchemaInvalid
                | Reason::ApplyError
        )
    }
}

/// What survives restarts besides the cursor: breaker and timestamps (`state.json`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct State {
    /// Failed cycles in a row.
    pub(crate) consecutive_failures: u32,
    /// Breaker tripped.
    pub(crate) circuit_open: bool,
    /// Newest event seen by the last failed attempt: while open, only an event past it
    /// triggers a retry.
    pub(crate) high_water: Option<Cursor>,
    /// Unix seconds of the last cycle that called the model (0: never).
    pub(crate) last_attempt: u64,
    /// Unix seconds of the last success (0: never).
    pub(crate) last_success: u64,
    /// Unix seconds of the last bootstrap attempt (0: never).
    pub(crate) last_bootstrap: u64,
}

/// The recorder with its client, metrics and persisted state.
pub(crate) struct Recorder {
    cfg: RecorderConfig,
    client: LlmClient,
    metrics: RecorderMetrics,
    state: State,
    pending: events::PendingCounter,
}

impl Recorder {
    /// Set up: data directories, HTTP client, persisted state.
    pub(crate) fn new(cfg: RecorderConfig) -> Result<Recorder, RecorderError> {
        if cfg.llm.api_key.is_empty() && cfg.llm.base_url == cfg.llm.provider.default_base_url() {
            return Err(RecorderError::Invalid(
                "MYMCP_RECORDER_LLM_API_KEY is not set (needed for the provider's public API)"
                    .into(),
            ));
        }
        let od = cfg.overview_dir();
        crate::fsutil::create_private_dir(&cfg.data_dir).map_err(io_at(&cfg.data_dir))?;
        std::fs::create_dir_all(&od).map_err(io_at(&od))?;
        let state = std::fs::read(cfg.state_path())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let client = LlmClient::new(cfg.llm.clone())?;
        let metrics = RecorderMetrics::new();
        Ok(Recorder {
            cfg,
            client,
            metrics,
            state,
            pending: Default::default(),
        })
    }

    /// Run one cycle and record its outcome.
    pub(crate) async fn cycle(&mut self) -> Reason {
        let started = Instant::now();
        let reason = self.cycle_inner().await;
        if reason != Reason::CircuitOpen {
            self.metrics.cycle(reason, started.elapsed());
        }
        if reason.is_failure() {
            self.state.consecutive_failures += 1;
            let t = self.cfg.breaker_threshold;
            if t > 0 && self.state.consecutive_failures >= t && !self.state.circuit_open {
                tracing::warn!(
                    failures = self.state.consecutive_failures,
                    "recorder circuit breaker open: retrying only when a new event arrives"
                );
                self.state.circuit_open = true;
            }
        } else if reason == Reason::Success {
            if self.state.circuit_open {
                tracing::info!("recorder circuit breaker closed after a successful merge");
            }
            self.state.consecutive_failures = 0;
            self.state.circuit_open = false;
            self.state.high_water = None;
            self.state.last_success = now_unix();
        }
        let cursor = events::read_cursor(&self.cfg.cursor_path());
        let pending = self.pending.count(&self.cfg.audit_dir, cursor.as_ref());
        self.metrics.set_state(&self.state, pending);
        self.persist();
        tracing::info!(reason = reason.as_str(), pending, "recorder cycle");
        reason
    }

    fn persist(&self) {
        let state = serde_json::to_vec_pretty(&self.state).unwrap_or_default();
        if let Err(e) = crate::fsutil::atomic_write(&self.cfg.state_path(), &state, 0o600) {
            tracing::warn!(error = %e, "could not save recorder state");
        }
        let text = self.metrics.render();
        if let Err(e) =
            crate::fsutil::atomic_write(&self.cfg.metrics_path(), text.as_bytes(), 0o644)
        {
            tracing::warn!(error = %e, "could not write recorder metrics");
        }
    }

    async fn cycle_inner(&mut self) -> Reason {
        let cursor = events::read_cursor(&self.cfg.cursor_path());
        let batch = match events::read_batch(
            &self.cfg.audit_dir,
            cursor.as_ref(),
            self.cfg.max_events_per_cycle,
        ) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, dir = %self.cfg.audit_dir.display(), "cannot read the audit log");
                return Reason::NoEvents;
            }
        };
        if batch.lost {
            tracing::warn!(
                cursor = ?cursor,
                "the audit file the cursor pointed into was rotated away: its unread lines are lost"
            );
            self.metrics.event_lost();
        }
        if !self.cfg.overview_path().exists() {
            return self.bootstrap(cursor.as_ref()).await;
        }
        let newest = batch.events.last().map(|e| e.after.clone());
        if batch.events.is_empty() {
            // Only read-only lines: move the cursor so later scans start further on.
            if let Some(end) = &batch.end
                && cursor.as_ref() != Some(end)
            {
                let _ = self.write_cursor(end);
            }
            return Reason::NoEvents;
        }
        if self.state.circuit_open && newest.is_some() && newest == self.state.high_water {
            return Reason::CircuitOpen;
        }
        self.state.last_attempt = now_unix();
        let reason = self.merge(&batch).await;
        if reason.is_failure() {
            self.state.high_water = newest;
        }
        reason
    }

    async fn merge(&mut self, batch: &Batch) -> Reason {
        let overview = std::fs::read_to_string(self.cfg.overview_path()).unwrap_or_default();
        let changelog = std::fs::read_to_string(self.cfg.changelog_path()).unwrap_or_default();
        let user = prompt::merge_user(&overview, &changelog, &batch.events);
        let reply = match self.call("merge", prompt::MERGE_SYSTEM, &user).await {
            Ok(r) => r,
            Err(reason) => return reason,
        };
        let answer = match prompt::parse_merge(&reply.text) {
            Ok(a) => a,
            Err(reason) => {
                tracing::warn!(reason = reason.as_str(), answer = %reply.text.chars().take(500).collect::<String>(), "merge answer rejected");
                return reason;
            }
        };
        let stamp = minute_stamp(SystemTime::now());
        let lines: Vec<String> = answer
            .changelog
            .iter()
            .map(|l| format!("{stamp} | {l}"))
            .collect();
        // When the batch was capped, stop at its last event; otherwise skip the read-only
        // lines after it too.
        let next = if batch.more {
            batch.events.last().map(|e| e.after.clone())
        } else {
            batch.end.clone()
        };
        if let Err(e) = self.apply(&answer.overview, &lines, next.as_ref()) {
            tracing::warn!(error = %e, "could not write the overview; cursor unchanged");
            return Reason::ApplyError;
        }
        for e in &batch.events {
            self.metrics
                .consumed(e.record["tool"].as_str().unwrap_or("unknown"));
        }
        Reason::Success
    }

    /// Call the model; a failure is already mapped to its cycle reason.
    async fn call(
        &self,
        phase: &'static str,
        system: &str,
        user: &str,
    ) -> Result<llm::Reply, Reason> {
        let m = &self.metrics;
        let hook = move |ok: bool| m.llm_call(phase, ok);
        match self.client.complete(system, user, &hook).await {
            Err(e) => {
                tracing::warn!(phase, error = %e, "LLM call failed");
                Err(Reason::LlmError)
            }
            Ok(r) => {
                self.metrics.tokens(phase, r.input_tokens, r.output_tokens);
                if r.truncated {
                    tracing::warn!(
                        phase,
                        max_tokens = self.cfg.llm.max_tokens,
                        "answer cut off at max_tokens; raise MYMCP_RECORDER_LLM_MAX_TOKENS"
                    );
                    Err(Reason::MaxTokens)
                } else if r.text.trim().is_empty() {
                    Err(Reason::Empty)
                } else {
                    Ok(r)
                }
            }
        }
    }

    async fn bootstrap(&mut self, cursor: Option<&Cursor>) -> Reason {
        let now = now_unix();
        let due = self.state.last_bootstrap == 0
            || now >= self.state.last_bootstrap + self.cfg.bootstrap_retry_interval.as_secs();
        if !due {
            return Reason::BootstrapRequired;
        }
        self.state.last_bootstrap = now;
        self.state.last_attempt = now;
        // Everything logged so far is reflected in what the probes see, so a successful
        // bootstrap moves the cursor to the end of the log.
        let end = events::read_batch(&self.cfg.audit_dir, cursor, usize::MAX)
            .ok()
            .and_then(|b| b.end);
        let probes = prompt::run_probes(
            self.cfg.bootstrap_max_iterations,
            self.cfg.bootstrap_probe_timeout,
        )
        .await;
        let user = prompt::bootstrap_user(
            &probes,
            self.cfg.bootstrap_token_budget,
            self.cfg.llm.max_tokens,
        );
        let reply = match self
            .call("bootstrap", prompt::BOOTSTRAP_SYSTEM, &user)
            .await
        {
            Ok(r) => r,
            Err(reason) => return reason,
        };
        let overview = match prompt::parse_overview(&reply.text) {
            Ok(o) => o,
            Err(reason) => return reason,
        };
        let line = format!(
            "{} | bootstrap | initial overview from {} probes",
            minute_stamp(SystemTime::now()),
            probes.len()
        );
        match self.apply(&overview, &[line], end.as_ref().or(cursor)) {
            Ok(()) => Reason::Success,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the first overview");
                Reason::ApplyError
            }
        }
    }

    /// Overview, then changelog (both temp + fsync + rename), then the cursor.
    fn apply(
        &self,
        overview: &str,
        lines: &[String],
        next: Option<&Cursor>,
    ) -> std::io::Result<()> {
        crate::fsutil::atomic_write(&self.cfg.overview_path(), overview.as_bytes(), 0o644)?;
        let mut log = match std::fs::read(self.cfg.changelog_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        if !log.is_empty() && log.last() != Some(&b'\n') {
            log.push(b'\n');
        }
        for l in lines {
            log.extend_from_slice(l.as_bytes());
            log.push(b'\n');
        }
        crate::fsutil::atomic_write(&self.cfg.changelog_path(), &log, 0o644)?;
        if let Some(c) = next {
            self.write_cursor(c)?;
        }
        Ok(())
    }

    fn write_cursor(&self, c: &Cursor) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(c).unwrap_or_default();
        crate::fsutil::atomic_write(&self.cfg.cursor_path(), &bytes, 0o600)
    }

    /// Cycle every merge interval until `stop` resolves.
    pub(crate) async fn run(&mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            self.cycle().await;
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.merge_interval) => {}
                _ = &mut stop => return,
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM` in UTC, the changelog's time column.
fn minute_stamp(t: SystemTime) -> String {
    format_utc(
        t,
        time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
    )
}

/// The unit `--install-unit` prints, with this binary's path.
pub(crate) fn unit_text(binary: &Path, env_file: &Path) -> String {
    include_str!("../../packaging/systemd/mymcp-recorder.service")
        .replace("/usr/bin/mymcp", &binary.display().to_string())
        .replace("/etc/mymcp/.env", &env_file.display().to_string())
}

/// Values kept out of logs.
pub(crate) fn redacted(cfg: &RecorderConfig) -> Value {
    serde_json::json!({
        "provider": cfg.llm.provider.as_str(),
        "model": cfg.llm.model,
        "base_url": cfg.llm.base_url,
        "api_key": if cfg.llm.api_key.is_empty() { "unset" } else { "set" },
        "data_dir": cfg.data_dir,
        "audit_dir": cfg.audit_dir,
        "merge_interval_sec": cfg.merge_interval.as_secs(),
    })
}
