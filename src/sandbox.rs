//! The confined shell for `ro` callers (`MYMCP_RO_SHELL=true`).
//!
//! A confined command does not run `bash -c` directly: the server runs its own binary as
//! `mymcp confine-exec …` (from `/proc/self/exe`, so an upgrade on disk cannot swap the
//! helper), and that fresh, single-threaded process confines itself before it execs the shell:
//!
//! 1. builds a Landlock ruleset while still root: read and execute everywhere except the
//!    protected paths; write, create, remove, rename, truncate and device `ioctl` only inside
//!    a private temp directory made for the call (and writing `/dev/null`); binding TCP ports
//!    denied; signals and abstract UNIX sockets scoped to the sandbox;
//! 2. drops to `MYMCP_RO_SHELL_USER` with only `MYMCP_RO_SHELL_GROUPS`;
//! 3. sets `no_new_privs` and enforces the ruleset, and checks the kernel enforced all of it;
//! 4. execs the shell.
//!
//! Any failure before the exec ends the helper with [`CONFINE_FAILED`] and a message on
//! stderr, and the call fails: there is never a weaker sandbox than asked for.
//!
//! Landlock grants rights beneath a directory and cannot carve a subtree out of a grant. So
//! "everything but the protected paths" is built by walking down from `/` to each protected
//! path and granting every sibling met on the way (per call, so entries created since are
//! covered). The directories on those walks (`/`, `/etc`, `/var/log`, …) are not granted
//! themselves: their files can be read, but they cannot be listed (docs/security.md).

use std::collections::HashSet;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, LandlockStatus, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::error::ToolError;

/// Exit status of a helper that could not confine itself (nothing was run).
pub(crate) const CONFINE_FAILED: i32 = 125;

/// Prefix of the helper's message when it fails.
pub(crate) const FAILURE_PREFIX: &str = "mymcp confine: ";

/// The Landlock ABI the rules need: scoped signals and abstract sockets (6), device ioctl (5),
/// TCP bind (4), truncate (3), refer (2).
const NEEDED_ABI: ABI = ABI::V6;

/// Why the ro shell cannot be set up (at start, or in the helper).
#[derive(Debug, thiserror::Error)]
pub(crate) enum SandboxError {
    /// The configured user does not exist.
    #[error("MYMCP_RO_SHELL_USER={0}: no such user")]
    NoUser(String),
    /// A configured group does not exist.
    #[error("MYMCP_RO_SHELL_GROUPS: no such group {0:?}")]
    NoGroup(String),
    /// Switching users needs root.
    #[error(
        "MYMCP_RO_SHELL needs the server to run as root to switch confined commands to {0} (or set MYMCP_RO_SHELL_USER to the server's own user)"
    )]
    NotRoot(String),
    /// The kernel cannot enforce the rules.
    #[error(
        "the kernel cannot enforce the ro shell's rules ({0}); it needs Landlock ABI 6 or newer (Linux 6.12+) with Landlock enabled (lsm=…,landlock)"
    )]
    Landlock(String),
    /// Anything else on the way to the exec.
    #[error("{0}")]
    Setup(String),
}

/// The ro shell's settings, resolved at start.
#[derive(Debug, Clone)]
pub(crate) struct RoShell {
    /// User name (for messages).
    pub(crate) user: String,
    uid: u32,
    gid: u32,
    /// Supplementary groups: (name, gid).
    pub(crate) groups: Vec<(String, u32)>,
    /// Canonical paths that can be neither read nor listed.
    pub(crate) protected: Vec<PathBuf>,
    /// Where per-call temp directories go.
    tmp_root: PathBuf,
}

impl RoShell {
    /// Resolve the user and groups; refuse what cannot work (unknown names, no root).
    pub(crate) fn new(
        user: &str,
        groups: &[String],
        protected: Vec<PathBuf>,
    ) -> Result<RoShell, SandboxError> {
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| SandboxError::NoUser(user.to_string()))?;
        let mut gs = Vec::new();
        for g in groups {
            let found = nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .ok_or_else(|| SandboxError::NoGroup(g.clone()))?;
            gs.push((g.clone(), found.gid.as_raw()));
        }
        let me = rustix::process::geteuid();
        if !me.is_root() && me.as_raw() != u.uid.as_raw() {
            return Err(SandboxError::NotRoot(user.to_string()));
        }
        Ok(RoShell {
            user: user.to_string(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            groups: gs,
            protected,
            tmp_root: std::env::temp_dir(),
        })
    }

