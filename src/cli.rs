//! Command line: one clap definition (it also feeds man pages and completions).

use std::ffi::OsString;
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
pub(crate) struct Cli {
    /// What to do (without one: a short status).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the MCP server in the foreground.
    Serve(ServeArgs),
    /// Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the
    /// caller is the OS user running it.
    Stdio(StdioArgs),
    /// Print the version.
    Version,
    /// Manage client tokens and the admin/metrics tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Set mymcp up as a systemd service: config, tokens, unit, first client token.
    #[command(visible_alias = "install-service")]
    Init(InitArgs),
    /// Stop and remove the service written by `mymcp init` (config kept unless --purge).
    UninstallService(UninstallArgs),
    /// Check the installation, configuration, service and a real tools/list call.
    Doctor(DoctorArgs),
    /// Keep the host overview behind `server_overview` up to date with an LLM (runs as the
    /// mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*).
    Recorder(RecorderArgs),
    /// Confine this process (Landlock, an unprivileged user, no_new_privs), then run a
    /// command: how the server starts an `ro` caller's shell (MYMCP_RO_SHELL).
    #[command(hide = true)]
    ConfineExec(ConfineArgs),
    /// Write man pages and shell completions into a directory (used to refresh the
    /// committed copies; packaging ships those).
    #[command(hide = true)]
    GenerateAssets {
        /// Output directory; gets man/ and completions/ subdirectories.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `mymcp init` options (the v2 `install-service` and v3 `init` flags both work).
#[derive(Debug, Args)]
#[command(
    after_help = "Run as root on a host where systemd is running, or pass --files-only \
to only write the configuration (for packaging, containers or a custom supervisor). An \
existing env file is kept: init never replaces the admin token or existing client tokens."
)]
pub(crate) struct InitArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate
    /// (--tls-cert, --tls-key) or put a TLS proxy in front of it.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    pub(crate) bind: String,
    /// Port to listen on.
    #[arg(long, value_name = "PORT", default_value_t = 8765)]
    pub(crate) port: u16,
    /// Serve HTTPS with this PEM certificate (the server's first, then intermediates); needs
    /// --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and
    /// reloaded by the service when the files change (certbot renewals).
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert; it must not be readable by group or others, and the
    /// service user must be able to read it.
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) dirs: ServiceDirs,
    /// User the service runs as, root or mymcp: root gives the AI client full control of the host; the
    /// unprivileged mymcp user limits it to what that user may do.
    #[arg(long, value_name = "USER", default_value = "root", value_parser = ["root", "mymcp"],
          hide_possible_values = true)]
    pub(crate) service_user: String,
    /// Write the audit log (default).
    #[arg(long, overrides_with = "no_audit")]
    pub(crate) enable_audit: bool,
    /// Do not write the audit log.
    #[arg(long)]
    pub(crate) no_audit: bool,
    /// v3 spelling: --audit=false turns the audit log off.
    #[arg(long, value_name = "BOOL", hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) audit: Option<bool>,
    /// Generate a metrics token so /metrics can be scraped (default).
    #[arg(long, visible_alias = "metrics-token", overrides_with = "no_metrics")]
    pub(crate) enable_metrics: bool,
    /// No metrics token: /metrics answers 503.
    #[arg(long, visible_alias = "no-metrics-token")]
    pub(crate) no_metrics: bool,
    /// Name of the first client token.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub(crate) client_name: String,
    /// Role of the first client token: ro or rw.
    #[arg(long, value_name = "ROLE", default_value = "rw", value_parser = ["ro", "rw"],
          hide_possible_values = true)]
    pub(crate) client_role: String,
    /// Do not create a client token (the packages use this; add one later with
    /// `mymcp token add`).
    #[arg(long)]
    pub(crate) no_client_token: bool,
    /// Do not start (or restart) the service after enabling it.
    #[arg(long)]
    pub(crate) no_start: bool,
    /// v3 spelling: --start=false is --no-start.
    #[arg(long, value_name = "BOOL", hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) start: Option<bool>,
    /// Do not write a unit file (the packages ship their own).
    #[arg(long)]
    pub(crate) no_unit: bool,
    /// Only write files; never call systemctl (works without root or systemd). The log and
    /// recorder directories then default to inside --config-dir, and no unit is written
    /// unless --unit-dir is given.
    #[arg(long)]
    pub(crate) files_only: bool,
    /// Print what would be done and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Accepted for compatibility; grep and glob run in-process and need no ripgrep.
    #[arg(long, hide = true, num_args = 0..=1, default_missing_value = "true")]
    pub(crate) install_ripgrep: Option<String>,
    /// Accepted for compatibility (see --install-ripgrep).
    #[arg(long, hide = true)]
    pub(crate) skip_ripgrep: bool,
}

