//! Small file-system helpers for the crate's own files (token file, env file, recorder state):
//! private directories and atomic replacement. Files a tool writes for a caller go through the
//! path guard instead (`guard.rs`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Create `dir` (and parents) with mode 0750 when missing.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
}

/// Replace `path` with `data` atomically (temp in the same directory, fsync, rename).
pub(crate) fn atomic_write(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.tmp-{}",
        hex::encode(rand::random::<[u8; 6]>())
    ));
    // The file it replaces keeps its owner: `sudo mymcp token add` on a service that runs as
    // `mymcp` must not leave a root-owned 0600 file the service cannot read.
    let owner = std::fs::metadata(path).ok().map(|m| (m.uid(), m.gid()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            keep_owner(&f, uid, gid, path)?;
        }
        f.write_all(data)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Give `f` the owner `uid:gid` unless it already has it. Only root can give a file away;
/// anyone else gets an error naming the owner, rather than a replacement its owner cannot
/// read.
fn keep_owner(f: &File, uid: u32, gid: u32, path: &Path) -> std::io::Result<()> {
    let now = rustix::fs::fstat(f)?;
    if (now.st_uid, now.st_gid) == (uid, gid) {
        return Ok(());
    }
    rustix::fs::fchown(
        f,
        Some(rustix::fs::Uid::from_raw(uid)),
        Some(rustix::fs::Gid::from_raw(gid)),
    )
    .map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "cannot keep the owner {uid}:{gid} of {} ({e}); run this as root or as that user",
                path.display()
            ),
        )
    })
}

/// Best effort: give a file we just opened (a lock file) the owner of `like`, so a lock file
/// that root creates stays usable by the service user. Only root can; others leave it.
pub(crate) fn match_owner(f: &File, like: &Path) {
    if !rustix::process::geteuid().is_root() {
        return;
    }
    let target = std::fs::metadata(like)
        .or_else(|_| std::fs::metadata(like.parent().unwrap_or(Path::new("/"))));
    if let Ok(m) = target {
        let _ = keep_owner(f, m.uid(), m.gid(), like);
    }
}
