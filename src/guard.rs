//! Path guard: the protected set and opening files so the check applies to what is really
//! opened.
//!
//! A check-then-open by name races a symlink swap (check a regular file, open a link
//! to a protected one). Instead the path is opened once with
//! `O_PATH` (no side effects, even on devices and FIFOs), the real path of that descriptor is
//! read from `/proc/self/fd`, checked, and the very same inode is then reopened for reading
//! through the descriptor's magic link. A later rename or symlink swap cannot change what the
//! descriptor points at.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock, RwLock};

use memchr::memmem::Finder;
use rustix::fs::{FileType, Mode, OFlags};

use crate::config::Config;
use crate::error::{IoOp, ToolError};

/// Longest path any tool accepts, in bytes (Linux `PATH_MAX`). Longer paths cannot be opened
/// anyway; refusing them up front also keeps them out of logs and audit lines.
pub(crate) const PATH_MAX: usize = 4096;

/// What an operation does with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reading (read_file, grep, glob, downloads).
    Read,
    /// Creating, replacing or editing.
    Write,
}

/// One protected entry.
#[derive(Debug, Clone)]
pub(crate) struct Protected {
    /// As written in the configuration (shown in messages).
    pub(crate) display: String,
    /// Canonical form (symlinks resolved as far as the path exists).
    pub(crate) canonical: PathBuf,
    /// Absolute but not canonical: where a symlink in it points *now* is protected too (by
    /// identity, refreshed every second). A certbot key path (`live/…/privkey.pem`) is a link
    /// that a renewal moves to a new file; the canonical path only names the file of the day
    /// the server started.
    pub(crate) configured: PathBuf,
    /// Protected against reading too (otherwise write-only).
    pub(crate) read: bool,
    /// A searcher for the last name of `canonical` (none for `/`): see [`Guard::check_real`].
    last_name: Option<memchr::memmem::Finder<'static>>,
}

/// (device, inode) of a file or directory: what a bind mount, a hard link or another mount
/// namespace cannot disguise.
type Identity = (u64, u64);

fn identity(st: &rustix::fs::Stat) -> Identity {
    (st.st_dev, st.st_ino)
}

/// Files under `/proc/<pid>/` (and `/proc/<pid>/task/<tid>/`) that expose another process's
/// secrets or memory: environment variables, memory and its layout. Refused for every process.
const SECRET_PROC_FILES: [&str; 11] = [
    "environ",
    "mem",
    "maps",
    "smaps",
    "smaps_rollup",
    "numa_maps",
    "pagemap",
    "auxv",
    "syscall",
    "stack",
    "map_files",
];

/// The protected set, built once at start-up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guard {
    entries: Vec<Protected>,
    /// Identities of the entries that exist, refreshed by [`Guard::refresh_identities`]
    /// (the audit directory, say, appears only with the first record).
    ids: Arc<RwLock<Vec<(Identity, usize)>>>,
    /// This process.
    own_pid: u32,
    /// Our executable: any process running it (the recorder, another instance, one of our
    /// own threads under its thread id) is off limits in `/proc`.
    own_exe: Option<Identity>,
}

/// `realpath` for paths that may not exist: the deepest existing ancestor is resolved by the
/// kernel (symlinks and `..` exactly as an open would see them, magic links included) and the
/// missing rest is appended, with `.` and `..` in that rest cleaned lexically (they name
/// directories that do not exist yet, so no link can change their meaning).
pub(crate) fn canonicalize_lenient(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&existing) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return lexical_clean(&out);
        }
        let name = match existing.components().next_back() {
            Some(Component::Normal(n)) => n.to_os_string(),
            Some(Component::ParentDir) => "..".into(),
            Some(Component::CurDir) => ".".into(),
            _ => return lexical_clean(p),
        };
        rest.push(name);
        if !existing.pop() {
            return lexical_clean(p);
        }
    }
}