/// Where `init` puts things and `uninstall-service` looks for them.
#[derive(Debug, Args, Clone)]
pub(crate) struct ServiceDirs {
    /// Directory for .env and tokens.json.
    #[arg(long, value_name = "DIR", default_value = "/etc/mymcp")]
    pub(crate) config_dir: PathBuf,
    /// Directory for the audit log [default: /var/log/mymcp; with --files-only:
    /// <config-dir>/log].
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,
    /// Directory for the recorder's overview and cursor [default: /var/lib/mymcp/recorder;
    /// with --files-only: <config-dir>/recorder].
    #[arg(long, value_name = "DIR")]
    pub(crate) recorder_data_dir: Option<PathBuf>,
    /// Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit
    /// unless this is given].
    #[arg(long, value_name = "DIR")]
    pub(crate) unit_dir: Option<PathBuf>,
}

/// [`ServiceDirs`] with the defaults filled in.
#[derive(Debug, Clone)]
pub(crate) struct Dirs {
    /// Env file and token store.
    pub(crate) config: PathBuf,
    /// Audit log.
    pub(crate) log: PathBuf,
    /// Recorder data.
    pub(crate) recorder: PathBuf,
    /// Where the unit goes; `None` when no unit is written (or looked for).
    pub(crate) unit: Option<PathBuf>,
}

impl ServiceDirs {
    /// Fill in the defaults. `--files-only` promises to work without root or systemd, so
    /// unless told otherwise everything then lives under the config directory and no unit is
    /// written: a user-owned `--config-dir` is all it needs.
    pub(crate) fn resolve(&self, files_only: bool) -> Dirs {
        let cfg = &self.config_dir;
        let or = |given: &Option<PathBuf>, system: &str, local: &str| match given {
            Some(p) => p.clone(),
            None if files_only => cfg.join(local),
            None => PathBuf::from(system),
        };
        Dirs {
            config: cfg.clone(),
            log: or(&self.log_dir, "/var/log/mymcp", "log"),
            recorder: or(
                &self.recorder_data_dir,
                "/var/lib/mymcp/recorder",
                "recorder",
            ),
            unit: match &self.unit_dir {
                Some(u) => Some(u.clone()),
                None if files_only => None,
                None => Some(PathBuf::from("/etc/systemd/system")),
            },
        }
    }
}