    /// One call's sandbox: its private temp directory (owned by the confined user, 0700) and
    /// the helper command line that runs `shell -c command` inside it.
    pub(crate) fn prepare(&self) -> Result<CallSandbox, ToolError> {
        let tmp = make_private_dir(&self.tmp_root, self.uid, self.gid)
            .map_err(|e| ToolError::Os(format!("ro shell: cannot make its temp directory: {e}")))?;
        let mut args: Vec<OsString> = vec![
            "confine-exec".into(),
            "--uid".into(),
            self.uid.to_string().into(),
            "--gid".into(),
            self.gid.to_string().into(),
            "--tmp".into(),
            tmp.clone().into(),
        ];
        if !self.groups.is_empty() {
            let list: Vec<String> = self.groups.iter().map(|(_, g)| g.to_string()).collect();
            args.push("--groups".into());
            args.push(list.join(",").into());
        }
        for p in &self.protected {
            args.push("--protect".into());
            args.push(p.clone().into());
        }
        Ok(CallSandbox {
            program: PathBuf::from("/proc/self/exe"),
            args,
            env: vec![
                ("TMPDIR".into(), tmp.clone().into()),
                ("HOME".into(), tmp.clone().into()),
            ],
            tmp,
        })
    }

    /// Run the helper's probe: build and enforce the whole policy in a child and report what
    /// the kernel enforced (`Landlock ABI N, …`). Used at start and by `doctor`.
    pub(crate) fn probe(&self, exe: &Path) -> Result<String, SandboxError> {
        let call = self
            .prepare()
            .map_err(|e| SandboxError::Setup(e.to_string()))?;
        let out = std::process::Command::new(exe)
            .args(&call.args)
            .arg("--probe")
            .env_clear()
            .output()
            .map_err(|e| SandboxError::Setup(format!("{}: {e}", exe.display())))?;
        let said = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if out.status.success() {
            Ok(said)
        } else {
            Err(match err.strip_prefix(FAILURE_PREFIX) {
                Some(m) if m.starts_with("landlock") => SandboxError::Landlock(m.to_string()),
                Some(m) => SandboxError::Setup(m.to_string()),
                None => SandboxError::Setup(format!("{}: {err}", out.status)),
            })
        }
    }

    /// A line for logs and `doctor`: who confined commands run as.
    pub(crate) fn describe(&self) -> String {
        let groups: Vec<&str> = self.groups.iter().map(|(n, _)| n.as_str()).collect();
        format!(
            "runs as {} (uid {}), groups: {}; {} protected paths hidden",
            self.user,
            self.uid,
            if groups.is_empty() {
                "none".to_string()
            } else {
                groups.join(",")
            },
            self.protected.len()
        )
    }
}

/// One confined call: the helper to run and the temp directory to remove afterwards.
#[derive(Debug)]
pub(crate) struct CallSandbox {
    /// The program (the server's own binary).
    pub(crate) program: PathBuf,
    /// Its arguments up to (not including) `--` and the shell command.
    pub(crate) args: Vec<OsString>,
    /// Extra environment: `TMPDIR` and `HOME` point at the private directory.
    pub(crate) env: Vec<(OsString, OsString)>,
    tmp: PathBuf,
}

impl Drop for CallSandbox {
    fn drop(&mut self) {
        // std's remove_dir_all does not follow symlinks planted inside.
        if let Err(e) = std::fs::remove_dir_all(&self.tmp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %self.tmp.display(), "ro shell: cannot remove its temp directory: {e}");
        }
    }
}