/// Remove `.` and resolve `..` lexically. Only sound on a path with no symlinks in it: a
/// canonical prefix followed by components that do not exist.
pub(crate) fn lexical_clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Guard {
    /// Build the always-protected set from the configuration: the env file, the token file,
    /// their directories (which covers lock and temp siblings), the audit log directory, every
    /// `MYMCP_PROTECTED_PATHS` entry, and the recorder data directory (write only).
    pub(crate) fn from_config(cfg: &Config, token_file: Option<&Path>) -> Guard {
        let mut g = Guard {
            own_pid: std::process::id(),
            own_exe: rustix::fs::stat("/proc/self/exe")
                .ok()
                .map(|s| identity(&s)),
            ..Guard::default()
        };
        let add_file_and_dir = |g: &mut Guard, file: &Path| {
            g.add(&file.display().to_string(), file, true);
            if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
                // Protecting "/" would disable every tool; the file itself stays protected.
                if dir != Path::new("/") {
                    g.add(&dir.display().to_string(), &dir, true);
                }
            }
        };
        if let Some(env) = &cfg.env_file {
            add_file_and_dir(&mut g, env);
        }
        if let Some(tf) = token_file {
            let abs = std::path::absolute(tf).unwrap_or_else(|_| tf.to_path_buf());
            add_file_and_dir(&mut g, &abs);
        }
        // The TLS private key is a secret wherever the operator keeps it (often outside the
        // configuration directory, e.g. /etc/letsencrypt, readable by a root service). Only
        // the file: its directory can be a shared one, and the certificate is public.
        if let Some(tls) = &cfg.tls {
            g.add(&tls.key.display().to_string(), &tls.key, true);
        }
        g.add(
            &cfg.audit_log_dir.display().to_string(),
            &cfg.audit_log_dir,
            true,
        );
        for p in &cfg.protected_paths {
            g.add(p, Path::new(p), true);
        }
        g.add(
            &cfg.recorder_data_dir.display().to_string(),
            &cfg.recorder_data_dir,
            false,
        );
        g.refresh_identities();
        g
    }

    /// Add an entry.
    pub(crate) fn add(&mut self, display: &str, path: &Path, read: bool) {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let canonical = canonicalize_lenient(&abs);
        if self
            .entries
            .iter()
            .any(|e| e.canonical == canonical && e.read == read)
        {
            return;
        }
        let last_name = canonical
            .file_name()
            .map(|n| memchr::memmem::Finder::new(n.as_encoded_bytes()).into_owned());
        self.entries.push(Protected {
            display: display.to_string(),
            canonical,
            configured: abs,
            read,
            last_name,
        });
        self.refresh_identities();
    }

    /// Record the (device, inode) of every entry that exists now, under its canonical path
    /// and under its configured one (following links as they are now). Called at start-up and
    /// then every second, so entries created later (the audit directory) and links moved to a
    /// new file (a renewed certificate key) are covered too.
    pub(crate) fn refresh_identities(&self) {
        let mut ids: Vec<(Identity, usize)> = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            for p in [&e.canonical, &e.configured] {
                if let Ok(st) = rustix::fs::stat(p) {
                    let id = identity(&st);
                    if !ids.contains(&(id, i)) {
                        ids.push((id, i));
                    }
                }
            }
        }
        if let Ok(mut w) = self.ids.write() {
            *w = ids;
        }
    }

    /// The entries (for `doctor` and logs).
    pub(crate) fn entries(&self) -> &[Protected] {
        &self.entries
    }

    /// Check a canonical path against the set, and against the `/proc` rules.
    pub(crate) fn check_real(&self, real: &Path, access: Access) -> Result<(), ToolError> {
        // A grep calls this for every file it opens. Comparing paths component by component
        // was a twentieth of its CPU, so a byte search comes first: every name in a path is
        // in its bytes, so a path without an entry's last name cannot be under that entry.
        let bytes = real.as_os_str().as_encoded_bytes();
        for e in &self.entries {
            if !(access == Access::Write || e.read) {
                continue;
            }
            if let Some(last) = &e.last_name
                && last.find(bytes).is_none()
            {
                continue;
            }
            if real.starts_with(&e.canonical) {
                return Err(ToolError::ProtectedPath(e.display.clone()));
            }
        }
        if let Some(why) = self.proc_refusal(real) {
            return Err(ToolError::ProtectedPath(why));
        }
        Ok(())
    }

    /// Check what a descriptor really is: its (device, inode) against the protected entries.
    /// This is what catches a protected file reached through a bind mount, a hard link or
    /// another process's root (`/proc/<pid>/root/...`), where the path string looks harmless.
    pub(crate) fn check_identity(
        &self,
        st: &rustix::fs::Stat,
        access: Access,
    ) -> Result<(), ToolError> {
        match self.identity_match(identity(st), access) {
            Some(i) => Err(ToolError::ProtectedPath(self.entries[i].display.clone())),
            None => Ok(()),
        }
    }

    /// [`Guard::check_identity`] for a (device, inode) pair from `std` metadata (walks).
    pub(crate) fn is_protected_id(&self, dev: u64, ino: u64, access: Access) -> bool {
        self.identity_match((dev, ino), access).is_some()
    }

    /// The entry whose identity `id` is. A recorded identity can be stale: the token file is
    /// replaced by rename, and its old inode number is then free for any new file. So a
    /// candidate counts only if the entry's path still has that identity now.
    fn identity_match(&self, id: Identity, access: Access) -> Option<usize> {
        let candidates: Vec<usize> = match self.ids.read() {
            Ok(ids) => ids
                .iter()
                .filter(|(pid, i)| *pid == id && (access == Access::Write || self.entries[*i].read))
                .map(|(_, i)| *i)
                .collect(),
            Err(_) => return None,
        };
        let mut stale = false;
        for i in candidates {
            let e = &self.entries[i];
            let still = [&e.canonical, &e.configured]
                .into_iter()
                .any(|p| rustix::fs::stat(p).is_ok_and(|now| identity(&now) == id));
            if still {
                return Some(i);
            }
            stale = true;
        }
        if stale {
            self.refresh_identities();
        }
        None
    }

    /// Why a path inside `/proc` is off limits, if it is: the kernel's memory and log
    /// (`kcore`, `kmsg`), every file of a process running our executable (its environment holds
    /// the admin token, its memory everything), and the secret files of any process.
    fn proc_refusal(&self, real: &Path) -> Option<String> {
        // Cheap first (see `check_real`): a path under /proc has "proc" in its bytes.
        static PROC: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("proc"));
        PROC.find(real.as_os_str().as_encoded_bytes())?;
        let rest = real.strip_prefix("/proc").ok()?;
        let mut comps = rest.components().filter_map(|c| match c {
            Component::Normal(n) => n.to_str(),
            _ => None,
        });
        let first = comps.next()?;
        if matches!(
            first,
            "kcore" | "kmsg" | "self" | "thread-self" | "kpagecount" | "kpageflags" | "kpagecgroup"
        ) {
            return Some(format!("/proc/{first}"));
        }
        let pid: u32 = first.parse().ok()?;
        if pid == self.own_pid || self.runs_our_exe(pid) {
            return Some(format!("/proc/{pid} (a mymcp process)"));
        }
        let mut next = comps.next()?;
        if next == "task" {
            comps.next()?;
            next = comps.next()?;
        }
        SECRET_PROC_FILES
            .contains(&next)
            .then(|| format!("/proc/{pid}/{next}"))
    }

    fn runs_our_exe(&self, pid: u32) -> bool {
        let Some(own) = self.own_exe else {
            return false;
        };
        match rustix::fs::stat(format!("/proc/{pid}/exe")) {
            Ok(st) => identity(&st) == own,
            // A process whose executable we may not see (another user's, when not root) is
            // not one of ours: ours run as the same user.
            Err(_) => false,
        }
    }
}

