//! `glob`: files and directories matching a pattern under a root, newest first.
//!
//! The walk spreads over every core once it outgrows a few directories, never follows
//! symlinked directories (a link to a parent would loop until memory runs out), starts at
//! the pattern's literal prefix, stops descending where the pattern cannot match deeper,
//! prunes protected and hidden directories instead of filtering output, and keeps only the
//! newest `max` matches in a heap while counting all of them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::guard::{Access, Guard, require_absolute};
use crate::tools::Budget;

/// The description `tools/list` shows for `glob`.
pub(crate) const DESCRIPTION: &str = "List files and directories under path (absolute, default /) whose path relative to it matches pattern. '*' and '?' stay within one directory level and do not match a leading dot, '**' spans levels, {a,b} and [ab] work; '..' is not allowed. Symlinked directories are not followed. Newest first (by mtime), at most 1000 entries (count tells how many matched, truncated whether some were left out). /proc, /sys and /dev are skipped when searching from /; protected paths are never listed.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Glob pattern relative to path, e.g. '**/*.conf'
    pub(crate) pattern: String,
    /// Absolute directory to search from (default /)
    pub(crate) path: Option<String>,
}

/// How long one glob may walk before it returns what it has.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Directories never entered when walking from `/`: virtual, huge or endless.
pub(crate) const VIRTUAL_ROOTS: [&str; 3] = ["/proc", "/sys", "/dev"];

fn has_meta(c: &str) -> bool {
    c.contains(['*', '?', '[', '{', '\\'])
}

/// Longest glob pattern accepted, in bytes: a path pattern longer than `PATH_MAX` cannot match
/// anything a path can be.
pub(crate) const MAX_GLOB_LEN: usize = crate::guard::PATH_MAX;

/// Deepest `{…}` nesting accepted. The glob parser recurses per level: thousands of nested
/// braces overflowed the thread's stack, which aborts the whole process (a stack overflow
/// cannot be caught). Real patterns nest one or two levels.
pub(crate) const MAX_BRACE_DEPTH: usize = 10;

/// Refuse a glob pattern before any parser sees it: too long, or braces nested too deep.
pub(crate) fn check_glob_shape(pattern: &str) -> Result<(), ToolError> {
    if pattern.len() > MAX_GLOB_LEN {
        return Err(ToolError::InvalidPattern(format!(
            "glob pattern is {} bytes long; at most {MAX_GLOB_LEN} bytes are accepted",
            pattern.len()
        )));
    }
    let (mut depth, mut deepest, mut escaped) = (0usize, 0usize, false);
    for b in pattern.bytes() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_BRACE_DEPTH {
        return Err(ToolError::InvalidPattern(format!(
            "glob pattern nests {{…}} {deepest} levels deep; at most {MAX_BRACE_DEPTH} are accepted"
        )));
    }
    Ok(())
}

fn compile(pattern: &str) -> Result<GlobMatcher, ToolError> {
    check_glob_shape(pattern)?;
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| ToolError::InvalidPattern(format!("invalid glob pattern {pattern:?}: {e}")))
}

/// Should a walk skip this directory? Shared by glob and grep. `id` is the directory's
/// (device, inode) when known: a bind mount of a protected directory has a harmless path but
/// the protected directory's identity.
pub(crate) fn skip_dir(
    guard: &Guard,
    root_is_slash: bool,
    path: &Path,
    id: Option<(u64, u64)>,
) -> bool {
    (root_is_slash && VIRTUAL_ROOTS.iter().any(|v| path == Path::new(v)))
        || guard.check_real(path, Access::Read).is_err()
        || id.is_some_and(|(d, i)| guard.is_protected_id(d, i, Access::Read))
}

/// The newest matches seen (at most `max`, by mtime then path) and how many matched in all.
#[derive(Default)]
struct Newest {
    heap: BinaryHeap<Reverse<(i128, PathBuf)>>,
    count: u64,
}

impl Newest {
    fn push(&mut self, mtime: i128, path: PathBuf, max: u64) {
        self.count += 1;
        self.heap.push(Reverse((mtime, path)));
        if self.heap.len() as u64 > max {
            self.heap.pop();
        }
    }

    /// Take in another walker's matches: the newest `max` of both, whichever came first.
    fn merge(&mut self, other: Newest, max: u64) {
        self.count += other.count;
        for Reverse((mtime, path)) in other.heap {
            self.heap.push(Reverse((mtime, path)));
            if self.heap.len() as u64 > max {
                self.heap.pop();
            }
        }
    }
}