/// `mkdir` a fresh `mymcp-ro-<random>` (0700) under `root` and give it to `uid:gid` through
/// the descriptor, so nothing can swap it between the two steps.
fn make_private_dir(root: &Path, uid: u32, gid: u32) -> std::io::Result<PathBuf> {
    use rustix::fs::{Mode, OFlags};
    for _ in 0..8 {
        let p = root.join(format!(
            "mymcp-ro-{}",
            hex::encode(rand::random::<[u8; 8]>())
        ));
        match rustix::fs::mkdir(&p, Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
        let fd = rustix::fs::open(
            &p,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::fs::fchown(
            &fd,
            Some(rustix::fs::Uid::from_raw(uid)),
            Some(rustix::fs::Gid::from_raw(gid)),
        )?;
        return Ok(p);
    }
    Err(std::io::Error::other("no free temp directory name"))
}

/// What `mymcp confine-exec` was told (the server writes this command line).
#[derive(Debug)]
pub(crate) struct HelperArgs {
    /// User id to become.
    pub(crate) uid: u32,
    /// Group id to become.
    pub(crate) gid: u32,
    /// Supplementary group ids.
    pub(crate) groups: Vec<u32>,
    /// The call's private directory.
    pub(crate) tmp: PathBuf,
    /// Paths that can be neither read nor listed.
    pub(crate) protect: Vec<PathBuf>,
    /// Print what was enforced instead of running a command.
    pub(crate) probe: bool,
    /// The command and its arguments.
    pub(crate) command: Vec<OsString>,
}

/// `mymcp confine-exec`: confine this process, then exec the command (or, with `--probe`,
/// print what was enforced). Returns only on failure.
pub(crate) fn confine_exec(a: &HelperArgs) -> SandboxError {
    let (ruleset, rules) = match build_ruleset(&a.protect, &a.tmp) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Err(e) = drop_privileges(a.uid, a.gid, &a.groups) {
        return e;
    }
    let status = match ruleset.restrict_self() {
        Ok(s) => s,
        Err(e) => return SandboxError::Landlock(format!("landlock: {e}")),
    };
    if status.ruleset != RulesetStatus::FullyEnforced || !status.no_new_privs {
        return SandboxError::Landlock(format!(
            "landlock: not fully enforced ({:?}, no_new_privs {})",
            status.ruleset, status.no_new_privs
        ));
    }
    if a.probe {
        let abi = match status.landlock {
            LandlockStatus::Available { effective_abi, .. } => effective_abi as i32,
            _ => 0,
        };
        println!(
            "Landlock ABI {abi}, fully enforced, no_new_privs, uid {}, {rules} read rules",
            rustix::process::getuid().as_raw()
        );
        std::process::exit(0);
    }
    let Some((program, rest)) = a.command.split_first() else {
        return SandboxError::Setup("no command given".into());
    };
    let e = std::process::Command::new(program).args(rest).exec();
    SandboxError::Setup(format!("{}: {e}", Path::new(program).display()))
}

/// Print a helper failure the way the server recognises it, and exit.
pub(crate) fn fail(e: &SandboxError) -> ! {
    let text = match e {
        SandboxError::Landlock(m) | SandboxError::Setup(m) => m.clone(),
        other => other.to_string(),
    };
    eprintln!("{FAILURE_PREFIX}{text}");
    std::process::exit(CONFINE_FAILED)
}

/// The ruleset (created, not yet enforced) and the number of read rules in it.
fn build_ruleset(
    protected: &[PathBuf],
    tmp: &Path,
) -> Result<(landlock::RulesetCreated, usize), SandboxError> {
    let ll = |e: landlock::RulesetError| SandboxError::Landlock(format!("landlock: {e}"));
    let all = AccessFs::from_all(NEEDED_ABI);
    let read_dir = AccessFs::from_read(NEEDED_ABI);
    let read_file = read_dir & AccessFs::from_file(NEEDED_ABI);
    let mut rs = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(all)
        .map_err(ll)?
        .handle_access(AccessNet::BindTcp)
        .map_err(ll)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(ll)?
        .create()
        .map_err(ll)?;
    let roots = readable_roots(protected);
    let mut rules = 0;
    for (p, is_dir) in &roots {
        // A name that vanished or cannot be opened stays denied: the safe direction.
        let Ok(fd) = PathFd::new(p) else { continue };
        let access = if *is_dir { read_dir } else { read_file };
        rs = rs.add_rule(PathBeneath::new(fd, access)).map_err(ll)?;
        rules += 1;
    }
    let fd =
        |p: &Path| PathFd::new(p).map_err(|e| SandboxError::Setup(format!("{}: {e}", p.display())));
    rs = rs.add_rule(PathBeneath::new(fd(tmp)?, all)).map_err(ll)?;
    // `2>/dev/null` opens it for writing with O_TRUNC.
    let null_access = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate;
    rs = rs
        .add_rule(PathBeneath::new(fd(Path::new("/dev/null"))?, null_access))
        .map_err(ll)?;
    Ok((rs, rules))
}

/// Everything to grant read access beneath, with whether it is a directory (after symlinks):
/// walking from `/` down to each protected path, every entry met on the way that is neither
/// protected nor itself on such a walk.
pub(crate) fn readable_roots(protected: &[PathBuf]) -> Vec<(PathBuf, bool)> {
    let mut on_walk: HashSet<&Path> = HashSet::new();
    for p in protected {
        on_walk.extend(p.ancestors());
    }
    if on_walk.is_empty() {
        return vec![(PathBuf::from("/"), true)];
    }
    let shut: HashSet<&Path> = protected.iter().map(PathBuf::as_path).collect();
    let mut dirs: Vec<&Path> = on_walk
        .iter()
        .copied()
        .filter(|d| !shut.contains(d))
        .collect();
    dirs.sort();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if !on_walk.contains(p.as_path()) {
                // The directory entry's type costs no system call; only a symlink needs a
                // stat to learn what it points at.
                let is_dir = match e.file_type() {
                    Ok(t) if t.is_symlink() => p.is_dir(),
                    Ok(t) => t.is_dir(),
                    Err(_) => p.is_dir(),
                };
                out.push((p, is_dir));
            }
        }
    }
    out
}

