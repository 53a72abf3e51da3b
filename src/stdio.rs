//! `mymcp stdio`: MCP over stdin/stdout for one local caller, for a client that starts the
//! server itself (Claude Desktop, Claude Code, Cursor) or reaches it as `ssh host mymcp stdio`.
//!
//! There is no listener and no token: the caller is the operating-system user running the
//! process (`stdio:<user>` in audit lines), who can do nothing through mymcp that it could not
//! do without it. `--role` only narrows that (ro by default). Everything else is the server's:
//! the same configuration, protected paths, limits, ro shell and audit log. stdout carries
//! protocol messages only; logs go to stderr.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::{Receiver, Sender};

use crate::caller::{Caller, Identity};
use crate::mcp::{McpHandler, envelope};
use crate::state::AppState;
use crate::tokens::Role;

/// Why the stdio session could not run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StdioError {
    /// The MCP session failed (a transport error other than the client hanging up).
    #[error("stdio session: {0}")]
    Session(String),
}

/// The local caller: the OS user's name (its uid when it has none), and the SSH client's
/// address when run over `ssh host mymcp stdio` (loopback otherwise).
pub(crate) fn local_caller(role: Role) -> Caller {
    let uid = nix::unistd::getuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string());
    let ip = std::env::var("SSH_CLIENT")
        .ok()
        .and_then(|v| v.split_whitespace().next()?.parse::<IpAddr>().ok())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    Caller {
        identity: Identity::Local {
            name: format!("stdio:{user}"),
        },
        role,
        ip,
        request_id: String::new(),
        // No listener: transfer tickets could not be redeemed (transfers are off here).
        base_url: String::new(),
    }
}

/// Serve until the client closes stdin (or the session fails), then stop running commands.
pub(crate) async fn run(state: Arc<AppState>, caller: Caller) -> Result<(), StdioError> {
    tracing::info!(
        caller = caller.identity.name(),
        role = caller.role.as_str(),
        "stdio session starting"
    );
    let handler = McpHandler::local(state.clone(), caller);
    let max_line = crate::http::mcp_body_limit(state.config.write_file_max_bytes);
    let (to_rmcp, rmcp_in) = tokio::io::duplex(64 * 1024);
    let (rmcp_out, from_rmcp) = tokio::io::duplex(64 * 1024);
    let (refusals_tx, refusals) = tokio::sync::mpsc::channel(64);
    let reader = tokio::spawn(screen_input(
        tokio::io::stdin(),
        to_rmcp,
        refusals_tx,
        max_line,
    ));
    let writer = tokio::spawn(write_output(from_rmcp, refusals, tokio::io::stdout()));
    let outcome = match handler.serve((rmcp_in, rmcp_out)).await {
        Ok(session) => session
            .waiting()
            .await
            .map(|reason| tracing::info!(?reason, "stdio session ended"))
            .map_err(|e| StdioError::Session(e.to_string())),
        // The client hung up before (or instead of) initializing: nothing went wrong here.
        Err(rmcp::service::ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before initialize");
            Ok(())
        }
        Err(e) => Err(StdioError::Session(e.to_string())),
    };
    let grace = Duration::from_secs(state.config.shutdown_grace_sec);
    state.tools.bash.terminate_all(grace).await;
    // rmcp has dropped its end of the output pipe: the writer drains what is left and stops.
    reader.abort();
    let _ = writer.await;
    outcome
}

/// Read stdin line by line. A line that is a plausible JSON-RPC message goes on to rmcp;
/// anything else is answered here with the JSON-RPC error rmcp would not send (it drops such
/// lines silently): -32700 for a line that is not JSON (or longer than the `/mcp` body cap,
/// which is then skipped without being held in memory), -32600/-32602 as over HTTP. At EOF
/// rmcp's input is closed, which ends the session.
async fn screen_input(
    stdin: impl AsyncRead + Unpin,
    mut to_rmcp: impl AsyncWrite + Unpin,
    refusals: Sender<Value>,
    max_line: usize,
) {
    let mut input = BufReader::new(stdin);
    let mut line = Vec::new();
    let mut oversized = false;
    loop {
        let chunk = match input.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(c) => c,
        };
        let (part, complete) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..=i], true),
            None => (chunk, false),
        };
        if !oversized {
            line.extend_from_slice(part);
            if line.len() > max_line {
                oversized = true;
                line = Vec::new();
            }
        }
        let used = part.len();
        input.consume(used);
        if !complete {
            continue;
        }
        let blank = !oversized && line.iter().all(u8::is_ascii_whitespace);
        let verdict = if oversized {
            Some(parse_error(&format!(
                "a message longer than {max_line} bytes"
            )))
        } else if blank {
            None
        } else {
            screen(&line)
        };
        match verdict {
            // Bounded: a client that stops reading stops our reading too.
            Some(err) => {
                if refusals.send(err).await.is_err() {
                    break;
                }
            }
            None if blank => {}
            None => {
                if to_rmcp.write_all(&line).await.is_err() {
                    break;
                }
            }
        }
        line.clear();
        oversized = false;
    }
    let _ = to_rmcp.shutdown().await;
}

/// The error for one input line, or `None` to pass it on.
fn screen(line: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(line) {
        Ok(msg) => envelope::check(&msg),
        Err(e) => Some(parse_error(&e.to_string())),
    }
}

fn parse_error(why: &str) -> Value {
    envelope::error(
        Value::Null,
        envelope::PARSE_ERROR,
        &format!("Parse error: the line is not a JSON-RPC message ({why})"),
    )
}

/// Copy rmcp's output lines and our refusals to stdout, whole lines at a time so they never
/// interleave. Ends when rmcp's output closes.
async fn write_output(
    from_rmcp: impl AsyncRead + Unpin,
    mut refusals: Receiver<Value>,
    mut stdout: impl AsyncWrite + Unpin,
) {
    let mut lines = BufReader::new(from_rmcp);
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            n = lines.read_until(b'\n', &mut buf) => {
                match n {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if stdout.write_all(&buf).await.is_err() || stdout.flush().await.is_err() {
                            break;
                        }
                        buf.clear();
                    }
                }
            }
            Some(err) = refusals.recv() => {
                let mut out = err.to_string().into_bytes();
                out.push(b'\n');
                if stdout.write_all(&out).await.is_err() || stdout.flush().await.is_err() {
                    break;
                }
            }
        }
    }
}
