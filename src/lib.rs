//! mymcp: an MCP server that lets AI clients operate a Linux host over Streamable HTTP,
//! behind bearer tokens with ro/rw roles.
//!
//! The binary (`src/main.rs`) only calls [`main`]; every module is private to this crate so
//! that rustc reports what nothing uses. `docs/architecture.md` maps the modules and the
//! request path.

mod app;
mod assets;
mod audit;
mod cli;
mod commands;
mod config;
mod daemon;
mod doctor;
mod error;
mod fastpath;
mod guard;
mod http;
mod mcp;
mod metrics;
mod otel;
mod raw;
mod recorder;
mod scrub;
mod service;
mod tokens;
mod tools;
mod transfer;

pub use app::main;
