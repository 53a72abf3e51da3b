//! `mymcp_recorder_*` series. The recorder is its own process, so it renders them to
//! `<data dir>/metrics.prom` after every cycle and the server's `/metrics` appends that file
//! (the node-exporter textfile pattern): one scrape target, as with the reference.

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use super::{Reason, State};

/// The recorder's registry and series.
pub(crate) struct RecorderMetrics {
    registry: Registry,
    cycles: IntCounterVec,
    duration: HistogramVec,
    llm_calls: IntCounterVec,
    llm_tokens: IntCounterVec,
    pending: IntGauge,
    last_attempt: Gauge,
    last_success: Gauge,
    circuit_open: IntGauge,
    event_loss: IntCounter,
    consumed: IntCounterVec,
}

impl Default for RecorderMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl RecorderMetrics {
    /// Register every series (names and help as the reference's table).
    pub(crate) fn new() -> RecorderMetrics {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)
                .unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(c.clone()));
            c
        };
        let cycles = counter_vec(
            "mymcp_recorder_merge_cycles_total",
            "Recorder cycles by outcome",
            &["reason"],
        );
        let llm_calls = counter_vec(
            "mymcp_recorder_llm_calls_total",
            "LLM HTTP attempts (success = a response object came back)",
            &["phase", "result"],
        );
        let llm_tokens = counter_vec(
            "mymcp_recorder_llm_tokens_total",
            "LLM tokens by phase and direction",
            &["phase", "direction"],
        );
        let consumed = counter_vec(
            "mymcp_recorder_events_consumed_total",
            "Mutating audit events folded into the overview",
            &["tool"],
        );
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "mymcp_recorder_merge_duration_seconds",
                "Wall-clock time per recorder cycle, LLM call included",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
            ]),
            &["reason"],
        )
        .unwrap_or_else(|_| unreachable_metric("duration"));
        let _ = registry.register(Box::new(duration.clone()));
        let int_gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        let pending = int_gauge(
            "mymcp_recorder_pending_events",
            "Mutating audit events past the recorder's cursor",
        );
        let circuit_open = int_gauge(
            "mymcp_recorder_circuit_open",
            "1 while the consecutive-failure breaker is open",
        );
        let gauge = |name: &str, help: &str| {
            let g = Gauge::new(name, help).unwrap_or_else(|_| unreachable_metric(name));
            let _ = registry.register(Box::new(g.clone()));
            g
        };
        let last_attempt = gauge(
            "mymcp_recorder_merge_last_attempt_timestamp",
            "Unix time of the last cycle that called the model",
        );
        let last_success = gauge(
            "mymcp_recorder_merge_last_success_timestamp",
            "Unix time of the last successful merge (0 = never)",
        );
        let event_loss = IntCounter::new(
            "mymcp_recorder_event_loss_total",
            "Times the cursor's audit file was rotated away before it was read",
        )
        .unwrap_or_else(|_| unreachable_metric("event_loss"));
        let _ = registry.register(Box::new(event_loss.clone()));
        RecorderMetrics {
            registry,
            cycles,
            duration,
            llm_calls,
            llm_tokens,
            pending,
            last_attempt,
            last_success,
            circuit_open,
            event_loss,
            consumed,
        }
    }

    /// One finished cycle.
    pub(crate) fn cycle(&self, reason: Reason, took: Duration) {
        self.cycles.with_label_values(&[reason.as_str()]).inc();
        self.duration
            .with_label_values(&[reason.as_str()])
            .observe(took.as_secs_f64());
    }

    /// One HTTP attempt.
    pub(crate) fn llm_call(&self, phase: &str, ok: bool) {
        let result = if ok { "success" } else { "error" };
        self.llm_calls.with_label_values(&[phase, result]).inc();
    }

    /// Token usage of one reply.
    pub(crate) fn tokens(&self, phase: &str, input: u64, output: u64) {
        self.llm_tokens
            .with_label_values(&[phase, "input"])
            .inc_by(input);
        self.llm_tokens
            .with_label_values(&[phase, "output"])
            .inc_by(output);
    }

    /// The cursor's file vanished.
    pub(crate) fn event_lost(&self) {
        self.event_loss.inc();
    }

    /// One event folded in.
    pub(crate) fn consumed(&self, tool: &str) {
        self.consumed.with_label_values(&[tool]).inc();
    }

    /// Gauges from the persisted state.
    pub(crate) fn set_state(&self, s: &State, pending: u64) {
        self.pending.set(pending as i64);
        self.circuit_open.set(i64::from(s.circuit_open));
        self.last_attempt.set(s.last_attempt as f64);
        self.last_success.set(s.last_success as f64);
    }

    /// Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Metric definitions are constants; a failure here is a programming error caught by the
/// unit test below, never by input.
fn unreachable_metric<T>(name: &str) -> T {
    panic!("invalid metric definition {name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_renders() {
        let m = RecorderMetrics::new();
        m.cycle(Reason::Success, Duration::from_millis(5));
        m.llm_call("merge", true);
        m.tokens("merge", 10, 2);
        m.consumed("write_file");
        m.event_lost();
        m.set_state(&State::default(), 3);
        let t = m.render();
        for s in [
            "mymcp_recorder_merge_cycles_total{reason=\"success\"} 1",
            "mymcp_recorder_merge_duration_seconds_count{reason=\"success\"} 1",
            "mymcp_recorder_llm_calls_total{phase=\"merge\",result=\"success\"} 1",
            "mymcp_recorder_llm_tokens_total{direction=\"input\",phase=\"merge\"} 10",
            "mymcp_recorder_pending_events 3",
            "mymcp_recorder_merge_last_attempt_timestamp 0",
            "mymcp_recorder_merge_last_success_timestamp 0",
            "mymcp_recorder_circuit_open 0",
            "mymcp_recorder_event_loss_total 1",
            "mymcp_recorder_events_consumed_total{tool=\"write_file\"} 1",
        ] {
            assert!(t.contains(s), "missing {s} in\n{t}");
        }
    }
}
