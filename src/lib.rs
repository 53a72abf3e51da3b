//! mymcp: an MCP server that lets AI clients operate a Linux host over Streamable HTTP,
//! behind bearer tokens with ro/rw roles. The binary is a thin shell over this library.

pub mod assets;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod doctor;
pub mod error;
pub mod fastpath;
pub mod guard;
pub mod http;
pub mod mcp;
pub mod metrics;
pub mod otel;
pub mod raw;
pub mod recorder;
pub mod scrub;
pub mod server;
pub mod service;
pub mod tokens;
pub mod tools;
pub mod transfer;
