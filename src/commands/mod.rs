//! The non-server subcommands: `token …`, `config example`, the bare-`mymcp` status.

pub(crate) mod assets;
pub(crate) mod doctor;
pub(crate) mod init;
mod system;

use std::path::Path;

use crate::cli::{EnvFileArg, TokenAdd, TokenCommand};
use crate::config::{self, Config, EnvSource};
use crate::error::{PathIo, io_at};
use crate::tokens::{self, Role, TokenError, TokenFile};

/// A failed command (exit 1), with a message for stderr.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// Token store problem.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// Needs an env file and none was found.
    #[error("no env file found (pass --env-file, set MYMCP_ENV_FILE, or run `sudo mymcp init`)")]
    NoEnvFile,
    /// I/O on the env file.
    #[error(transparent)]
    Io(#[from] PathIo),
    /// A token change with no configuration anywhere: it would create a token file in the
    /// default place that no server reads.
    #[error(
        "no mymcp configuration found, so there is no token file to change (pass --env-file, set MYMCP_ENV_FILE or MYMCP_TOKEN_FILE, or run `sudo mymcp init`)"
    )]
    NoConfig,
}

/// Refuse to change tokens when nothing configures mymcp: neither an env file nor
/// `MYMCP_TOKEN_FILE` says where the server's tokens live.
fn require_config(source: &EnvSource) -> Result<(), CommandError> {
    let named = config::process_env().contains_key("MYMCP_TOKEN_FILE");
    if matches!(source, EnvSource::None) && !named {
        return Err(CommandError::NoConfig);
    }
    Ok(())
}

fn load(env_arg: &EnvFileArg) -> Result<(Config, EnvSource), CommandError> {
    let mut env = config::process_env();
    let source = config::discover_env_file(env_arg.env_file.as_deref(), &env)?;
    // The running unit's Environment= wins over the file for the service, so it does here:
    // the token file written must be the one the service reads.
    if let Some(f) = source.file() {
        for (k, v) in system::unit_environment_for(&f.path) {
            env.entry(k).or_insert(v);
        }
    }
    let cfg = Config::resolve(&env, &source)?;
    Ok((cfg, source))
}