/// Refuse empty, relative and over-long paths (a relative path would resolve against the
/// server's working directory, which the caller cannot see).
pub(crate) fn require_absolute<'a>(path: &'a str, param: &str) -> Result<&'a Path, ToolError> {
    if path.is_empty() {
        return Err(ToolError::InvalidPath(format!("{param} must not be empty")));
    }
    if path.len() > PATH_MAX {
        return Err(ToolError::InvalidPath(format!(
            "{param} is {} bytes long; paths are at most {PATH_MAX} bytes",
            path.len()
        )));
    }
    if path.contains('\0') {
        return Err(ToolError::InvalidPath(format!(
            "{param} contains a NUL byte"
        )));
    }
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(ToolError::InvalidPath(format!(
            "{param} must be an absolute path, got {path:?}"
        )));
    }
    Ok(p)
}

/// The real path behind an open descriptor.
pub(crate) fn fd_path(fd: &impl AsFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// A file opened for reading after the guard approved what it really is.
#[derive(Debug)]
pub(crate) struct OpenedFile {
    /// The open file (non-blocking: a pseudo-file with nothing to read answers `EAGAIN`
    /// instead of parking a thread forever).
    pub(crate) file: File,
    /// Its size at open time.
    pub(crate) size: u64,
    /// Its canonical path.
    pub(crate) real: PathBuf,
}

fn io_of(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from(e)
}

/// File systems whose files are generated by the kernel or a driver on read.
fn is_pseudo_fs(fd: &impl AsFd) -> bool {
    const PROC: i64 = 0x9fa0;
    const SYSFS: i64 = 0x6265_6572;
    const TRACEFS: i64 = 0x7472_6163;
    const DEBUGFS: i64 = 0x6462_6720;
    const SECURITYFS: i64 = 0x7365_6373;
    const CGROUP2: i64 = 0x6367_7270;
    const CGROUP: i64 = 0x27e0eb;
    const BPF: i64 = 0xcafe_4a11;
    const FUSE: i64 = 0x6573_5546;
    const PSTORE: i64 = 0x6165_676c;
    const EFIVARFS: i64 = 0xde5e_81e4;
    const CONFIGFS: i64 = 0x6265_6570;
    match rustix::fs::fstatfs(fd) {
        #[allow(clippy::unnecessary_cast)]
        Ok(s) => matches!(
            s.f_type as i64,
            PROC | SYSFS
                | TRACEFS
                | DEBUGFS
                | SECURITYFS
                | CGROUP2
                | CGROUP
                | BPF
                | FUSE
                | PSTORE
                | EFIVARFS
                | CONFIGFS
        ),
        Err(_) => true,
    }
}

/// Pseudo-files whose read waits for an event that may never come. `O_NONBLOCK` covers most
/// of them; these are refused by name as well, so a driver that ignores the flag cannot park
/// a thread.
fn blocking_pseudo_file(real: &Path) -> bool {
    let bytes = real.as_os_str().as_encoded_bytes();
    // Cheap first (see `Guard::check_real`): each name below is in the bytes of a path it
    // matches.
    static NAMES: LazyLock<[Finder<'static>; 3]> =
        LazyLock::new(|| ["kmsg", "trace_pipe", "kernel"].map(Finder::new));
    if NAMES.iter().all(|f| f.find(bytes).is_none()) {
        return false;
    }
    let name = real.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "kmsg"
        || name.starts_with("trace_pipe")
        || real.starts_with("/sys/kernel/debug")
        || real.starts_with("/sys/kernel/tracing")
}

/// The name to `openat` for one component of an absolute path (`None`: nothing to step).
fn step_name(c: Component<'_>) -> Option<&std::ffi::OsStr> {
    match c {
        Component::Normal(n) => Some(n),
        Component::ParentDir => Some(std::ffi::OsStr::new("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    }
}

impl Guard {
    /// Resolve `path` one component at a time from `/`, the way the kernel would (symlinks and
    /// magic links followed, `..` taken from the directory actually reached), checking the
    /// identity of every directory on the way and of the end. Returns an `O_PATH` descriptor
    /// of what the path names, its metadata, and the first protected entry met on the way, if any (the
    /// caller checks the real path first, so messages name the most specific entry). Nothing
    /// is created.
    fn walk(
        &self,
        path: &Path,
        access: Access,
    ) -> Result<(OwnedFd, rustix::fs::Stat, Option<ToolError>), rustix::io::Errno> {
        let mut cur = open_root()?;
        let mut st = None;
        let mut hit = None;
        for name in path.components().filter_map(step_name) {
            let next: OwnedFd =
                rustix::fs::openat(&cur, name, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
            let next_st = rustix::fs::fstat(&next)?;
            if hit.is_none() {
                hit = self.check_identity(&next_st, access).err();
            }
            st = Some(next_st);
            cur = next;
        }
        let st = match st {
            Some(st) => st,
            None => rustix::fs::fstat(&cur)?,
        };
        Ok((cur, st, hit))
    }

    /// Open a regular file for reading. `path` must be absolute. Symlinks are followed, and
    /// the protected check applies to the file actually opened: its real path, its identity
    /// and the identity of every directory the path went through.
    pub(crate) fn open_read(&self, path: &str) -> Result<OpenedFile, ToolError> {
        let p = require_absolute(path, "file_path")?;
        let (o_path, st, hit) = self
            .walk(p, Access::Read)
            .map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
        let real = fd_path(&o_path).map_err(|e| ToolError::from_io(&e, path, IoOp::Resolve))?;
        self.check_real(&real, Access::Read)?;
        if let Some(e) = hit {
            return Err(e);
        }
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => {}
            FileType::Directory => {
                return Err(ToolError::IsADirectory(format!("{path} is a directory")));
            }
            other => {
                return Err(ToolError::NotARegularFile(format!(
                    "{path} is not a regular file ({}); only regular files can be read",
                    file_type_name(other)
                )));
            }
        }
        if blocking_pseudo_file(&real) && is_pseudo_fs(&o_path) {
            return Err(ToolError::NotARegularFile(format!(
                "{path} is a kernel pseudo-file whose reads wait for events; it cannot be read here"
            )));
        }
        // Reopen the same inode through the descriptor, not by name: no race with renames.
        // O_NONBLOCK: a pseudo-file with nothing to say answers EAGAIN instead of blocking.
        let fd: OwnedFd = rustix::fs::open(
            format!("/proc/self/fd/{}", o_path.as_raw_fd()),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
        let st2 = rustix::fs::fstat(&fd).map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
        if st2.st_ino != st.st_ino || st2.st_dev != st.st_dev {
            return Err(ToolError::Os(format!("{path}: file changed while opening")));
        }
        Ok(OpenedFile {
            file: File::from(fd),
            size: st2.st_size as u64,
            real,
        })
    }
}

/// `/` as an `O_PATH` descriptor, where every component-by-component walk starts.
/// Close-on-exec like every descriptor here: a command spawned while a tool holds one must not
/// inherit it.
fn open_root() -> Result<OwnedFd, rustix::io::Errno> {
    rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

fn file_type_name(t: FileType) -> &'static str {
    match t {
        FileType::Fifo => "a FIFO",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Socket => "a socket",
        FileType::Symlink => "a symlink",
        _ => "a special file",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_match_by_component() {
        let mut g = Guard::default();
        g.add("/srv/secret", Path::new("/srv/secret"), true);
        g.add("/srv/rec", Path::new("/srv/rec"), false);
        assert!(
            g.check_real(Path::new("/srv/secret"), Access::Read)
                .is_err()
        );
        assert!(
            g.check_real(Path::new("/srv/secret/a"), Access::Read)
                .is_err()
        );
        assert!(
            g.check_real(Path::new("/srv/secretary"), Access::Read)
                .is_ok()
        );
        assert!(g.check_real(Path::new("/srv/rec/x"), Access::Read).is_ok());
        assert!(
            g.check_real(Path::new("/srv/rec/x"), Access::Write)
                .is_err()
        );
        // The byte search that comes first must not let a path spelled with doubled
        // slashes or `.` through, nor the root entry (which has no last name).
        for odd in ["/srv//secret", "//srv/./secret/a", "/srv/secret/"] {
            assert!(g.check_real(Path::new(odd), Access::Read).is_err(), "{odd}");
        }
        let mut root = Guard::default();
        root.add("/", Path::new("/"), true);
        assert!(root.check_real(Path::new("/etc"), Access::Read).is_err());
        // /proc refusals and event files behind odd spellings too.
        assert!(
            g.check_real(Path::new("//proc/./kcore"), Access::Read)
                .is_err()
        );
        assert!(blocking_pseudo_file(Path::new("/sys//kernel/tracing/x")));
        assert!(blocking_pseudo_file(Path::new("/dev/kmsg")));
        assert!(!blocking_pseudo_file(Path::new("/srv/kernel.log")));
    }

    #[test]
    fn symlink_to_protected_is_refused_and_devices_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("secret");
        std::fs::create_dir(&secret).unwrap();
        std::fs::write(secret.join("k"), "x").unwrap();
        std::os::unix::fs::symlink(secret.join("k"), d.path().join("link")).unwrap();
        let mut g = Guard::default();
        g.add("SECRET", &secret, true);
        let err = g
            .open_read(d.path().join("link").to_str().unwrap())
            .unwrap_err();
        assert_eq!(err.code(), "ProtectedPath");
        assert_eq!(
            g.open_read("/dev/null").unwrap_err().code(),
            "NotARegularFile"
        );
        assert_eq!(g.open_read("relative").unwrap_err().code(), "InvalidPath");
        assert_eq!(g.open_read("").unwrap_err().code(), "InvalidPath");
    }

    #[test]
    fn lenient_canonicalize_keeps_missing_tail() {
        let d = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(d.path()).unwrap();
        let p = d.path().join("a/../b/c");
        assert_eq!(canonicalize_lenient(&p), real.join("b/c"));
    }

    #[test]
    fn lenient_canonicalize_resolves_the_existing_prefix_through_links() {
        // The protected-path check compares canonical paths: a link in the existing part
        // must be resolved even when the tail does not exist yet (or ends in `..`).
        let d = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(d.path()).unwrap().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            canonicalize_lenient(&link.join("new/f")),
            real.join("new/f")
        );
        assert_eq!(canonicalize_lenient(&link.join("new/..")), real);
        assert_eq!(
            canonicalize_lenient(&link.join("a/b/../c")),
            real.join("a/c")
        );
    }

    #[test]
    fn entries_are_deduplicated_by_path_and_access() {
        let mut g = Guard::default();
        g.add("A", Path::new("/srv/a"), true);
        g.add("A again", Path::new("/srv/a"), true);
        g.add("A write-only", Path::new("/srv/a"), false);
        g.add("B", Path::new("/srv/b"), true);
        let names: Vec<&str> = g.entries().iter().map(|e| e.display.as_str()).collect();
        assert_eq!(names, ["A", "A write-only", "B"]);
    }

    #[test]
    fn identity_of_a_write_only_entry_is_refused_for_writes_only() {
        let d = tempfile::tempdir().unwrap();
        let rec = d.path().join("rec");
        std::fs::create_dir(&rec).unwrap();
        let mut g = Guard::default();
        g.add("REC", &rec, false);
        let st = rustix::fs::stat(&rec).unwrap();
        assert!(g.check_identity(&st, Access::Read).is_ok());
        assert!(g.check_identity(&st, Access::Write).is_err());
        let other = rustix::fs::stat(d.path()).unwrap();
        assert!(g.check_identity(&other, Access::Write).is_ok());
    }

    #[test]
    fn proc_of_a_process_running_our_executable_is_refused() {
        // Stand-in for "our executable": sleep's, so a sleep process is "one of ours".
        let sleep_bin = std::fs::canonicalize("/bin/sleep")
            .or_else(|_| std::fs::canonicalize("/usr/bin/sleep"))
            .unwrap();
        let mut child = std::process::Command::new(&sleep_bin)
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        let g = Guard {
            own_exe: Some(identity(&rustix::fs::stat(&sleep_bin).unwrap())),
            ..Guard::default()
        };
        let status = PathBuf::from(format!("/proc/{pid}/status"));
        let ours = g.check_real(&status, Access::Read);
        // Control: the same file with another executable as ours is readable.
        let plain = Guard::default().check_real(&status, Access::Read);
        let own = Guard {
            own_pid: std::process::id(),
            ..Guard::default()
        }
        .check_real(
            &PathBuf::from(format!("/proc/{}/status", std::process::id())),
            Access::Read,
        );
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(ours.unwrap_err().code(), "ProtectedPath");
        assert!(plain.is_ok());
        assert_eq!(own.unwrap_err().code(), "ProtectedPath");
    }

    #[test]
    fn a_path_of_exactly_path_max_bytes_is_allowed() {
        let at_max = format!("/{}", "a".repeat(PATH_MAX - 1));
        assert!(require_absolute(&at_max, "p").is_ok());
        let over = format!("/{}", "a".repeat(PATH_MAX));
        assert_eq!(
            require_absolute(&over, "p").unwrap_err().code(),
            "InvalidPath"
        );
    }

    #[test]
    fn pseudo_files_are_recognised_by_file_system_and_name() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("f"), "x").unwrap();
        assert!(is_pseudo_fs(&File::open("/proc/version").unwrap()));
        assert!(!is_pseudo_fs(&File::open(d.path().join("f")).unwrap()));
        for blocking in [
            "/proc/kmsg",
            "/x/trace_pipe",
            "/x/trace_pipe_raw",
            "/sys/kernel/debug/a",
            "/sys/kernel/tracing/a",
        ] {
            assert!(blocking_pseudo_file(Path::new(blocking)), "{blocking}");
        }
        for fine in ["/proc/version", "/sys/kernel/mm/x", "/var/log/kmsg.txt"] {
            assert!(!blocking_pseudo_file(Path::new(fine)), "{fine}");
        }
    }

    #[test]
    fn a_socket_is_walked_without_opening_it() {
        // The walk opens each component with O_PATH: a socket (which a plain open refuses
        // with ENXIO) is reached and then refused for what it is.
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("s.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let err = Guard::default()
            .open_read(sock.to_str().unwrap())
            .unwrap_err();
        assert_eq!(err.code(), "NotARegularFile", "{err:?}");
        assert!(format!("{err:?}").contains("a socket"), "{err:?}");
    }

    fn assert_cloexec(fd: &impl AsFd, what: &str) {
        let flags = rustix::io::fcntl_getfd(fd).unwrap();
        assert!(
            flags.contains(rustix::io::FdFlags::CLOEXEC),
            "{what} is inherited by commands: {flags:?}"
        );
    }

    fn status_flags(fd: &impl AsFd) -> OFlags {
        rustix::fs::fcntl_getfl(fd).unwrap()
    }

    #[test]
    fn every_descriptor_handed_out_is_close_on_exec_and_opened_as_intended() {
        // A command spawned while a tool holds a descriptor must not inherit it (a protected
        // file opened for one caller would leak to another's shell); reads must not block on
        // pseudo-files; appends must append.
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("a.txt");
        std::fs::write(&file, "hello").unwrap();
        let path = file.to_str().unwrap();
        let g = Guard::default();

        let root = open_root().unwrap();
        assert_cloexec(&root, "open_root");
        assert!(status_flags(&root).contains(OFlags::PATH));
        let (top, _, _) = g.walk(Path::new("/"), Access::Read).unwrap();
        assert_cloexec(&top, "walk");

        let o = g.open_read(path).unwrap();
        assert_cloexec(&o.file, "open_read");
        assert!(status_flags(&o.file).contains(OFlags::NONBLOCK));
        let w = g.open_walked(path).unwrap();
        assert_cloexec(&w, "open_walked");
        assert!(status_flags(&w).contains(OFlags::NONBLOCK));

        let t = g.resolve_write(path, false).unwrap();
        assert_cloexec(&t.dir, "resolve_write's directory");
        let (f, size) = open_target(&t, path).unwrap();
        assert_cloexec(&f, "open_target");
        assert_eq!(size, 5);
        let tmp = create_temp(&t).unwrap();
        assert_cloexec(&tmp.file, "create_temp");
        assert_eq!(status_flags(&tmp.file) & OFlags::ACCMODE, OFlags::WRONLY);
        discard_temp(&t, tmp);
        let a = open_append(&t).unwrap();
        assert_cloexec(&a, "open_append");
        assert!(status_flags(&a).contains(OFlags::APPEND | OFlags::WRONLY));
        drop(a);

        let new = d.path().join("new.txt");
        let t = g.resolve_write(new.to_str().unwrap(), false).unwrap();
        let a = open_append(&t).unwrap();
        assert_cloexec(&a, "open_append (new file)");
        assert!(status_flags(&a).contains(OFlags::APPEND | OFlags::WRONLY));
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&new).unwrap().permissions(),
        ) & 0o7777;
        assert_eq!(mode, 0o644);
        // Nothing is left behind in the directory but the two files.
        let mut names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["a.txt", "new.txt"]);
    }

    #[test]
    fn open_walked_refuses_a_symlink_anywhere_in_the_path() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::fs::write(d.path().join("real/f"), "x").unwrap();
        std::os::unix::fs::symlink("real", d.path().join("link")).unwrap();
        let g = Guard::default();
        // Control: the same file through the real directory opens.
        g.open_walked(d.path().join("real/f").to_str().unwrap())
            .unwrap();
        let err = g
            .open_walked(d.path().join("link/f").to_str().unwrap())
            .unwrap_err();
        assert!(format!("{err:?}").contains("link"), "{err:?}");
    }

    #[test]
    fn parents_are_created_only_when_asked_and_a_file_is_never_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let g = Guard::default();
        let deep = d.path().join("a/b/f.txt");
        let deep = deep.to_str().unwrap();
        let err = g.resolve_write(deep, false).unwrap_err();
        assert!(!d.path().join("a").exists(), "{err:?}");
        let t = g.resolve_write(deep, true).unwrap();
        assert!(d.path().join("a/b").is_dir());
        assert!(t.existing.is_none());
        // A regular file where a directory should be is named as such.
        std::fs::write(d.path().join("plain"), "x").unwrap();
        for create in [false, true] {
            let under = d.path().join("plain/f.txt");
            let err = g
                .resolve_write(under.to_str().unwrap(), create)
                .unwrap_err();
            assert!(
                format!("{err:?}").contains("is not a directory"),
                "{create}: {err:?}"
            );
        }
    }

    #[test]
    fn ordinary_pseudo_files_are_read_and_event_files_refused() {
        // /proc/version is on a pseudo file system but answers at once: it is read.
        let g = Guard::default();
        let o = g.open_read("/proc/version").unwrap();
        assert_eq!(o.size, 0);
        g.open_walked("/proc/version").unwrap();
        assert!(g.open_read("/proc/kmsg").is_err());
    }

    /// A write target whose name was swapped for another file after it was resolved.
    fn swapped_target(d: &Path) -> (WriteTarget, String) {
        let file = d.join("f.txt");
        std::fs::write(&file, "old").unwrap();
        let path = file.to_str().unwrap().to_string();
        let t = Guard::default().resolve_write(&path, false).unwrap();
        std::fs::write(d.join("other"), "other").unwrap();
        std::fs::rename(d.join("other"), &file).unwrap();
        (t, path)
    }

    #[test]
    fn a_target_swapped_after_resolution_is_neither_read_nor_appended_to() {
        // Same directory, so same device and another inode: the check must compare inodes
        // even when the devices agree.
        let d = tempfile::tempdir().unwrap();
        let (t, path) = swapped_target(d.path());
        let err = open_target(&t, &path).unwrap_err();
        assert!(format!("{err:?}").contains("changed"), "{err:?}");
        let err = append_file(&t, b"more").unwrap_err();
        assert!(err.to_string().contains("changed"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"other");
        // Control: an untouched target is read and appended to.
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("g.txt");
        std::fs::write(&file, "old").unwrap();
        let path = file.to_str().unwrap();
        let t = Guard::default().resolve_write(path, false).unwrap();
        assert_eq!(read_target(&t, path, 100).unwrap(), b"old");
        assert_eq!(append_file(&t, b"+").unwrap(), 4);
        assert_eq!(std::fs::read(path).unwrap(), b"old+");
    }

    #[test]
    fn a_target_replaced_by_a_link_is_not_followed_even_to_the_same_file() {
        // The name was a regular file when resolved; a symlink put there since is refused
        // (O_NOFOLLOW), even one that leads back to the very inode that was approved.
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("f.txt");
        std::fs::write(&file, "old").unwrap();
        let path = file.to_str().unwrap().to_string();
        let t = Guard::default().resolve_write(&path, false).unwrap();
        std::fs::hard_link(&file, d.path().join("same")).unwrap();
        std::fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink("same", &file).unwrap();
        assert!(open_target(&t, &path).is_err());
        assert!(append_file(&t, b"more").is_err());
        assert_eq!(std::fs::read(d.path().join("same")).unwrap(), b"old");
    }

    #[test]
    fn read_target_takes_exactly_up_to_its_limit() {
        let d = tempfile::tempdir().unwrap();
        let target = |content: &[u8]| {
            let file = d.path().join("f");
            std::fs::write(&file, content).unwrap();
            let path = file.to_str().unwrap().to_string();
            (Guard::default().resolve_write(&path, false).unwrap(), path)
        };
        let (t, p) = target(b"0123456789");
        assert_eq!(read_target(&t, &p, 10).unwrap(), b"0123456789");
        let (t, p) = target(b"0123456789a");
        let err = read_target(&t, &p, 10).unwrap_err();
        assert_eq!(err.code(), "FileTooLarge", "{err:?}");
        let (t, p) = target(&[b'x'; 100]);
        assert_eq!(read_target(&t, &p, 10).unwrap_err().code(), "FileTooLarge");

        // A file that holds more than its size said when it was checked (it grew, or it is
        // a pseudo-file reporting 0): refused, never cut to the limit.
        let dir = rustix::fs::open(
            "/proc/self",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let st = rustix::fs::statat(&dir, "status", rustix::fs::AtFlags::empty()).unwrap();
        assert_eq!(st.st_size, 0);
        let t = WriteTarget {
            dir,
            name: "status".into(),
            existing: Some(st),
        };
        let err = read_target(&t, "/proc/self/status", 10).unwrap_err();
        assert_eq!(err.code(), "FileTooLarge", "{err:?}");
        assert!(format!("{err:?}").contains("grew"), "{err:?}");
        // Control: with room for all of it, the same file is read whole.
        let all = read_target(&t, "/proc/self/status", 1 << 20).unwrap();
        assert!(
            all.starts_with(b"Name:"),
            "{}",
            String::from_utf8_lossy(&all)
        );
    }
}

/// Where a write lands, resolved and approved: an open directory and a name in it.
#[derive(Debug)]
pub(crate) struct WriteTarget {
    /// The directory that holds the file (opened, so renames elsewhere cannot redirect us).
    pub(crate) dir: OwnedFd,
    /// The file's name in `dir`.
    pub(crate) name: std::ffi::OsString,
    /// The existing file's metadata, when there is one (mode and owner are kept).
    pub(crate) existing: Option<rustix::fs::Stat>,
}

/// [`ToolError::from_io`] for a write.
pub(crate) fn write_error(e: &std::io::Error, path: &str) -> ToolError {
    ToolError::from_io(e, path, IoOp::Write)
}

impl Guard {
    /// Open the directory `dir` for a write, one component at a time from `/` (as
    /// [`Guard::walk`]), checking every directory reached by identity and by real path. With
    /// `create`, a missing directory is made with `mkdirat` inside its parent, which was
    /// opened and checked first: nothing is ever created inside a protected tree, whatever
    /// links or `..` the path holds.
    fn open_dir_for_write(
        &self,
        dir: &Path,
        create: bool,
        path: &str,
    ) -> Result<OwnedFd, ToolError> {
        let werr = |e: rustix::io::Errno| write_error(&io_of(e), path);
        let mut cur = open_root().map_err(werr)?;
        for name in dir.components().filter_map(step_name) {
            let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let next = match rustix::fs::openat(&cur, name, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(rustix::io::Errno::NOENT) if create => {
                    let here =
                        fd_path(&cur).map_err(|e| ToolError::from_io(&e, path, IoOp::Resolve))?;
                    self.check_real(&here.join(name), Access::Write)?;
                    match rustix::fs::mkdirat(&cur, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(werr(e)),
                    }
                    rustix::fs::openat(&cur, name, flags, Mode::empty()).map_err(werr)?
                }
                Err(rustix::io::Errno::NOTDIR) => {
                    return Err(ToolError::Os(format!(
                        "{path}: a component of {} is not a directory",
                        dir.display()
                    )));
                }
                Err(e) => return Err(werr(e)),
            };
            let st = rustix::fs::fstat(&next).map_err(werr)?;
            self.check_identity(&st, Access::Write)?;
            let here = fd_path(&next).map_err(|e| ToolError::from_io(&e, path, IoOp::Resolve))?;
            self.check_real(&here, Access::Write)?;
            cur = next;
        }
        // A real descriptor (not O_PATH): fsync after the rename needs one.
        rustix::fs::openat(
            &cur,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(werr)
    }

    /// Resolve `path` for creating or replacing a regular file. A symlink at the last
    /// component is followed (at most 8 times); every directory on the way, every hop and the
    /// final target are checked against the protected set by identity and by real path. With
    /// `create_parents`, missing directories are created (0755) one by one under checked
    /// parents.
    pub(crate) fn resolve_write(
        &self,
        path: &str,
        create_parents: bool,
    ) -> Result<WriteTarget, ToolError> {
        let mut cur = require_absolute(path, "file_path")?.to_path_buf();
        for _ in 0..8 {
            let (Some(parent), Some(name)) = (cur.parent(), cur.file_name()) else {
                return Err(ToolError::Os(format!("{path} is a directory")));
            };
            let name = name.to_os_string();
            let dir = self.open_dir_for_write(parent, create_parents, path)?;
            let dir_real =
                fd_path(&dir).map_err(|e| ToolError::from_io(&e, path, IoOp::Resolve))?;
            self.check_real(&dir_real.join(&name), Access::Write)?;
            match rustix::fs::statat(
                &dir,
                name.as_os_str(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            ) {
                Err(rustix::io::Errno::NOENT) => {
                    return Ok(WriteTarget {
                        dir,
                        name,
                        existing: None,
                    });
                }
                Err(e) => return Err(write_error(&io_of(e), path)),
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::RegularFile => {
                        self.check_identity(&st, Access::Write)?;
                        return Ok(WriteTarget {
                            dir,
                            name,
                            existing: Some(st),
                        });
                    }
                    FileType::Directory => {
                        return Err(ToolError::Os(format!("{path} is a directory")));
                    }
                    FileType::Symlink => {
                        let link = rustix::fs::readlinkat(&dir, name.as_os_str(), Vec::new())
                            .map_err(|e| write_error(&io_of(e), path))?;
                        let link: std::ffi::OsString =
                            std::os::unix::ffi::OsStringExt::from_vec(link.into_bytes());
                        let link = PathBuf::from(link);
                        cur = if link.is_absolute() {
                            link
                        } else {
                            dir_real.join(link)
                        };
                    }
                    other => {
                        return Err(ToolError::NotARegularFile(format!(
                            "{path} is not a regular file ({}); refusing to replace it",
                            file_type_name(other)
                        )));
                    }
                },
            }
        }
        Err(ToolError::Os(format!(
            "{path}: too many levels of symbolic links"
        )))
    }
}

/// A temp file beside a [`WriteTarget`], to be filled and then committed over it.
pub(crate) struct TempFile {
    /// The open temp file (write only, mode 0600 until commit).
    pub(crate) file: File,
    name: String,
}

/// Create `.<name>.mymcp-<random>.tmp` in the target's directory.
pub(crate) fn create_temp(t: &WriteTarget) -> std::io::Result<TempFile> {
    let name = format!(
        ".{}.mymcp-{}.tmp",
        t.name.to_string_lossy(),
        hex::encode(rand::random::<[u8; 6]>())
    );
    let fd: OwnedFd = rustix::fs::openat(
        &t.dir,
        name.as_str(),
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::from_raw_mode(0o600),
    )?;
    Ok(TempFile {
        file: File::from(fd),
        name,
    })
}

/// Remove a temp file that will not be committed.
pub(crate) fn discard_temp(t: &WriteTarget, tmp: TempFile) {
    drop(tmp.file);
    let _ = rustix::fs::unlinkat(&t.dir, tmp.name.as_str(), rustix::fs::AtFlags::empty());
}

/// Give the temp file the replaced file's mode and owner (0644 for a new file), fsync it,
/// rename it over the target (refusing to replace an existing file when `no_replace`), and
/// fsync the directory. On failure the temp file is removed and the target untouched.
/// `durable: false` skips both fsyncs; only the bench build of uploads asks for that
/// (feature `bench-no-durability`, see `http/transfer.rs`).
pub(crate) fn commit_temp(
    t: &WriteTarget,
    tmp: TempFile,
    no_replace: bool,
    durable: bool,
) -> std::io::Result<()> {
    let result = (|| {
        match &t.existing {
            Some(st) => {
                // Only root can give a file away; otherwise it stays ours.
                let _ = rustix::fs::fchown(
                    &tmp.file,
                    Some(rustix::fs::Uid::from_raw(st.st_uid)),
                    Some(rustix::fs::Gid::from_raw(st.st_gid)),
                );
                // New content is not the program that was made setuid/setgid: drop those bits,
                // as `cp` and `install` do, so a write cannot plant a privileged binary.
                rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(st.st_mode & 0o1777))?;
            }
            None => rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(0o644))?,
        }
        if durable {
            rustix::fs::fsync(&tmp.file)?;
        }
        let flags = if no_replace {
            rustix::fs::RenameFlags::NOREPLACE
        } else {
            rustix::fs::RenameFlags::empty()
        };
        rustix::fs::renameat_with(&t.dir, tmp.name.as_str(), &t.dir, t.name.as_os_str(), flags)?;
        if durable {
            rustix::fs::fsync(&t.dir)?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&t.dir, tmp.name.as_str(), rustix::fs::AtFlags::empty());
    }
    result
}

/// Replace the target with `data` atomically: a temp file in the same directory, the old
/// file's mode and owner (0644 for a new file), fsync, rename over the name, fsync the
/// directory. On any failure the old file is untouched and the temp file removed.
pub(crate) fn replace_file(t: &WriteTarget, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = create_temp(t)?;
    if let Err(e) = tmp.file.write_all(data) {
        discard_temp(t, tmp);
        return Err(e);
    }
    commit_temp(t, tmp, false, true)
}

/// Open the existing target for reading, checking it is still the file that was resolved.
/// Returns the file and its size.
pub(crate) fn open_target(t: &WriteTarget, path: &str) -> Result<(File, u64), ToolError> {
    let Some(st) = &t.existing else {
        return Err(ToolError::FileNotFound {
            message: format!("File not found: {path}"),
            suggestion: None,
        });
    };
    let fd: OwnedFd = rustix::fs::openat(
        &t.dir,
        t.name.as_os_str(),
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY,
        Mode::empty(),
    )
    .map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
    let now = rustix::fs::fstat(&fd).map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
    if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        return Err(ToolError::Os(format!(
            "{path}: file changed while opening; try again"
        )));
    }
    Ok((File::from(fd), now.st_size as u64))
}

