//! Prometheus metrics (names, types and labels as the reference, so existing dashboards keep working), plus process metrics.
//! Labels never carry raw URLs or tokens: HTTP paths are route patterns (a ticket id in a URL is a credential) and unknown
//! tool names are folded into `<unknown>`.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// All series of one server.
pub(crate) struct Metrics {
    registry: Registry,
    /// `mymcp_tool_calls_total{tool,role,result}`.
    pub(crate) tool_calls: IntCounterVec,
    /// `mymcp_tool_duration_seconds{tool}`.
    pub(crate) tool_duration: HistogramVec,
    /// `mymcp_http_requests_total{path,method,status}`.
    pub(crate) http_requests: IntCounterVec,
    /// `mymcp_auth_total{method,result}`: `/mcp` authentications by kind of credential
    /// (static, oauth, none) and outcome (ok or the refusal's reason).
    pub(crate) auth: IntCounterVec,
    /// `mymcp_audit_write_failures_total`.
    pub(crate) audit_failures: IntCounter,
    /// `mymcp_token_file_load_failures_total`: the token file changed but could not be read.
    pub(crate) token_file_failures: IntCounter,
    /// `mymcp_bash_inflight_processes`.
    pub(crate) bash_inflight: IntGauge,
    /// `mymcp_jobs_running`: background jobs running now.
    jobs_running: IntGauge,
    /// `mymcp_jobs_finished_total{status}`: background jobs ended, by how.
    pub(crate) jobs_finished: IntCounterVec,
    /// `mymcp_tls_reloads_total{result="ok"|"error"}`: certificate files changed and were
    /// loaded, or refused (the previous pair kept serving).
    pub(crate) tls_reloads: IntCounterVec,
    /// `mymcp_tls_certificate_expiry_timestamp_seconds`: `notAfter` of the certificate served.
    pub(crate) tls_not_after: IntGauge,
    /// `mymcp_tls_handshake_failures_total`: connections that did not complete a TLS handshake
    /// (plain HTTP to the HTTPS port, untrusted certificate, timeout).
    pub(crate) tls_handshake_failures: IntCounter,
    rss: IntGauge,
    fds: IntGauge,
    cpu: Gauge,
    start_time: Gauge,
}

/// Errors building the registry (only on programming mistakes such as duplicate names).
pub(crate) type MetricsError = prometheus::Error;

