//! OpenTelemetry export (feature `otlp`): spans reach an OTLP/HTTP receiver started here on
//! 127.0.0.1. Run with `cargo test --features otlp --test it otlp`.
#![cfg(feature = "otlp")]

use std::time::Duration;

use crate::common::{Layout, Server};
use axum::body::Bytes;
use serde_json::json;

#[tokio::test]
async fn spans_and_metrics_arrive_at_the_collector() {
    // A minimal collector: records every body POSTed to /v1/traces.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let record = move |body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(body);
            ""
        }
    };
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(record.clone()))
        .route("/v1/metrics", axum::routing::post(record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let l = Layout::new("");
    let env = l.env_file();
    let s = Server::spawn(
        &["--env-file", env.to_str().unwrap()],
        l.root(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("OTEL_SERVICE_NAME", "mymcp-under-test"),
        ],
    );
    let (ro, _) = s.admin_create("ro", "ro").await;
    let (err, _) = s
        .call(&ro, "glob", json!({"pattern": "*", "path": l.data()}))
        .await;
    assert!(!err);

    // Spans are protobuf: names and attribute values appear as raw UTF-8 bytes.
    let mut seen = Vec::new();
    let found = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(b) = rx.recv().await {
            seen.extend_from_slice(&b);
            let has = |needle: &[u8]| seen.windows(needle.len()).any(|w| w == needle);
            if has(b"tool_call")
                && has(b"http_request")
                && has(b"glob")
                && has(b"mymcp-under-test")
                && has(b"mymcp.tool.calls")
                && has(b"mymcp.http.requests")
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        found,
        Ok(true),
        "spans did not arrive ({} bytes received)",
        seen.len()
    );
}
