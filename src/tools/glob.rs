//! `glob`: files and directories matching a pattern under a root, newest first.
//!
//! The walk is lazy (walkdir), never follows symlinked directories (a link to a parent would loop until memory
//! runs out), starts at
//! the pattern's literal prefix, stops descending where the pattern cannot match deeper,
//! prunes protected and hidden directories instead of filtering output, and keeps only the
//! newest `max` matches in a heap while counting all of them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
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

/// (device, inode) of a walked directory entry.
pub(crate) fn entry_id(m: Option<std::fs::Metadata>) -> Option<(u64, u64)> {
    m.map(|m| (m.dev(), m.ino()))
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
    if guard.check_real(&start, Access::Read).is_err() {
        return Ok(empty);
    }
    let rest = &comps[lit..];
    let rest_glob = compile(&rest.join("/"))?;
    let max_depth = if rest.iter().any(|c| c.contains("**")) {
        usize::MAX
    } else {
        rest.len()
    };
    let root_is_slash = root == Path::new("/");
    let budget = Budget::new(deadline, cancel);
    let mut heap: BinaryHeap<Reverse<(i128, PathBuf)>> = BinaryHeap::new();
    let mut count: u64 = 0;
    let mut incomplete = false;
    let walker = walkdir::WalkDir::new(&start)
        .follow_links(false)
        .min_depth(1)
        .max_depth(max_depth)
        .into_iter()
        .filter_entry(|e| {
            let hidden = e.file_name().to_str().is_some_and(|n| n.starts_with('.'));
            if hidden && !dot_globs.iter().any(|g| g.is_match(e.file_name())) {
                return false;
            }
            !(e.file_type().is_dir()
                && skip_dir(guard, root_is_slash, e.path(), entry_id(e.metadata().ok())))
        });
    for (i, entry) in walker.enumerate() {
        if i % 256 == 0 && budget.spent() {
            incomplete = true;
            break;
        }
        let Ok(entry) = entry else { continue };
        let Ok(rel) = entry.path().strip_prefix(&start) else {
            continue;
        };
        if !rest_glob.is_match(rel) {
            continue;
        }
        if !entry.file_type().is_dir() && guard.check_real(entry.path(), Access::Read).is_err() {
            continue;
        }
        count += 1;
        let mtime = entry
            .metadata()
            .map(|m| m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128)
            .unwrap_or(0);
        heap.push(Reverse((mtime, entry.into_path())));
        if heap.len() as u64 > max {
            heap.pop();
        }
    }
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
