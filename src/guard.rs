//! Path guard: the protected set and opening files so the check applies to what is really
//! opened.
//!
//! A check-then-open by name races a symlink swap (D-4). Instead the path is opened once with
//! `O_PATH` (no side effects, even on devices and FIFOs), the real path of that descriptor is
//! read from `/proc/self/fd`, checked, and the very same inode is then reopened for reading
//! through the descriptor's magic link. A later rename or symlink swap cannot change what the
//! descriptor points at.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};

use crate::config::Config;
use crate::error::ToolError;

/// What an operation does with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading (read_file, grep, glob, downloads).
    Read,
    /// Creating, replacing or editing.
    Write,
}

/// One protected entry.
#[derive(Debug, Clone)]
pub struct Protected {
    /// As written in the configuration (shown in messages).
    pub display: String,
    /// Canonical form (symlinks resolved as far as the path exists).
    pub canonical: PathBuf,
    /// Protected against reading too (otherwise write-only).
    pub read: bool,
}

/// The protected set, built once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    entries: Vec<Protected>,
}

/// `realpath` for paths that may not exist: the deepest existing ancestor is resolved and the
/// rest appended (after lexical cleaning of `.` and `..`).
pub fn canonicalize_lenient(p: &Path) -> PathBuf {
    let clean = lexical_clean(p);
    let mut existing = clean.clone();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(&existing) {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => return clean,
        }
    }
}

/// Remove `.` and resolve `..` lexically (used only for not-yet-existing tails).
pub fn lexical_clean(p: &Path) -> PathBuf {
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
    pub fn from_config(cfg: &Config, token_file: Option<&Path>) -> Guard {
        let mut g = Guard::default();
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
        g
    }

    /// Add an entry.
    pub fn add(&mut self, display: &str, path: &Path, read: bool) {
        let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let canonical = canonicalize_lenient(&abs);
        if self
            .entries
            .iter()
            .any(|e| e.canonical == canonical && e.read == read)
        {
            return;
        }
        self.entries.push(Protected {
            display: display.to_string(),
            canonical,
            read,
        });
    }

    /// The entries (for `doctor` and logs).
    pub fn entries(&self) -> &[Protected] {
        &self.entries
    }

    /// Check a canonical path against the set.
    pub fn check_real(&self, real: &Path, access: Access) -> Result<(), ToolError> {
        for e in &self.entries {
            if (access == Access::Write || e.read) && real.starts_with(&e.canonical) {
                return Err(ToolError::ProtectedPath(e.display.clone()));
            }
        }
        Ok(())
    }
}

/// Refuse empty and relative paths (D-27).
pub fn require_absolute<'a>(path: &'a str, param: &str) -> Result<&'a Path, ToolError> {
    if path.is_empty() {
        return Err(ToolError::InvalidPath(format!("{param} must not be empty")));
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
pub fn fd_path(fd: &impl AsFd) -> std::io::Result<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()))
}

/// A file opened for reading after the guard approved what it really is.
#[derive(Debug)]
pub struct OpenedFile {
    /// The open file.
    pub file: File,
    /// Its size at open time.
    pub size: u64,
    /// Its canonical path.
    pub real: PathBuf,
}

fn io_of(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from(e)
}

impl Guard {
    /// Open a regular file for reading. `path` must be absolute. Symlinks are followed, and
    /// the protected check applies to the file actually opened.
    pub fn open_read(&self, path: &str) -> Result<OpenedFile, ToolError> {
        let p = require_absolute(path, "file_path")?;
        let o_path: OwnedFd = rustix::fs::open(p, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
        let real = fd_path(&o_path).map_err(|e| ToolError::Os(format!("{path}: {e}")))?;
        self.check_real(&real, Access::Read)?;
        let st =
            rustix::fs::fstat(&o_path).map_err(|e| ToolError::from_io_read(&io_of(e), path))?;
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
        // Reopen the same inode through the descriptor, not by name: no race with renames.
        let fd: OwnedFd = rustix::fs::open(
            format!("/proc/self/fd/{}", o_path.as_raw_fd()),
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY,
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
}

/// Where a write lands, resolved and approved: an open directory and a name in it.
#[derive(Debug)]
pub struct WriteTarget {
    /// The directory that holds the file (opened, so renames elsewhere cannot redirect us).
    pub dir: OwnedFd,
    /// Its real path.
    pub dir_real: PathBuf,
    /// The file's name in `dir`.
    pub name: std::ffi::OsString,
    /// The existing file's metadata, when there is one (mode and owner are kept).
    pub existing: Option<rustix::fs::Stat>,
}

impl WriteTarget {
    /// The real path of the target.
    pub fn real(&self) -> PathBuf {
        self.dir_real.join(&self.name)
    }
}

fn io_err(e: impl Into<std::io::Error>) -> std::io::Error {
    e.into()
}

/// Map an I/O error on `path` for write operations.
pub fn write_error(e: &std::io::Error, path: &str) -> ToolError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::FileNotFound {
            message: format!("File not found: {path}"),
            suggestion: None,
        },
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            ToolError::Permission {
                message: format!("{e}: {path}"),
                suggestion: "Check write permissions",
            }
        }
        _ => ToolError::Os(format!("{path}: {e}")),
    }
}