/// A walked entry's mtime in nanoseconds since the epoch (the sort key of the result).
fn mtime_of(st: &rustix::fs::Stat) -> i128 {
    st.st_mtime as i128 * 1_000_000_000 + st.st_mtime_nsec as i128
}

/// Open a directory of the walk for reading, or only for `fstat` (`O_PATH`) when it may not be
/// read; the bool says which. No symlink is followed anywhere in `path`; where the kernel has
/// no `openat2` (before 5.6), only the last component is held to that.
fn open_dir(path: &Path) -> Option<(rustix::fd::OwnedFd, bool)> {
    let open = |flags: OFlags| {
        let flags = flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat2(
            rustix::fs::CWD,
            path,
            flags,
            Mode::empty(),
            ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(rustix::io::Errno::NOSYS) => {
                rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty())
            }
            r => r,
        }
    };
    match open(OFlags::RDONLY) {
        Ok(fd) => Some((fd, true)),
        Err(rustix::io::Errno::ACCESS) => open(OFlags::PATH).ok().map(|fd| (fd, false)),
        Err(_) => None,
    }
}

/// A directory still to be listed or read, with its depth below the walk's start (the start
/// is 0).
struct Dir {
    path: PathBuf,
    depth: usize,
}

/// Directories read on the calling thread before the walk spreads over every core: a small
/// walk (one project directory) ends within them and starts no thread at all.
const SERIAL_DIRS: usize = 16;

/// What every directory of one glob walk is read against.
struct Walk<'a> {
    start: &'a Path,
    rest_glob: &'a GlobMatcher,
    dot_globs: &'a [GlobMatcher],
    guard: &'a Guard,
    root_is_slash: bool,
    max_depth: usize,
    max: u64,
    budget: &'a Budget<'a>,
}