impl Metrics {
    /// Build and register every series.
    pub(crate) fn new() -> Result<Metrics, MetricsError> {
        let registry = Registry::new();
        let tool_calls = IntCounterVec::new(
            Opts::new("mymcp_tool_calls_total", "Total MCP tool calls"),
            &["tool", "role", "result"],
        )?;
        let tool_duration = HistogramVec::new(
            HistogramOpts::new("mymcp_tool_duration_seconds", "MCP tool call duration").buckets(
                vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            &["tool"],
        )?;
        let http_requests = IntCounterVec::new(
            Opts::new("mymcp_http_requests_total", "Total HTTP requests"),
            &["path", "method", "status"],
        )?;
        let audit_failures = IntCounter::new(
            "mymcp_audit_write_failures_total",
            "Audit log write failures",
        )?;
        let token_file_failures = IntCounter::new(
            "mymcp_token_file_load_failures_total",
            "Times the token file changed but could not be read or parsed (previous tokens kept)",
        )?;
        let bash_inflight = IntGauge::new(
            "mymcp_bash_inflight_processes",
            "Live count of tracked bash subprocesses",
        )?;
        let jobs_running = IntGauge::new("mymcp_jobs_running", "Background jobs running now")?;
        let jobs_finished = IntCounterVec::new(
            Opts::new(
                "mymcp_jobs_finished_total",
                "Background jobs ended, by status (exited, killed, timed_out)",
            ),
            &["status"],
        )?;
        let auth = IntCounterVec::new(
            Opts::new(
                "mymcp_auth_total",
                "Authentications on /mcp by method (static, oauth, none) and result (ok or why refused)",
            ),
            &["method", "result"],
        )?;
        let tls_reloads = IntCounterVec::new(
            Opts::new(
                "mymcp_tls_reloads_total",
                "TLS certificate reloads after the files changed, by result (error: previous pair kept)",
            ),
            &["result"],
        )?;
        let tls_not_after = IntGauge::new(
            "mymcp_tls_certificate_expiry_timestamp_seconds",
            "notAfter of the TLS certificate being served, seconds since the epoch",
        )?;
        let tls_handshake_failures = IntCounter::new(
            "mymcp_tls_handshake_failures_total",
            "Connections that did not complete a TLS handshake",
        )?;
        let rss = IntGauge::new(
            "process_resident_memory_bytes",
            "Resident memory size in bytes",
        )?;
        let fds = IntGauge::new("process_open_fds", "Number of open file descriptors")?;
        let cpu = Gauge::new(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds",
        )?;
        let start_time = Gauge::new(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
        )?;
        start_time.set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        );
        registry.register(Box::new(tool_calls.clone()))?;
        registry.register(Box::new(tool_duration.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(audit_failures.clone()))?;
        registry.register(Box::new(token_file_failures.clone()))?;
        registry.register(Box::new(bash_inflight.clone()))?;
        registry.register(Box::new(jobs_running.clone()))?;
        registry.register(Box::new(jobs_finished.clone()))?;
        registry.register(Box::new(auth.clone()))?;
        registry.register(Box::new(tls_reloads.clone()))?;
        registry.register(Box::new(tls_not_after.clone()))?;
        registry.register(Box::new(tls_handshake_failures.clone()))?;
        registry.register(Box::new(rss.clone()))?;
        registry.register(Box::new(fds.clone()))?;
        registry.register(Box::new(cpu.clone()))?;
        registry.register(Box::new(start_time.clone()))?;
        Ok(Metrics {
            registry,
            tool_calls,
            tool_duration,
            http_requests,
            audit_failures,
            token_file_failures,
            bash_inflight,
            jobs_running,
            jobs_finished,
            auth,
            tls_reloads,
            tls_not_after,
            tls_handshake_failures,
            rss,
            fds,
            cpu,
            start_time,
        })
    }

    /// Count one tool call. `tool` must already be a known tool name or `<unknown>`.
    pub(crate) fn tool_call(&self, tool: &str, role: &str, result: &str, seconds: Option<f64>) {
        self.tool_calls
            .with_label_values(&[tool, role, result])
            .inc();
        crate::otel::record_tool_call(tool, role, result, seconds);
        if let Some(s) = seconds {
            self.tool_duration.with_label_values(&[tool]).observe(s);
        }
    }

    /// Text exposition, with process metrics refreshed from /proc.
    pub(crate) fn render(&self, bash_inflight: usize, jobs_running: usize) -> String {
        self.bash_inflight.set(bash_inflight as i64);
        self.jobs_running.set(jobs_running as i64);
        self.refresh_process();
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    fn refresh_process(&self) {
        if let Ok(status) = std::fs::read_to_string("/proc/self/status")
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<i64>().ok())
        {
            self.rss.set(kb * 1024);
        }
        if let Ok(d) = std::fs::read_dir("/proc/self/fd") {
            self.fds.set(d.count() as i64);
        }
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            // Fields after the command name: utime and stime are the 12th and 13th.
            let rest = stat.rsplit(')').next().unwrap_or("");
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
            let hz = rustix::param::clock_ticks_per_second() as f64;
            if hz > 0.0 {
                self.cpu.set((ticks(11) + ticks(12)) / hz);
            }
        }
        let _ = &self.start_time;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped Grafana dashboard parses and queries only series this server exports.
    #[test]
    fn grafana_dashboard_uses_only_exported_metrics() {
        let text = include_str!("../packaging/grafana/mymcp.json");
        let dash: serde_json::Value = serde_json::from_str(text).unwrap();
        let m = Metrics::new().unwrap();
        m.tool_call("read_file", "ro", "ok", Some(0.01));
        m.http_requests
            .with_label_values(&["/mcp", "POST", "200"])
            .inc();
        let exposition = m.render(0, 0);
        let exported: Vec<&str> = exposition
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split(['{', ' ']).next())
            .collect();
        let mut checked = 0;
        for p in dash["panels"].as_array().unwrap() {
            for t in p["targets"].as_array().unwrap() {
                let expr = t["expr"].as_str().unwrap();
                for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                    if word.starts_with("mymcp_") || word.starts_with("process_") {
                        assert!(exported.contains(&word), "{word} is not exported ({expr})");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 10);
    }
}
