//! Integration tests: one crate (one link, one copy of `common`) with a module per area.
//! Every test starts the real `mymcp` binary (see `common`) on 127.0.0.1 port 0.

mod common;

mod bash;
mod cancel;
mod evidence;
mod files;
mod generated_assets;
mod jobs;
mod oauth;
mod observability;
mod operator;
mod otlp;
mod read_file;
mod recorder;
mod ro_shell;
mod search;
mod security;
mod server;
mod service;
mod stdio;
mod tls;
mod transfer;
