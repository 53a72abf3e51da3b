//! What `init`, `uninstall-service` and `doctor` ask of this host: are we root, is systemd
//! running, what does `systemctl` say, which `mymcp serve` processes run and where they listen,
//! and does the local server answer over HTTP.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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

/// The host to connect to for a server bound to `bind` (for `host:port`): a wildcard is
/// reached over loopback, an IPv6 address goes in brackets. `init` and `doctor` both use it.
pub(crate) fn connect_host(bind: &str) -> String {
    match bind {
        "0.0.0.0" => "127.0.0.1".into(),
        "::" | "[::]" => "[::1]".into(),
        h if h.contains(':') && !h.starts_with('[') => format!("[{h}]"),
        h => h.to_string(),
    }
}

/// A failed HTTP exchange with the local server.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct HttpError(String);

/// Where the local server is and how to speak to it: plain HTTP, or HTTPS accepting only the
/// certificate the configuration names.
#[derive(Clone)]
pub(crate) struct Target {
    /// `host:port`.
    pub(crate) addr: String,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Target {
    /// Plain HTTP to `addr`.
    pub(crate) fn plain(addr: &str) -> Target {
        Target {
            addr: addr.to_string(),
            tls: None,
        }
    }

    /// HTTPS to `addr`, accepting only the certificate in the PEM file `cert`.
    pub(crate) fn pinned(addr: &str, cert: &Path) -> Result<Target, HttpError> {
        let config = crate::tls::pinned_client(cert).map_err(|e| HttpError(e.to_string()))?;
        Ok(Target {
            addr: addr.to_string(),
            tls: Some(std::sync::Arc::new(config)),
        })
    }

    /// `addr` as `cfg` serves it: HTTPS pinned to `MYMCP_TLS_CERT` when TLS is configured.
    pub(crate) fn for_config(addr: &str, cfg: &crate::config::Config) -> Result<Target, HttpError> {
        match &cfg.tls {
            None => Ok(Target::plain(addr)),
            Some(f) => Target::pinned(addr, &f.cert),
        }
    }

    /// `http` or `https`.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.addr)
    }
}

/// One HTTP/1.1 request to `target` with a 5 s budget; returns status and body.
pub(crate) fn http_request(
    target: &Target,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Result<(u16, Vec<u8>), HttpError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| HttpError(e.to_string()))?;
    let addr = target.addr.as_str();
    let exchange = async move {
        let e = |x: &dyn std::fmt::Display| HttpError(format!("{target}: {x}"));
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|x| e(&x))?;
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
        let resp = match &target.tls {
            None => send(hyper_util::rt::TokioIo::new(stream), req).await,
            Some(config) => {
                // The pinned verifier ignores the name; it only has to be well-formed.
                let host = addr
                    .rsplit_once(':')
                    .map_or(addr, |(h, _)| h)
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                let name =
                    rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|x| e(&x))?;
                let tls = tokio_rustls::TlsConnector::from(config.clone())
                    .connect(name, stream)
                    .await
                    .map_err(|x| e(&x))?;
                send(hyper_util::rt::TokioIo::new(tls), req).await
            }
        }
        .map_err(|x| e(&x))?;
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
            .map_err(|_| HttpError(format!("no answer from {target} within 5 s")))?
    })
}

async fn send<I>(
    io: I,
    req: hyper::Request<Full<Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    sender.send_request(req).await
}

/// `GET path` and return the status code only.
pub(crate) fn http_get_status(target: &Target, path: &str) -> Result<u16, HttpError> {
    http_request(target, "GET", path, None, None).map(|(s, _)| s)
}

pub(crate) fn systemctl(args: &[&str]) -> Option<String> {
    Command::new("systemctl")
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// A `mymcp serve` process found in `/proc`.
#[derive(Debug, Clone)]
pub(crate) struct RunningServer {
    /// Its process id.
    pub(crate) pid: i32,
    /// The `--env-file` it was started with, made absolute against its working directory.
    pub(crate) env_file: Option<PathBuf>,
    /// TCP addresses it listens on; empty when its descriptors are not readable (another
    /// user's process and we are not root).
    pub(crate) listen: Vec<SocketAddr>,
}

/// Every `mymcp serve` process on this host (in our PID namespace), oldest first. Doctor
/// uses it to talk to the server that actually runs, whose port may differ from what the env
/// file says (a `--port`, an `MYMCP_PORT` in its environment, an edit not yet applied).
pub(crate) fn running_servers() -> Vec<RunningServer> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for p in all.flatten() {
        if p.pid == me {
            continue;
        }
        let Ok(argv) = p.cmdline() else { continue };
        let is_mymcp = argv
            .first()
            .is_some_and(|a0| Path::new(a0).file_name().is_some_and(|n| n == "mymcp"));
        // The subcommand is the first argument that is not an option.
        let sub = argv.iter().skip(1).find(|a| !a.starts_with('-'));
        if !is_mymcp || sub.map(String::as_str) != Some("serve") {
            continue;
        }
        let env_file = argv
            .iter()
            .enumerate()
            .find_map(|(i, a)| match a.strip_prefix("--env-file") {
                Some("") => argv.get(i + 1).cloned(),
                Some(rest) => rest.strip_prefix('=').map(str::to_string),
                None => None,
            })
            .map(|f| match p.cwd() {
                Ok(cwd) => cwd.join(f),
                Err(_) => PathBuf::from(f),
            });
        found.push(RunningServer {
            pid: p.pid,
            env_file,
            listen: listening(&p),
        });
    }
    found
}

/// The TCP sockets `p` holds in the listening state, as seen from its network namespace.
fn listening(p: &procfs::process::Process) -> Vec<SocketAddr> {
    use procfs::process::FDTarget;
    let Ok(fds) = p.fd() else { return Vec::new() };
    let inodes: HashSet<u64> = fds
        .flatten()
        .filter_map(|fd| match fd.target {
            FDTarget::Socket(inode) => Some(inode),
            _ => None,
        })
        .collect();
    let tables = [p.tcp(), p.tcp6()];
    tables
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.state == procfs::net::TcpState::Listen && inodes.contains(&e.inode))
        .map(|e| e.local_address)
        .collect()
}

/// `MYMCP_*` assignments of `systemctl show -p Environment --value` (space separated;
/// systemd quotes values with spaces, which our settings never need).
pub(crate) fn parse_unit_environment(line: &str) -> Vec<(String, String)> {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| k.starts_with("MYMCP_"))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// The `MYMCP_*` settings in the `Environment=` of the mymcp unit when that unit runs with
/// `env_file` (its ExecStart names it). They beat the env file for the service (the NixOS
/// module puts the port and the token file's path there), so the CLI and doctor must see
/// them too: otherwise `token add` writes a token file the service does not read.
pub(crate) fn unit_environment_for(env_file: &Path) -> Vec<(String, String)> {
    if !systemd_running() {
        return Vec::new();
    }
    let exec = systemctl(&["show", "-p", "ExecStart", "--value", "mymcp"]).unwrap_or_default();
    let named = env_file.to_string_lossy();
    if named.is_empty() || !exec.split_whitespace().any(|w| w == named) {
        return Vec::new();
    }
    systemctl(&["show", "-p", "Environment", "--value", "mymcp"])
        .map(|l| parse_unit_environment(&l))
        .unwrap_or_default()
}