/// Read the whole existing target (for edits), checking it is still the file that was
/// resolved. At most `max` bytes.
pub(crate) fn read_target(t: &WriteTarget, path: &str, max: u64) -> Result<Vec<u8>, ToolError> {
    use std::io::Read;
    let (file, size) = open_target(t, path)?;
    if size > max {
        return Err(ToolError::FileTooLarge(format!(
            "{path} is {size} bytes; edit_file handles files up to {max} bytes"
        )));
    }
    let mut buf = Vec::with_capacity(size as usize);
    // One byte past the limit tells a file that grew after the size check (or a pseudo-file
    // that reports size 0) from one that fits.
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ToolError::from_io_read(&e, path))?;
    if buf.len() as u64 > max {
        return Err(ToolError::FileTooLarge(format!(
            "{path} grew past {max} bytes while being read; edit_file handles files up to {max} bytes"
        )));
    }
    Ok(buf)
}

/// Append `data` to the target in place (`O_APPEND`: the same file, so a process that holds
/// it open, such as a daemon writing its log, sees the lines), creating it (0644) when
/// missing. Returns the file's size afterwards. Not atomic like [`replace_file`]: a reader
/// can see part of the appended bytes, never a shortened file.
pub(crate) fn append_file(t: &WriteTarget, data: &[u8]) -> std::io::Result<u64> {
    use std::io::Write;
    let mut file = open_append(t)?;
    file.write_all(data)?;
    rustix::fs::fsync(&file)?;
    if t.existing.is_none() {
        rustix::fs::fsync(&t.dir)?;
    }
    Ok(rustix::fs::fstat(&file)?.st_size as u64)
}

