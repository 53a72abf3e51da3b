//! Command line: one clap definition (it also feeds man pages and completions).

use std::path::PathBuf;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};

use crate::config::LogFormat;

/// Let AI clients operate this Linux host over MCP (Streamable HTTP), with per-token roles.
#[derive(Debug, Parser)]
#[command(
    name = "mymcp",
    version,
    about,
    long_about = "mymcp is an MCP server for operating a Linux host: shell commands, file reads, \
writes and edits, glob and grep, and out-of-band file transfer, behind bearer tokens with ro/rw \
roles.\n\nRun `mymcp serve` with no configuration to try it: it prints temporary tokens and \
listens on 127.0.0.1:8765.",
    after_help = "Configuration comes from MYMCP_* variables: process environment > env file > \
default. `mymcp config example` prints a commented env file."
)]
pub struct Cli {
    /// What to do (without one: a short status).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the MCP server in the foreground.
    Serve(ServeArgs),
    /// Print the version.
    Version,
    /// Manage client tokens and the admin/metrics tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
}

/// `mymcp serve` options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env).
    /// A file named here that does not exist is an error.
    #[arg(long, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// Address to listen on (overrides MYMCP_HOST).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides MYMCP_PORT).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Log level (overrides MYMCP_LOG_LEVEL).
    #[arg(long, value_name = "LEVEL", ignore_case = true,
          value_parser = ["trace", "debug", "info", "warning", "warn", "error", "critical"])]
    pub log_level: Option<String>,
    /// Log format (overrides MYMCP_LOG_FORMAT).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// In temp-token mode, also make a temporary metrics token.
    #[arg(long)]
    pub with_metrics_token: bool,
}

/// Shared option of the token commands.
#[derive(Debug, Args, Clone)]
pub struct EnvFileArg {
    /// Env file to read (same discovery as `serve`).
    #[arg(long, value_name = "PATH", global = true)]
    pub env_file: Option<PathBuf>,
}

/// `mymcp token ...`
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List client tokens (ids, never values) and whether admin/metrics tokens are set.
    List(EnvFileArg),
    /// Create a client token and print its value (shown only this once).
    #[command(group(ArgGroup::new("token_name").required(true).args(["name", "name_pos"])))]
    Add(TokenAdd),
    /// Revoke a client token, given its value or its id.
    Revoke {
        /// Token value (tok_…) or id.
        token: String,
        #[command(flatten)]
        env: EnvFileArg,
    },
    /// Generate a new admin token and write it to the env file.
    RotateAdmin(EnvFileArg),
    /// Generate a new metrics token and write it to the env file.
    RotateMetrics(EnvFileArg),
    /// Clear the metrics token (/metrics then answers 503).
    DisableMetrics(EnvFileArg),
}

/// `mymcp token add`: `--name N --role R` (v2) or `[--role R] NAME` (v3).
#[derive(Debug, Args)]
pub struct TokenAdd {
    /// Token name.
    #[arg(long)]
    pub name: Option<String>,
    /// Token name (positional form).
    #[arg(value_name = "NAME")]
    pub name_pos: Option<String>,
    /// Role: ro (read-only tools) or rw (all tools).
    #[arg(long, default_value = "ro", value_parser = ["ro", "rw"])]
    pub role: String,
    #[command(flatten)]
    pub env: EnvFileArg,
}

/// `mymcp config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented example env file.
    Example,
}

/// The clap command (for man pages, completions and flag rewriting).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Accept Go-style single-dash long flags (`serve -env-file PATH`, `-port=8080`): existing v3
/// systemd units use them. Only names that are real long options are rewritten, so short
/// flags and negative numbers are untouched.
pub fn normalize_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut longs: Vec<String> = Vec::new();
    collect_longs(&command(), &mut longs);
    let mut out = Vec::with_capacity(args.len());
    let mut passthrough = false;
    for (i, a) in args.into_iter().enumerate() {
        if i == 0 || passthrough {
            out.push(a);
            continue;
        }
        let Some(s) = a.to_str() else {
            out.push(a);
            continue;
        };
        if s == "--" {
            passthrough = true;
            out.push(a);
            continue;
        }
        if let Some(rest) = s.strip_prefix('-')
            && !rest.starts_with('-')
            && rest.len() > 1
        {
            let name = rest.split('=').next().unwrap_or(rest);
            if longs.iter().any(|l| l == name) {
                out.push(format!("-{s}").into());
                continue;
            }
        }
        out.push(a);
    }
    out
}

fn collect_longs(cmd: &clap::Command, out: &mut Vec<String>) {
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            out.push(l.to_string());
        }
    }
    out.push("help".into());
    out.push("version".into());
    for s in cmd.get_subcommands() {
        collect_longs(s, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[&str]) -> Vec<String> {
        normalize_args(v.iter().map(|s| s.into()).collect())
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect()
    }

    #[test]
    fn go_style_flags_become_long_flags() {
        assert_eq!(
            norm(&["mymcp", "serve", "-env-file", "/e", "-port=9", "-host", "h"]),
            [
                "mymcp",
                "serve",
                "--env-file",
                "/e",
                "--port=9",
                "--host",
                "h"
            ]
        );
        assert_eq!(
            norm(&["mymcp", "x", "-1", "-h"]),
            ["mymcp", "x", "-1", "-h"]
        );
        assert_eq!(norm(&["mymcp", "--", "-port"]), ["mymcp", "--", "-port"]);
    }

    #[test]
    fn both_token_add_forms_parse() {
        let c =
            Cli::try_parse_from(["mymcp", "token", "add", "--name", "n", "--role", "rw"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Token(TokenCommand::Add(TokenAdd {
                name: Some(_),
                ..
            })))
        ));
        let c = Cli::try_parse_from(["mymcp", "token", "add", "--role", "rw", "bot"]).unwrap();
        assert!(matches!(
            c.command,
            Some(Command::Token(TokenCommand::Add(TokenAdd {
                name_pos: Some(_),
                ..
            })))
        ));
        assert!(Cli::try_parse_from(["mymcp", "token", "add"]).is_err());
        assert!(Cli::try_parse_from(["mymcp", "token", "add", "--role", "admin", "x"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }
}