/// `mymcp uninstall-service` options.
#[derive(Debug, Args)]
pub(crate) struct UninstallArgs {
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub(crate) yes: bool,
    /// Also delete the config directory (env file, tokens), the audit log directory and the
    /// recorder data. This cannot be undone.
    #[arg(long)]
    pub(crate) purge: bool,
    #[command(flatten)]
    pub(crate) dirs: ServiceDirs,
    /// Only remove files; never call systemctl.
    #[arg(long)]
    pub(crate) files_only: bool,
    /// Print what would be done and change nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

/// `mymcp recorder` options.
#[derive(Debug, Args)]
#[command(
    after_help = "Each cycle (every MYMCP_RECORDER_MERGE_INTERVAL_SEC) folds up to \
MYMCP_RECORDER_MAX_EVENTS_PER_CYCLE new mutating audit events into overview.md and \
changelog.md under MYMCP_RECORDER_DATA_DIR. Without an overview it first runs fixed read-only \
probes (OS, services, ports, disks, containers, cron, users) and asks the model for one. The \
model never chooses commands. Series for /metrics are written to metrics.prom in the data \
directory."
)]
pub(crate) struct RecorderArgs {
    /// Env file to read (same discovery as `serve`).
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,
    /// Run one cycle, print its outcome as JSON and exit.
    #[arg(long)]
    pub(crate) once: bool,
    /// Print the systemd unit for this binary and exit.
    #[arg(long)]
    pub(crate) install_unit: bool,
}

/// `mymcp confine-exec` options (internal: the server builds this command line).
#[derive(Debug, Args)]
pub(crate) struct ConfineArgs {
    /// User id to become.
    #[arg(long)]
    pub(crate) uid: u32,
    /// Group id to become.
    #[arg(long)]
    pub(crate) gid: u32,
    /// Supplementary group ids (comma separated); none when absent.
    #[arg(long, value_delimiter = ',')]
    pub(crate) groups: Vec<u32>,
    /// The call's private directory: the only place that can be written.
    #[arg(long)]
    pub(crate) tmp: PathBuf,
    /// A path that can be neither read nor listed (repeatable).
    #[arg(long)]
    pub(crate) protect: Vec<PathBuf>,
    /// Confine, print what the kernel enforced, and exit.
    #[arg(long)]
    pub(crate) probe: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true)]
    pub(crate) command: Vec<OsString>,
}

/// `mymcp doctor` options.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    /// Config directory to check (its .env).
    #[arg(long, value_name = "DIR", default_value = "/etc/mymcp")]
    pub(crate) config_dir: PathBuf,
    /// Env file to check instead of <config-dir>/.env.
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,
    /// Print the checks as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Exit 1 on warnings too, not only on failures.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// `mymcp serve` options.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env).
    /// A file named here that does not exist is an error.
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,
    /// Address to listen on (overrides MYMCP_HOST).
    #[arg(long, value_name = "HOST")]
    pub(crate) host: Option<String>,
    /// Port to listen on; 0 picks a free one (overrides MYMCP_PORT).
    #[arg(long, value_name = "PORT")]
    pub(crate) port: Option<u16>,
    #[command(flatten)]
    pub(crate) log: LogLevelArg,
    /// Log format: text or json (overrides MYMCP_LOG_FORMAT).
    #[arg(long, value_enum, value_name = "FORMAT", hide_possible_values = true)]
    pub(crate) log_format: Option<LogFormat>,
    /// In temp-token mode, also make a temporary metrics token.
    #[arg(long)]
    pub(crate) with_metrics_token: bool,
}

/// `mymcp stdio` options.
#[derive(Debug, Args)]
#[command(
    after_help = "The client starts this command and speaks MCP on its stdin/stdout; logs \
go to stderr. No token is needed: the caller is the operating-system user running it \
(stdio:<user> in the audit log), so mymcp can do nothing that user could not. The \
configuration, protected paths, limits and audit log are the server's; transfers \
(prepare_upload/prepare_download) need the HTTP server and are off.

Claude Desktop (claude_desktop_config.json) or Claude Code (.mcp.json):
  {\"mcpServers\": {\"this-host\": {\"command\": \"mymcp\", \"args\": [\"stdio\", \"--role\", \"rw\"]}}}
A remote host over SSH:
  {\"mcpServers\": {\"web1\": {\"command\": \"ssh\", \"args\": [\"web1\", \"mymcp\", \"stdio\"]}}}"
)]
pub(crate) struct StdioArgs {
    /// Role of the session: ro (read tools only) or rw (everything the user may do).
    #[arg(long, value_name = "ROLE", default_value = "ro", value_parser = ["ro", "rw"],
          hide_possible_values = true)]
    pub(crate) role: String,
    /// Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env).
    #[arg(long, value_name = "PATH")]
    pub(crate) env_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) log: LogLevelArg,
}