impl Guard {
    /// Resolve `path` for creating or replacing a regular file. A symlink at the last
    /// component is followed (at most 8 times); every hop and the final target are checked
    /// against the protected set on real, opened directories. With `create_parents`, missing
    /// directories are created (0755) after the protected check.
    pub fn resolve_write(
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
            // Refuse before creating anything inside a protected tree.
            self.check_real(&canonicalize_lenient(&cur), Access::Write)?;
            if create_parents && !parent.is_dir() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(parent)
                    .map_err(|e| {
                        if e.kind() == std::io::ErrorKind::AlreadyExists {
                            ToolError::Os(format!(
                                "{path}: a component of {} is not a directory",
                                parent.display()
                            ))
                        } else {
                            write_error(&e, path)
                        }
                    })?;
            }
            let dir: OwnedFd = rustix::fs::open(
                parent,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| write_error(&io_err(e), path))?;
            let dir_real = fd_path(&dir).map_err(|e| ToolError::Os(format!("{path}: {e}")))?;
            self.check_real(&dir_real.join(&name), Access::Write)?;
            match rustix::fs::statat(
                &dir,
                name.as_os_str(),
                rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
            ) {
                Err(rustix::io::Errno::NOENT) => {
                    return Ok(WriteTarget {
                        dir,
                        dir_real,
                        name,
                        existing: None,
                    });
                }
                Err(e) => return Err(write_error(&io_err(e), path)),
                Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                    FileType::RegularFile => {
                        return Ok(WriteTarget {
                            dir,
                            dir_real,
                            name,
                            existing: Some(st),
                        });
                    }
                    FileType::Directory => {
                        return Err(ToolError::Os(format!("{path} is a directory")));
                    }
                    FileType::Symlink => {
                        let link = rustix::fs::readlinkat(&dir, name.as_os_str(), Vec::new())
                            .map_err(|e| write_error(&io_err(e), path))?;
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
pub struct TempFile {
    /// The open temp file (write only, mode 0600 until commit).
    pub file: File,
    name: String,
}

/// Create `.<name>.mymcp-<random>.tmp` in the target's directory.
pub fn create_temp(t: &WriteTarget) -> std::io::Result<TempFile> {
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
pub fn discard_temp(t: &WriteTarget, tmp: TempFile) {
    drop(tmp.file);
    let _ = rustix::fs::unlinkat(&t.dir, tmp.name.as_str(), rustix::fs::AtFlags::empty());
}

/// Give the temp file the replaced file's mode and owner (0644 for a new file), fsync it,
/// rename it over the target (refusing to replace an existing file when `no_replace`), and
/// fsync the directory. On failure the temp file is removed and the target untouched.
pub fn commit_temp(t: &WriteTarget, tmp: TempFile, no_replace: bool) -> std::io::Result<()> {
    let result = (|| {
        match &t.existing {
            Some(st) => {
                // Only root can give a file away; otherwise it stays ours.
                let _ = rustix::fs::fchown(
                    &tmp.file,
                    Some(rustix::fs::Uid::from_raw(st.st_uid)),
                    Some(rustix::fs::Gid::from_raw(st.st_gid)),
                );
                rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(st.st_mode & 0o7777))?;
            }
            None => rustix::fs::fchmod(&tmp.file, Mode::from_raw_mode(0o644))?,
        }
        rustix::fs::fsync(&tmp.file)?;
        let flags = if no_replace {
            rustix::fs::RenameFlags::NOREPLACE
        } else {
            rustix::fs::RenameFlags::empty()
        };
        rustix::fs::renameat_with(&t.dir, tmp.name.as_str(), &t.dir, t.name.as_os_str(), flags)?;
        rustix::fs::fsync(&t.dir)?;
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
pub fn replace_file(t: &WriteTarget, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut tmp = create_temp(t)?;
    if let Err(e) = tmp.file.write_all(data) {
        discard_temp(t, tmp);
        return Err(e);
    }
    commit_temp(t, tmp, false)
}

/// Read the whole existing target (for edits), checking it is still the file that was
/// resolved. At most `max` bytes.
pub fn read_target(t: &WriteTarget, path: &str, max: u64) -> Result<Vec<u8>, ToolError> {
    use std::io::Read;
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
    .map_err(|e| ToolError::from_io_read(&io_err(e), path))?;
    let now = rustix::fs::fstat(&fd).map_err(|e| ToolError::from_io_read(&io_err(e), path))?;
    if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        return Err(ToolError::Os(format!(
            "{path}: file changed while opening; try again"
        )));
    }
    if now.st_size as u64 > max {
        return Err(ToolError::FileTooLarge(format!(
            "{path} is {} bytes; edit_file handles files up to {max} bytes",
            now.st_size
        )));
    }
    let mut buf = Vec::with_capacity(now.st_size as usize);
    File::from(fd)
        .take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ToolError::from_io_read(&e, path))?;
    Ok(buf)
}

impl Guard {
    /// Open a file met during a walk. Walk paths contain no symlinks (walks never follow
    /// them and start from a canonical root), so the path is checked as it is and opened with
    /// `RESOLVE_NO_SYMLINKS`: if any component was swapped for a symlink since, the open
    /// fails instead of following it. One syscall instead of `open_read`'s five; falls back
    /// to `open_read` on kernels without `openat2`.
    pub fn open_walked(&self, path: &str) -> Result<File, ToolError> {
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
                Ok(File::from(fd))
            }
            Err(rustix::io::Errno::NOSYS) => self.open_read(path).map(|o| o.file),
            Err(e) => Err(ToolError::from_io_read(&io_of(e), path)),
        }
    }
}