impl Walk<'_> {
    /// Whether a walked path matches the pattern (relative to the walk's start).
    fn matches(&self, path: &Path) -> bool {
        path.strip_prefix(self.start)
            .is_ok_and(|rel| self.rest_glob.is_match(rel))
    }

    /// Take one directory of the walk: open it, check what was really opened, list it if it
    /// matches, and if it is shallow enough read it. Its matching files go to `out`, its
    /// subdirectories (to be listed or read) to `subdirs`.
    ///
    /// The directory is opened without following any symlink anywhere in its path
    /// (`openat2(RESOLVE_NO_SYMLINKS)`; the start is a real path), and the protected-path and
    /// identity checks run on the descriptor's own `fstat`: a directory swapped for a link to
    /// a protected one between its listing and its opening is neither listed nor read. Hidden
    /// entries are skipped unless the pattern names them with a leading dot. An unreadable
    /// directory is still listed (through an `O_PATH` descriptor), like `find` does; an
    /// unreadable entry is passed over.
    fn read(&self, dir: &Dir, out: &mut Newest, subdirs: &mut Vec<Dir>) {
        let Some((fd, readable)) = open_dir(&dir.path) else {
            return;
        };
        let Ok(st) = rustix::fs::fstat(&fd) else {
            return;
        };
        // The start itself may be a virtual root asked for by name (path "/", pattern "proc/*").
        let virtual_pruned = self.root_is_slash && dir.depth > 0;
        if skip_dir(
            self.guard,
            virtual_pruned,
            &dir.path,
            Some((st.st_dev, st.st_ino)),
        ) {
            return;
        }
        if dir.depth > 0 && self.matches(&dir.path) {
            out.push(mtime_of(&st), dir.path.clone(), self.max);
        }
        if dir.depth >= self.max_depth || !readable {
            return;
        }
        let Ok(mut entries) = rustix::fs::Dir::new(fd) else {
            return;
        };
        let depth = dir.depth + 1;
        while let Some(entry) = entries.read() {
            let Ok(entry) = entry else {
                break;
            };
            let name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            if name.as_bytes().first() == Some(&b'.')
                && !self.dot_globs.iter().any(|g| g.is_match(name))
            {
                continue;
            }
            let Ok(dirfd) = entries.fd() else {
                break;
            };
            let stat = || rustix::fs::statat(dirfd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW);
            // Some file systems do not say an entry's type in the listing.
            let (kind, known) = match entry.file_type() {
                FileType::Unknown => match stat() {
                    Ok(st) => (FileType::from_raw_mode(st.st_mode), Some(st)),
                    Err(_) => continue,
                },
                kind => (kind, None),
            };
            let path = dir.path.join(name);
            if kind == FileType::Directory {
                // Listed or read when its turn comes, after the checks above on what is
                // opened then.
                if depth < self.max_depth || self.matches(&path) {
                    subdirs.push(Dir { path, depth });
                }
                continue;
            }
            if self.matches(&path) && self.guard.check_real(&path, Access::Read).is_ok() {
                let mtime = known.or_else(|| stat().ok()).map_or(0, |st| mtime_of(&st));
                out.push(mtime, path, self.max);
            }
        }
    }

    /// Walk from `start`; returns the matches and whether the deadline or a cancel cut the
    /// walk short. The first [`SERIAL_DIRS`] directories are read here; what is left is then
    /// shared by a worker per core. Order does not matter: each worker keeps its own newest
    /// `max`, and the newest `max` of their union is the same whatever the order.
    fn run(&self, start: PathBuf) -> (Newest, bool) {
        let mut newest = Newest::default();
        let mut stack = vec![Dir {
            path: start,
            depth: 0,
        }];
        for _ in 0..SERIAL_DIRS {
            let Some(dir) = stack.pop() else {
                return (newest, false);
            };
            if self.budget.spent() {
                return (newest, true);
            }
            self.read(&dir, &mut newest, &mut stack);
        }
        if stack.is_empty() {
            return (newest, false);
        }
        let (found, stopped) = self.parallel(stack, crate::tools::walk_workers());
        newest.merge(found, self.max);
        (newest, stopped)
    }

    /// Walk `dirs` and everything under them on `workers` threads sharing one queue; returns
    /// the matches and whether the walk was stopped (deadline or cancel).
    fn parallel(&self, dirs: Vec<Dir>, workers: usize) -> (Newest, bool) {
        let mut newest = Newest::default();
        let queue = Queue {
            state: Mutex::new(QueueState {
                dirs,
                busy: 0,
                stop: false,
            }),
            changed: Condvar::new(),
        };
        let stopped = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| scope.spawn(|| self.worker(&queue)))
                .collect();
            for handle in handles {
                // A worker's panic goes on up, where a tool's panic becomes an error reply;
                // the other workers are not left waiting for it (see `Busy`).
                let found = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                newest.merge(found, self.max);
            }
            queue.lock().stop
        });
        (newest, stopped)
    }

    /// One worker: takes directories from the queue until none is left and no other worker
    /// can add more, or the walk is stopped.
    fn worker(&self, queue: &Queue) -> Newest {
        let mut newest = Newest::default();
        let mut found = Vec::new();
        loop {
            let dir = {
                let mut state = queue.lock();
                loop {
                    if state.stop {
                        return newest;
                    }
                    if let Some(dir) = state.dirs.pop() {
                        state.busy += 1;
                        break dir;
                    }
                    if state.busy == 0 {
                        return newest;
                    }
                    state = queue.changed.wait(state).unwrap_or_else(|e| e.into_inner());
                }
            };
            let _busy = Busy(queue);
            if self.budget.spent() {
                queue.lock().stop = true;
                queue.changed.notify_all();
                continue;
            }
            self.read(&dir, &mut newest, &mut found);
            if !found.is_empty() {
                queue.lock().dirs.append(&mut found);
                queue.changed.notify_all();
            }
        }
    }
}

/// The directories a parallel walk has still to read.
struct Queue {
    state: Mutex<QueueState>,
    /// Signalled when directories are added, when the last busy worker finishes, and on stop.
    changed: Condvar,
}

struct QueueState {
    dirs: Vec<Dir>,
    /// Workers reading a directory now (each may add more).
    busy: usize,
    /// The deadline passed or the call was cancelled.
    stop: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A worker reading a directory. Dropped when it is done, even by a panic, so the others
/// always learn when no work can come any more.
struct Busy<'a>(&'a Queue);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.busy -= 1;
        if state.busy == 0 && state.dirs.is_empty() {
            self.0.changed.notify_all();
        }
    }
}

