//! The state every request handler shares, behind one `Arc`: built by the daemon at start,
//! read by the HTTP and MCP layers. It imports only the services below it.

use std::sync::Arc;

use crate::audit::{AuditLog, Record};
use crate::config::Config;
use crate::hosts::HostPolicy;
use crate::metrics::Metrics;
use crate::tickets::TransferSlots;
use crate::tokens::TokenStore;
use crate::tools::Services;

/// Everything a request handler may need.
pub(crate) struct AppState {
    /// Resolved configuration.
    pub(crate) config: Config,
    /// Client, admin and metrics tokens.
    pub(crate) tokens: TokenStore,
    /// Host/Origin allow-list.
    pub(crate) hosts: HostPolicy,
    /// Temp-token mode (nothing persisted).
    pub(crate) temp_mode: bool,
    /// Audit log writer.
    pub(crate) audit: AuditLog,
    /// Prometheus series.
    pub(crate) metrics: Metrics,
    /// Transfers streaming at once.
    pub(crate) transfers: TransferSlots,
    /// What the tools share: path guard, shell runner, tickets, limits, job slots.
    pub(crate) tools: Arc<Services>,
    /// Built-in HTTPS, when `MYMCP_TLS_CERT`/`MYMCP_TLS_KEY` are set.
    pub(crate) tls: Option<crate::tls::Tls>,
    /// Tool calls in flight, for `notifications/cancelled`.
    pub(crate) calls: crate::inflight::InflightCalls,
    /// The OAuth resource server, when `MYMCP_OAUTH_ISSUER` is set.
    pub(crate) oauth: Option<Arc<crate::oauth::OAuth>>,
}

/// Hears about background jobs ending, for the audit log and the metrics. Weak: the job table
/// lives inside the state it reports to.
pub(crate) struct JobReporter(pub(crate) std::sync::Weak<AppState>);

impl crate::tools::jobs::JobObserver for JobReporter {
    fn ended(&self, end: &crate::tools::jobs::JobEnd<'_>) {
        let Some(state) = self.0.upgrade() else {
            return;
        };
        state
            .metrics
            .jobs_finished
            .with_label_values(&[end.status.as_str()])
            .inc();
        if state.audit.enabled() {
            // A failure is counted and logged by write_audit; the job is over either way.
            let _ = state.write_audit(&Record::for_job_exit(end));
        }
    }
}

impl AppState {
    /// May a ticket issued by the caller with this id still be redeemed? A static token must
    /// still exist and be enabled. An OAuth subject has no revocation list here: its tickets
    /// live out their TTL (at most `MYMCP_TRANSFER_MAX_TTL_SEC`) while OAuth stays configured.
    pub(crate) fn issuer_active(&self, id: &str) -> bool {
        if id.starts_with("oauth:") {
            return self.oauth.is_some();
        }
        self.config.static_tokens && self.tokens.is_active(id)
    }

    /// Write one audit line. A failure is counted (`mymcp_audit_write_failures_total`) and
    /// logged here; the caller decides what it means for the request.
    pub(crate) fn write_audit(&self, record: &Record<'_>) -> std::io::Result<()> {
        let r = self.audit.write(record);
        if let Err(e) = &r {
            self.metrics.audit_failures.inc();
            tracing::error!(
                error = %e,
                tool = %crate::audit::loggable(record.tool),
                request_id = record.request_id.unwrap_or(""),
                "audit log write failed"
            );
        }
        r
    }

    /// Whether the audit log can take a line now; a mutating action that could not be
    /// audited must not run. A failure is counted and logged here.
    pub(crate) fn audit_ready(&self, what: &str) -> std::io::Result<()> {
        let r = self.audit.ready();
        if let Err(e) = &r {
            self.metrics.audit_failures.inc();
            tracing::error!(error = %e, what, "audit log unavailable; refusing a mutating call");
        }
        r
    }
}