/// Open the target for [`append_file`]: the file that was resolved (refused if the name now
/// points at another inode), or a new 0644 file when there was none (refused if one appeared).
fn open_append(t: &WriteTarget) -> std::io::Result<File> {
    let base =
        OFlags::WRONLY | OFlags::APPEND | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NOCTTY;
    let (flags, mode) = match t.existing {
        Some(_) => (base, Mode::empty()),
        None => (
            base | OFlags::CREATE | OFlags::EXCL,
            Mode::from_raw_mode(0o644),
        ),
    };
    let fd: OwnedFd = rustix::fs::openat(&t.dir, t.name.as_os_str(), flags, mode)?;
    let now = rustix::fs::fstat(&fd)?;
    match &t.existing {
        Some(st) if now.st_ino != st.st_ino || now.st_dev != st.st_dev => {
            return Err(std::io::Error::other(
                "file changed while opening; try again",
            ));
        }
        // The umask may have narrowed a new file's mode; state it as replace_file does.
        None => rustix::fs::fchmod(&fd, Mode::from_raw_mode(0o644))?,
        Some(_) => {}
    }
    Ok(File::from(fd))
}

impl Guard {
    /// Open a file met during a walk. Walk paths contain no symlinks (walks never follow
    /// them and start from a canonical root), so the path is checked as it is and opened with
    /// `RESOLVE_NO_SYMLINKS`: if any component was swapped for a symlink since, the open
    /// fails instead of following it. One syscall instead of `open_read`'s five; falls back
    /// to `open_read` on kernels without `openat2`.
    pub(crate) fn open_walked(&self, path: &str) -> Result<File, ToolError> {
        self.check_real(Path::new(path), Access::Read)?;
        match rustix::fs::openat2(
            rustix::fs::CWD,
            path,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            Mode::empty(),
            rustix::fs::ResolveFlags::NO_SYMLINKS | rustix::fs::ResolveFlags::NO_MAGICLINKS,
        ) {
            Ok(fd) => {
                let st =
                    rustix::fs::fstat(&fd).map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
                if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
                    return Err(ToolError::NotARegularFile(format!(
                        "{path} is not a regular file"
                    )));
                }
                self.check_identity(&st, Access::Read)?;
                if blocking_pseudo_file(Path::new(path)) && is_pseudo_fs(&fd) {
                    return Err(ToolError::NotARegularFile(format!(
                        "{path} is a kernel pseudo-file whose reads wait for events"
                    )));
                }
                Ok(File::from(fd))
            }
            Err(rustix::io::Errno::NOSYS) => self.open_read(path).map(|o| o.file),
            Err(e) => Err(ToolError::from_io_read(&io_of(e), path)),
        }
    }
}
