//! Blanking secrets in this process's initial environment block.
//!
//! `/proc/<pid>/environ` shows the block the kernel laid out at `execve`, not the libc
//! environment: `unsetenv` leaves it untouched. Any secret passed as a variable (an admin token
//! from a unit's `EnvironmentFile=`, an LLM key) would stay readable there for the life of the
//! process. After configuration has been read, the values of secret variables are overwritten
//! in place with NUL bytes by writing through `/proc/self/mem`, which needs no `unsafe` and no
//! privilege. The names stay (`NAME=` followed by NULs), so the block keeps its layout.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

/// Is this variable a secret that must not stay visible in `/proc/<pid>/environ`?
pub(crate) fn is_secret_var(name: &str) -> bool {
    name.starts_with("MYMCP_")
        && (name.ends_with("_TOKEN")
            || name.contains("API_KEY")
            || name.contains("SECRET")
            || name.contains("PASSWORD"))
}

/// Why the block could not be scrubbed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ScrubError {
    /// `/proc/self/stat` or `/proc/self/mem` could not be used.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Cause.
        source: std::io::Error,
    },
    /// `/proc/self/stat` did not have the expected fields.
    #[error("cannot find the environment block in /proc/self/stat")]
    NoBlock,
}

/// Overwrite the values of every secret variable in the initial environment block with NULs.
/// Returns how many values were blanked. Call it once configuration has been read; values
/// read later through `std::env` come back empty.
pub(crate) fn scrub_environment_block() -> Result<usize, ScrubError> {
    let io = |what| move |source| ScrubError::Io { what, source };
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(io("reading /proc/self/stat"))?;
    // Fields after the command name (which may hold spaces and parentheses); env_start and
    // env_end are fields 50 and 51 (proc(5)), i.e. the 48th and 49th after ")".
    let after = stat.rsplit_once(')').ok_or(ScrubError::NoBlock)?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        f.get(47).and_then(|s| s.parse::<u64>().ok()),
        f.get(48).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return Err(ScrubError::NoBlock);
    };
    if end <= start || end - start > 16 << 20 {
        return Err(ScrubError::NoBlock);
    }
    let mem = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/self/mem")
        .map_err(io("opening /proc/self/mem"))?;
    let mut block = vec![0u8; (end - start) as usize];
    mem.read_exact_at(&mut block, start)
        .map_err(io("reading the environment block"))?;
    let mut blanked = 0;
    let mut pos = 0usize;
    for entry in block.split(|b| *b == 0) {
        let here = pos;
        pos += entry.len() + 1;
        let Some(eq) = memchr::memchr(b'=', entry) else {
            continue;
        };
        let name = String::from_utf8_lossy(&entry[..eq]);
        let value_len = entry.len() - eq - 1;
        if value_len == 0 || !is_secret_var(&name) {
            continue;
        }
        let zeros = vec![0u8; value_len];
        mem.write_all_at(&zeros, start + (here + eq + 1) as u64)
            .map_err(io("writing the environment block"))?;
        blanked += 1;
    }
    Ok(blanked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for n in [
            "MYMCP_ADMIN_TOKEN",
            "MYMCP_METRICS_TOKEN",
            "MYMCP_RECORDER_LLM_API_KEY",
        ] {
            assert!(is_secret_var(n), "{n}");
        }
        for n in ["MYMCP_TOKEN_FILE", "MYMCP_HOST", "PATH", "ADMIN_TOKEN"] {
            assert!(!is_secret_var(n), "{n}");
        }
    }
}
