//! mymcp: an MCP server that lets AI clients operate a Linux host over Streamable HTTP,
//! behind bearer tokens with ro/rw roles.
//!
//! The binary (`src/main.rs`) only calls [`main`]; every module is private to this crate so
//! that rustc reports what nothing uses. `docs/architecture.md` maps the modules and the
//! request path.

mod app;
mod audit;
mod caller;
mod cli;
mod clock;
mod commands;
mod config;
mod daemon;
mod error;
mod fsutil;
mod guard;
mod hosts;
mod http;
mod inflight;
mod mcp;
mod metrics;
mod oauth;
mod otel;
mod recorder;
mod sandbox;
mod scrub;
mod secret;
mod state;
mod stdio;
mod tickets;
mod tls;
mod tokens;
mod tools;

pub use app::main;