/// `--log-level` of the commands that run a server (`serve`, `stdio`).
#[derive(Debug, Args)]
pub(crate) struct LogLevelArg {
    /// Log level on stderr: trace, debug, info, warning, error or critical (overrides
    /// MYMCP_LOG_LEVEL).
    #[arg(long, value_name = "LEVEL", ignore_case = true,
          value_parser = ["trace", "debug", "info", "warning", "warn", "error", "critical"],
          hide_possible_values = true)]
    pub(crate) log_level: Option<String>,
}

/// Shared option of the token commands.
#[derive(Debug, Args, Clone)]
pub(crate) struct EnvFileArg {
    /// Env file to read (same discovery as `serve`).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) env_file: Option<PathBuf>,
}

/// `mymcp token ...`
#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
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
pub(crate) struct TokenAdd {
    /// Token name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Token name (positional form).
    #[arg(value_name = "NAME")]
    pub(crate) name_pos: Option<String>,
    /// Role: ro (read-only tools) or rw (all tools).
    #[arg(long, default_value = "ro", value_parser = ["ro", "rw"], hide_possible_values = true)]
    pub(crate) role: String,
    #[command(flatten)]
    pub(crate) env: EnvFileArg,
}

/// `mymcp config ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print a commented example env file.
    Example,
}

/// The clap command (for man pages, completions and flag rewriting).
pub(crate) fn command() -> clap::Command {
    Cli::command()
}

/// Accept Go-style single-dash long flags (`serve -env-file PATH`, `-port=8080`): existing v3
/// systemd units use them. Only names that are real long options are rewritten, so short
/// flags and negative numbers are untouched.
pub(crate) fn normalize_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
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

    /// Every `mymcp …` command line in a fenced code block of the README and docs parses with
    /// this CLI, so a documented flag or subcommand cannot drift from the binary.
    #[test]
    fn documented_command_lines_parse() {
        let docs = [
            ("README.md", include_str!("../README.md")),
            ("docs/install.md", include_str!("../docs/install.md")),
            ("docs/operations.md", include_str!("../docs/operations.md")),
            ("docs/service.md", include_str!("../docs/service.md")),
            ("docs/security.md", include_str!("../docs/security.md")),
            ("docs/decisions.md", include_str!("../docs/decisions.md")),
            (
                "docs/architecture.md",
                include_str!("../docs/architecture.md"),
            ),
        ];
        let mut checked = 0;
        for (name, text) in docs {
            let mut in_code = false;
            for (n, line) in text.lines().enumerate() {
                if line.trim_start().starts_with("```") {
                    in_code = !in_code;
                    continue;
                }
                if !in_code {
                    continue;
                }
                // Each command of the line: split at shell separators, drop comments.
                let code = line.split(" #").next().unwrap_or("");
                for part in code.split(['|', ';']).flat_map(|p| p.split("&&")) {
                    let words: Vec<&str> = part
                        .split_whitespace()
                        .skip_while(|w| *w == "sudo" || *w == "$")
                        .take_while(|w| !w.starts_with('>') && !w.starts_with("2>"))
                        .collect();
                    if words.first() != Some(&"mymcp") {
                        continue;
                    }
                    let args = normalize_args(words.iter().map(|w| w.into()).collect());
                    if let Err(e) = Cli::try_parse_from(args) {
                        use clap::error::ErrorKind::{DisplayHelp, DisplayVersion};
                        assert!(
                            matches!(e.kind(), DisplayHelp | DisplayVersion),
                            "{name}:{}: `{}` does not parse: {e}",
                            n + 1,
                            part.trim()
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked >= 10, "only {checked} command lines found");
    }

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
