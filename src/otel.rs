//! OpenTelemetry export (cargo feature `otlp`): spans of tool calls and HTTP requests go to an
//! OTLP/HTTP collector when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) is set. The
//! exporter honours the standard `OTEL_*` variables (headers, timeout, batch delay, service
//! name, resource attributes); `OTEL_SDK_DISABLED=true` turns it off. Without the feature,
//! or without an endpoint, nothing is exported and nothing extra runs.

use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// Is an OTLP endpoint configured (and the SDK not disabled)?
pub fn configured() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

#[cfg(feature = "otlp")]
static PROVIDER: std::sync::OnceLock<opentelemetry_sdk::trace::SdkTracerProvider> =
    std::sync::OnceLock::new();

/// The tracing layer that exports spans, when the feature is on and an endpoint is set.
/// Errors building the exporter are reported on stderr and export is skipped.
pub fn layer<S>() -> Option<Box<dyn Layer<S> + Send + Sync + 'static>>
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
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var("OTEL_SERVICE_NAME").is_err() {
            resource = resource.with_service_name("mymcp");
        }
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        let tracer = provider.tracer("mymcp");
        let _ = PROVIDER.set(provider);
        // Only our own spans: rmcp and hyper internals would drown the useful ones.
        let filter =
            tracing_subscriber::filter::Targets::new().with_target("mymcp", tracing::Level::INFO);
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
pub fn shutdown() {
    #[cfg(feature = "otlp")]
    if let Some(p) = PROVIDER.get() {
        let _ = p.shutdown();
    }
}