/// Run a `token` subcommand, printing to stdout.
pub(crate) fn token(cmd: TokenCommand) -> Result<(), CommandError> {
    match cmd {
        TokenCommand::List(e) => {
            let (cfg, _) = load(&e)?;
            let file = TokenFile::new(&cfg.token_file);
            let set = {
                let _lock = file.lock(false)?;
                file.load()?
            };
            println!(
                "admin token:   {}",
                if cfg.admin_token.is_empty() {
                    "NOT SET"
                } else {
                    "set"
                }
            );
            println!(
                "metrics token: {}",
                if cfg.metrics_token.is_empty() {
                    "disabled (empty)"
                } else {
                    "set"
                }
            );
            println!("token file:    {}", cfg.token_file.display());
            println!();
            if set.tokens.is_empty() {
                println!("(no ro/rw tokens)");
            }
            for (id, t) in &set.tokens {
                let role = t.role.as_deref().unwrap_or("??");
                let mark = if t.enabled && t.role().is_some() {
                    "x"
                } else {
                    " "
                };
                println!(
                    "[{mark}] {role:<2}  {:<20}  {id}  created {}  last used {}",
                    t.name,
                    t.created_at,
                    t.last_used.as_deref().unwrap_or("never")
                );
            }
            Ok(())
        }
        TokenCommand::Add(TokenAdd {
            name,
            name_pos,
            role,
            env,
        }) => {
            let (cfg, source) = load(&env)?;
            require_config(&source)?;
            let name = name.or(name_pos).unwrap_or_default();
            let role = Role::parse(&role).ok_or(TokenError::InvalidRole(role))?;
            let file = TokenFile::new(&cfg.token_file);
            let ((token, id), _) = file.modify(|s| Ok((s.add(&name, role)?, true)))?;
            eprintln!(
                "created {role} token '{name}' (id {id}) in {}; its value is shown only now:",
                cfg.token_file.display()
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::Revoke { token, env } => {
            let (cfg, source) = load(&env)?;
            require_config(&source)?;
            let file = TokenFile::new(&cfg.token_file);
            let (id, _) = file.modify(|s| {
                let id = s.find(&token).ok_or(TokenError::NotFound)?;
                s.tokens.remove(&id);
                Ok((id, true))
            })?;
            println!("revoked {id}");
            Ok(())
        }
        TokenCommand::RotateAdmin(e) => rotate(&e, "MYMCP_ADMIN_TOKEN", true),
        TokenCommand::RotateMetrics(e) => rotate(&e, "MYMCP_METRICS_TOKEN", true),
        TokenCommand::DisableMetrics(e) => rotate(&e, "MYMCP_METRICS_TOKEN", false),
    }
}

fn rotate(e: &EnvFileArg, key: &str, generate: bool) -> Result<(), CommandError> {
    let (_, source) = load(e)?;
    let file = source.file().ok_or(CommandError::NoEnvFile)?;
    let value = if generate {
        tokens::generate_token()
    } else {
        String::new()
    };
    set_env_var(&file.path, key, &value)?;
    if generate {
        eprintln!(
            "wrote a new {key} to {}; a running server picks it up within 2 s:",
            file.path.display()
        );
        println!("{value}");
    } else {
        println!(
            "cleared {key} in {}; /metrics now answers 503",
            file.path.display()
        );
    }
    Ok(())
}

/// Set `KEY=value` in an env file, keeping every other line (comments included), atomically
/// and with the file's mode (0600 when it cannot be read).
pub(crate) fn set_env_var(path: &Path, key: &str, value: &str) -> Result<(), CommandError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| CommandError::from(io_at(path)(source));
    let text = std::fs::read_to_string(path).map_err(io)?;
    let mode = std::fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    let mut out = String::with_capacity(text.len() + 64);
    let mut done = false;
    for line in text.lines() {
        let t = line.trim_start();
        let is_key = t
            .split_once('=')
            .is_some_and(|(k, _)| k.trim() == key && !t.starts_with('#'));
        if is_key {
            if !done {
                out.push_str(&format!("{key}={value}\n"));
                done = true;
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if !done {
        out.push_str(&format!("{key}={value}\n"));
    }
    crate::fsutil::atomic_write(path, out.as_bytes(), mode).map_err(io)
}

/// `mymcp` with no arguments: where things stand and what to do next.
pub(crate) fn status() {
    println!("mymcp {}", env!("CARGO_PKG_VERSION"));
    if Path::new(config::SYSTEM_ENV_FILE).is_file() {
        println!("✓ configured ({})", config::SYSTEM_ENV_FILE);
    } else {
        println!(
            "✗ not initialised ({} does not exist)",
            config::SYSTEM_ENV_FILE
        );
        println!("  try it now:        mymcp serve          (temporary tokens, 127.0.0.1:8765)");
        println!("  install a service: sudo mymcp init");
        println!("  example config:    mymcp config example");
    }
    println!(
        "Commands: serve | init | doctor | token | config | version   (mymcp --help for more)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_env_var_keeps_comments_and_replaces_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".env");
        std::fs::write(
            &p,
            "# head\nMYMCP_ADMIN_TOKEN=old\nX=1\n  MYMCP_ADMIN_TOKEN = dup\n",
        )
        .unwrap();
        set_env_var(&p, "MYMCP_ADMIN_TOKEN", "new").unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "# head\nMYMCP_ADMIN_TOKEN=new\nX=1\n"
        );
        set_env_var(&p, "MYMCP_METRICS_TOKEN", "m").unwrap();
        assert!(
            std::fs::read_to_string(&p)
                .unwrap()
                .ends_with("X=1\nMYMCP_METRICS_TOKEN=m\n")
        );
    }
}