/// Become `uid:gid` with exactly `groups` (a no-op when already that user and not root).
fn drop_privileges(uid: u32, gid: u32, groups: &[u32]) -> Result<(), SandboxError> {
    use nix::unistd::{Gid, Uid};
    let setup = |what: &str, e: nix::Error| SandboxError::Setup(format!("{what}: {e}"));
    if rustix::process::geteuid().is_root() {
        let gs: Vec<Gid> = groups.iter().map(|g| Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&gs).map_err(|e| setup("setgroups", e))?;
        let g = Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g).map_err(|e| setup("setresgid", e))?;
        let u = Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u).map_err(|e| setup("setresuid", e))?;
    }
    if rustix::process::geteuid().as_raw() != uid || rustix::process::getuid().as_raw() != uid {
        return Err(SandboxError::Setup(format!(
            "still uid {} after switching to {uid}",
            rustix::process::geteuid().as_raw()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_roots_skip_protected_paths_and_their_ancestors() {
        let t = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(t.path()).unwrap();
        for d in [
            "etc/mymcp",
            "etc/ssh",
            "var/log/mymcp",
            "var/log/apt",
            "srv",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("etc/hostname"), "h").unwrap();
        std::fs::write(root.join("etc/mymcp/.env"), "x").unwrap();
        let protected = vec![root.join("etc/mymcp"), root.join("var/log/mymcp")];
        let got: Vec<PathBuf> = readable_roots(&protected)
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let rel: HashSet<String> = got
            .iter()
            .filter_map(|p| p.strip_prefix(&root).ok())
            .map(|p| p.display().to_string())
            .collect();
        for want in ["etc/ssh", "etc/hostname", "var/log/apt", "srv"] {
            assert!(rel.contains(want), "{want} missing from {rel:?}");
        }
        for never in [
            "etc",
            "etc/mymcp",
            "etc/mymcp/.env",
            "var",
            "var/log",
            "var/log/mymcp",
        ] {
            assert!(!rel.contains(never), "{never} granted: {rel:?}");
        }
        // Nothing granted is an ancestor of a protected path, or inside one.
        for g in &got {
            for p in &protected {
                assert!(
                    !p.starts_with(g) && !g.starts_with(p),
                    "{} vs {}",
                    g.display(),
                    p.display()
                );
            }
        }
        // Siblings of the walk at the top level (/usr, /proc, …) are granted too.
        assert!(got.contains(&PathBuf::from("/usr")));
    }
}