/// Run the tool (blocking).
pub(crate) fn run(
    guard: &Guard,
    max: u64,
    deadline: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    args: Args,
) -> Result<Value, ToolError> {
    let root_s = args.path.as_deref().unwrap_or("/");
    let root = require_absolute(root_s, "path")?;
    check_glob_shape(&args.pattern)?;
    let pattern = args.pattern.trim_start_matches('/');
    let comps: Vec<&str> = pattern
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.is_empty() {
        return Err(ToolError::InvalidPattern(
            "pattern must not be empty".into(),
        ));
    }
    if comps.contains(&"..") {
        return Err(ToolError::InvalidPattern(
            "'..' is not allowed in a pattern; set path to the directory to search instead".into(),
        ));
    }
    compile(&comps.join("/"))?;
    let dot_globs: Vec<GlobMatcher> = comps
        .iter()
        .filter(|c| c.starts_with('.'))
        .map(|c| compile(c))
        .collect::<Result<_, _>>()?;
    let empty = json!({"count": 0, "files": [], "truncated": false});
    let root = match std::fs::canonicalize(root) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(empty),
        Err(e) => return Err(ToolError::from_io_read(&e, root_s)),
    };
    guard.check_real(&root, Access::Read)?;
    if !root.is_dir() {
        return Ok(empty);
    }
    // Start at the literal prefix; the last component is always matched, not walked to.
    let lit = comps
        .iter()
        .take_while(|c| !has_meta(c))
        .count()
        .min(comps.len() - 1);
    let start = comps[..lit].iter().fold(root.clone(), |p, c| p.join(c));
    let Ok(start) = std::fs::canonicalize(&start) else {
        return Ok(empty);
    };
    let rest = &comps[lit..];
    let rest_glob = compile(&rest.join("/"))?;
    let max_depth = if rest.iter().any(|c| c.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    let root_is_slash = root == Path::new("/");
    let budget = Budget::new(deadline, cancel);
    let walk = Walk {
        start: &start,
        rest_glob: &rest_glob,
        dot_globs: &dot_globs,
        guard,
        root_is_slash,
        max_depth,
        max,
        budget: &budget,
    };
    let (Newest { heap, count }, incomplete) = walk.run(start.clone());
    budget.check_cancelled()?;
    let mut kept: Vec<(i128, PathBuf)> = heap.into_iter().map(|Reverse(x)| x).collect();
    kept.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let files: Vec<String> = kept
        .into_iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    let mut v = json!({
        "count": count,
        "files": files,
        "truncated": count > files.len() as u64,
    });
    if incomplete && let Some(o) = v.as_object_mut() {
        o.insert("incomplete".into(), Value::Bool(true));
        o.insert(
            "note".into(),
            Value::String(format!(
                "stopped after {}s; count and files cover only what was walked. Narrow path or pattern.",
                deadline.as_secs()
            )),
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    /// The walk runs on several threads, so the newest `max` must come out the same whatever
    /// order the threads reach the files in: exact count, exactly the newest, newest first,
    /// equal mtimes by path; a protected directory in the middle of the tree and hidden
    /// entries are left out.
    #[test]
    fn parallel_walk_keeps_the_exact_newest_and_count_in_a_fixed_order() {
        let d = tempfile::tempdir().unwrap();
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut expected: Vec<(SystemTime, PathBuf)> = Vec::new();
        for a in 0..20 {
            for b in 0..10 {
                let dir = d.path().join(format!("d{a:02}")).join(format!("e{b}"));
                std::fs::create_dir_all(&dir).unwrap();
                for c in 0..5 {
                    let n = a * 50 + b * 5 + c;
                    let f = dir.join(format!("f{c}.conf"));
                    // Pairs of files share an mtime, so ties are broken by path.
                    let t = base + Duration::from_secs(n / 2);
                    let file = std::fs::File::create(&f).unwrap();
                    file.set_modified(t).unwrap();
                    std::fs::write(dir.join(format!("f{c}.txt")), "").unwrap();
                    if a != 7 {
                        expected.push((t, f));
                    }
                }
            }
        }
        // Protected (d07) and hidden (.h) entries match the pattern but must not show.
        let mut guard = Guard::default();
        guard.add("d07", &d.path().join("d07"), true);
        std::fs::create_dir(d.path().join(".h")).unwrap();
        std::fs::write(d.path().join(".h/new.conf"), "").unwrap();
        std::fs::write(d.path().join(".top.conf"), "").unwrap();

        expected.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| y.1.cmp(&x.1)));
        let mut newest: Vec<(SystemTime, PathBuf)> = expected[..7].to_vec();
        newest.sort_by(|x, y| y.0.cmp(&x.0).then_with(|| x.1.cmp(&y.1)));
        let want: Vec<String> = newest
            .iter()
            .map(|(_, p)| p.display().to_string())
            .collect();
        let live = tokio_util::sync::CancellationToken::new();
        for _ in 0..5 {
            let args = Args {
                pattern: "**/*.conf".into(),
                path: Some(d.path().display().to_string()),
            };
            let v = run(&guard, 7, DEADLINE, &live, args).unwrap();
            assert_eq!(v["count"], 950, "{v}");
            assert_eq!(v["truncated"], true, "{v}");
            assert_eq!(v["files"], json!(want), "{v}");
            assert!(v.get("incomplete").is_none(), "{v}");
        }
    }

    /// A directory listed as a real directory and replaced by a symlink to a protected one
    /// before its turn to be read (the race an attacker with a writable directory would try)
    /// yields nothing: the walk opens it without following links and checks what it opened.
    /// The control shows that opening the same path the ordinary way reaches the protected
    /// names.
    #[test]
    fn a_directory_swapped_for_a_link_to_a_protected_one_is_not_read() {
        let d = tempfile::tempdir().unwrap();
        let secret = d.path().join("secret");
        std::fs::create_dir(&secret).unwrap();
        std::fs::write(secret.join("key.conf"), "").unwrap();
        let tree = d.path().join("tree");
        std::fs::create_dir(&tree).unwrap();
        // The state after the swap: "tree/sub" was a directory when its parent was listed.
        std::os::unix::fs::symlink(&secret, tree.join("sub")).unwrap();
        let mut guard = Guard::default();
        guard.add("secret", &secret, true);

        // Control: an ordinary open of the path lists the protected directory's names.
        let names: Vec<_> = std::fs::read_dir(tree.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["key.conf"]);

        let glob = compile("**/*.conf").unwrap();
        let live = tokio_util::sync::CancellationToken::new();
        let budget = Budget::new(DEADLINE, &live);
        let walk = Walk {
            start: &tree,
            rest_glob: &glob,
            dot_globs: &[],
            guard: &guard,
            root_is_slash: false,
            max_depth: usize::MAX,
            max: 10,
            budget: &budget,
        };
        let (mut out, mut subdirs) = (Newest::default(), Vec::new());
        let swapped = Dir {
            path: tree.join("sub"),
            depth: 1,
        };
        walk.read(&swapped, &mut out, &mut subdirs);
        assert_eq!((out.count, subdirs.len()), (0, 0));
        // And the whole walk lists the link itself (not followed), nothing behind it.
        let (out, incomplete) = walk.run(tree.clone());
        assert!(!incomplete);
        assert_eq!(out.count, 0);
        // The same directory, really there, is read: the walk is not refusing everything.
        std::fs::remove_file(tree.join("sub")).unwrap();
        std::fs::create_dir(tree.join("sub")).unwrap();
        std::fs::write(tree.join("sub/app.conf"), "").unwrap();
        let (out, _) = walk.run(tree.clone());
        let found: Vec<_> = out.heap.into_iter().map(|Reverse((_, p))| p).collect();
        assert_eq!(found, [tree.join("sub/app.conf")]);
    }

    /// The shared queue on its own, with more workers than this machine may have cores: the
    /// walk finds everything and ends; with the call cancelled, every worker stops at once and
    /// the walk says it was stopped (no worker is left waiting for work that never comes).
    #[test]
    fn the_parallel_walk_ends_and_stops_when_cancelled() {
        let d = tempfile::tempdir().unwrap();
        for a in 0..30 {
            for b in 0..3 {
                let dir = d.path().join(format!("a{a}/b{b}"));
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("x.log"), "").unwrap();
            }
        }
        let glob = compile("**/*.log").unwrap();
        let guard = Guard::default();
        let start = d.path().to_path_buf();
        let live = tokio_util::sync::CancellationToken::new();
        let cancelled = tokio_util::sync::CancellationToken::new();
        cancelled.cancel();
        for (token, want) in [(&live, (90, false)), (&cancelled, (0, true))] {
            let budget = Budget::new(DEADLINE, token);
            let walk = Walk {
                start: &start,
                rest_glob: &glob,
                dot_globs: &[],
                guard: &guard,
                root_is_slash: false,
                max_depth: usize::MAX,
                max: 1000,
                budget: &budget,
            };
            let root = vec![Dir {
                path: start.clone(),
                depth: 0,
            }];
            let (out, stopped) = walk.parallel(root, 6);
            assert_eq!((out.count, stopped), want);
        }
    }
}
