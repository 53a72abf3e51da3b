//! What `init`, `uninstall-service` and `doctor` ask of this host: are we root, is systemd
//! running, what does `systemctl` say, and does the local server answer over HTTP.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::Value;

/// Effective user is root.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// systemd is the running init (same test as `sd_booted(3)`).
pub(crate) fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// A failed HTTP exchange with the local server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(String);

/// One HTTP/1.1 request to `addr` (`host:port`) with a 5 s budget; returns status and body.
pub(crate) fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Vec<u8>), HttpError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HttpError(e.to_string()))?;
    let exchange = async move {
        let e = |x: &dyn std::fmt::Display| HttpError(format!("{addr}: {x}"));
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|x| e(&x))?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .map_err(|x| e(&x))?;
        tokio::spawn(conn);
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", addr)
            .header("accept", "application/json, text/event-stream");
        if let Some(b) = bearer {
            req = req.header("authorization", format!("Bearer {b}"));
        }
        let payload = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        let req = req.body(Full::new(payload)).map_err(|x| e(&x))?;
        let resp = sender.send_request(req).await.map_err(|x| e(&x))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|x| e(&x))?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    };
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| HttpError(format!("no answer from {addr} within 5 s")))?
    })
}

/// `GET path` and return the status code only.
pub(crate) fn http_get_status(addr: &str, path: &str) -> Result<u16, HttpError> {
    http_request(addr, "GET", path, None, None).map(|(s, _)| s)
}

pub(crate) fn systemctl(args: &[&str]) -> Option<String> {
    Command::new("systemctl")
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}
