//! OpenTelemetry export (cargo feature `otlp`): spans and metrics of tool calls and HTTP requests go to an
//! OTLP/HTTP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set. The
//! exporter honours the standard `OTEL_*` variables (headers, timeout, batch delay, service
//! name, resource attributes); `OTEL_SDK_DISABLED=true` turns it off. Without the feature,
//! or without an endpoint, nothing is exported and nothing extra runs.

use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

fn endpoint_for(signal: &str) -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled
        && (set("OTEL_EXPORTER_OTLP_ENDPOINT")
            || set(&format!("OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")))
}

/// Is an OTLP endpoint for traces configured (and the SDK not disabled)?
pub(crate) fn configured() -> bool {
    endpoint_for("TRACES")
}

#[cfg(feature = "otlp")]
struct Instruments {
    calls: opentelemetry::metrics::Counter<u64>,
    duration: opentelemetry::metrics::Histogram<f64>,
    http: opentelemetry::metrics::Counter<u64>,
}

#[cfg(feature = "otlp")]
static INSTRUMENTS: std::sync::OnceLock<Instruments> = std::sync::OnceLock::new();
#[cfg(feature = "otlp")]
static METER_PROVIDER: std::sync::OnceLock<opentelemetry_sdk::metrics::SdkMeterProvider> =
    std::sync::OnceLock::new();

/// Start pushing metrics over OTLP when a metrics endpoint is configured. The same numbers
/// as the Prometheus series, as OTel instruments (`mymcp.tool.calls`, `mymcp.tool.duration`,
/// `mymcp.http.requests`).
pub(crate) fn init_metrics() {
    #[cfg(feature = "otlp")]
    if endpoint_for("METRICS") {
        use opentelemetry::metrics::MeterProvider as _;
        let exporter = match opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("[mymcp] OpenTelemetry metrics export disabled: {e}");
                return;
            }
        };
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .with_resource(resource())
            .build();
        let meter = provider.meter("mymcp");
        let _ = INSTRUMENTS.set(Instruments {
            calls: meter
                .u64_counter("mymcp.tool.calls")
                .with_description("MCP tool calls")
                .build(),
            duration: meter
                .f64_histogram("mymcp.tool.duration")
                .with_unit("s")
                .with_description("MCP tool call duration")
                .build(),
            http: meter
                .u64_counter("mymcp.http.requests")
                .with_description("HTTP requests")
                .build(),
        });
        let _ = METER_PROVIDER.set(provider);
    }
}

#[cfg(feature = "otlp")]
fn resource() -> opentelemetry_sdk::Resource {
    let mut r = opentelemetry_sdk::Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        r = r.with_service_name("mymcp");
    }
    r.build()
}

/// Record a tool call for OTLP metrics (no-op without the feature or an endpoint).
pub(crate) fn record_tool_call(tool: &str, role: &str, result: &str, seconds: Option<f64>) {
    #[cfg(feature = "otlp")]
    if let Some(i) = INSTRUMENTS.get() {
        use opentelemetry::KeyValue;
        let attrs = [
            KeyValue::new("tool", tool.to_string()),
            KeyValue::new("role", role.to_string()),
            KeyValue::new("result", result.to_string()),
        ];
        i.calls.add(1, &attrs);
        if let Some(s) = seconds {
            i.duration
                .record(s, &[KeyValue::new("tool", tool.to_string())]);
        }
    }
    #[cfg(not(feature = "otlp"))]
    let _ = (tool, role, result, seconds);
}

/// Record an HTTP request for OTLP metrics (no-op without the feature or an endpoint).
pub(crate) fn record_http(path: &str, method: &str, status: u16) {
    #[cfg(feature = "otlp")]
    if let Some(i) = INSTRUMENTS.get() {
        use opentelemetry::KeyValue;
        i.http.add(
            1,
            &[
                KeyValue::new("path", path.to_string()),
                KeyValue::new("method", method.to_string()),
                KeyValue::new("status", i64::from(status)),
            ],
        );
    }
    #[cfg(not(feature = "otlp"))]
    let _ = (path, method, status);
}

#[cfg(feature = "otlp")]
static PROVIDER: std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> =
    std::sync::OnceLock::new();

/// The tracing layer that exports spans, when the feature is on and an endpoint is set.
/// Errors building the exporter are reported on stderr and export is skipped.
pub(crate) fn layer<S>() -> Option<Box<dyn Layer<S> + Send + Sync + 'static>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    if !configured() {
        return None;
    }
    #[cfg(feature = "otlp")]
    {
        use opentelemetry::trace::TracerProvider as _;
        let exporter = match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(e) => e,
            Err(e) => {
                eprintln!("[mymcp] OpenTelemetry export disabled: {e}");
                return None;
            }
        };
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource())
            .build();
        let tracer = provider.tracer("mymcp");
        let _ = PROVIDER.set(provider);
        // Only our own spans (DEBUG level, so they cost nothing when no exporter listens):
        // rmcp and hyper internals would drown the useful ones.
        let filter =
            tracing_subscriber::filter::Targets::new().with_target("mymcp", tracing::Level::DEBUG);
        Some(Box::new(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter),
        ))
    }
    #[cfg(not(feature = "otlp"))]
    {
        eprintln!(
            "[mymcp] OTEL_EXPORTER_OTLP_ENDPOINT is set but this build has no OpenTelemetry support (cargo feature `otlp`)"
        );
        None
    }
}

/// Flush and stop the exporter (at shutdown).
pub(crate) fn shutdown() {
    #[cfg(feature = "otlp")]
    {
        if let Some(p) = PROVIDER.get() {
            let _ = p.shutdown();
        }
        if let Some(m) = METER_PROVIDER.get() {
            let _ = m.shutdown();
        }
    }
}
