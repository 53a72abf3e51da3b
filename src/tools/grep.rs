//! `grep`: regex search in-process with ripgrep's crates. The pattern is only ever a
//! pattern (never a flag, never a program: a pattern like `--pre=sh` given to a
//! spawned `rg` would run a command); every file is opened through the path guard
//! and protected directories are pruned from the walk (filtering output lines afterwards
//! misses lines without a file name); errors are reported, not turned into "no matches";
//! output is bounded and the walk has a deadline, so a broad search cannot exhaust memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use globset::GlobMatcher;
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{
    BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkContextKind, SinkFinish,
    SinkMatch,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ToolError;
use crate::guard::{Access, Guard, require_absolute};
use crate::tools::Budget;
use crate::tools::glob::skip_dir;

/// The description `tools/list` shows for `grep`.
pub(crate) const DESCRIPTION: &str = "Search file contents for a regular expression (Rust regex syntax, in-process; the pattern is never an option). path is an absolute file or directory (default /). Directory searches skip hidden, .gitignored and binary files and walk in path order; a file named directly is always searched. output_mode: content (default) gives 'path:line:text' with context lines as 'path-line-text' and '--' between groups; files gives paths; count gives 'path:N'. glob filters file names (e.g. '*.log'). max_results defaults to 500 (at most 5000); past it a '[TRUNCATED: N more matches not shown]' line ends the results, and match_count counts every matching line (files in files/count mode). Long lines are cut at 2000 characters.";

/// Arguments as in the reference schema.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Args {
    /// Regular expression to search for
    pub(crate) pattern: String,
    /// Absolute file or directory to search (default /)
    pub(crate) path: Option<String>,
    /// Only search files whose name matches, e.g. '*.log'
    pub(crate) glob: Option<String>,
    /// content (default), files or count
    pub(crate) output_mode: Option<Mode>,
    /// Lines of context around each match (default 0)
    pub(crate) context_lines: Option<i64>,
    /// Maximum results (default 500, at most 5000)
    pub(crate) max_results: Option<i64>,
    /// Ignore case (default false)
    #[serde(default)]
    pub(crate) case_insensitive: bool,
}

/// How long one search may run before it returns what it has.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

/// Longest regular expression accepted, in bytes.
pub(crate) const MAX_REGEX_LEN: usize = 8 * 1024;

/// Compiled-program and lazy-DFA budgets. Without them a short pattern of large Unicode
/// classes (`\p{L}` repeated) spent seconds of CPU compiling before failing; with them it
/// fails in milliseconds, while ordinary patterns stay far below.
pub(crate) const REGEX_SIZE_LIMIT: usize = 8 << 20;
/// See [`REGEX_SIZE_LIMIT`].
pub(crate) const REGEX_DFA_SIZE_LIMIT: usize = 16 << 20;

/// Longest line text returned; longer lines are cut (minified files would blow up output).
pub(crate) const MAX_LINE_CHARS: usize = 2000;

/// What a search returns: matching lines with context, paths of matching files, or matching
/// lines per file. (No doc comments on the variants: schemars would then describe each one in
/// a `oneOf` instead of the plain `enum` clients expect.)
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    #[default]
    Content,
    Files,
    Count,
}

/// Results gathered across files.
struct Collector {
    mode: Mode,
    cap: u64,
    context: bool,
    out: String,
    shown: u64,
    total: u64,
}

impl Collector {
    fn push_line(&mut self, line: &str) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
        self.out.push_str(line);
    }
}

/// One line a file's search produced, in order, before the global cap is applied.
#[derive(Debug)]
enum Entry {
    /// A matching line: number, text.
    Match(u64, String),
    /// A context line: after a match (else before one), number, text.
    Context(bool, u64, String),
    /// A gap between context groups.
    Break,
}

/// What searching one file produced. Searches run on several threads; their outputs are
/// merged in path order, where the cap is applied (see [`merge_file`]).
#[derive(Debug, Default)]
struct FileOut {
    entries: Vec<Entry>,
    matches: u64,
}

/// Per-file sink: records up to `cap` matches with their context (more can never be shown:
/// see [`merge_file`]) and counts all of them. Nothing is recorded when `shown` says the
/// results are already full.
struct FileSink<'a> {
    mode: Mode,
    cap: u64,
    out: FileOut,
    recorded: u64,
    /// A match past the cap was seen: nothing more is recorded, only counted.
    full: bool,
    shown: &'a AtomicU64,
}

fn text(bytes: &[u8]) -> String {
    let b = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let b = b.strip_suffix(b"\r").unwrap_or(b);
    let s = String::from_utf8_lossy(b);
    if s.chars().count() > MAX_LINE_CHARS {
        let cut: String = s.chars().take(MAX_LINE_CHARS).collect();
        format!("{cut} [LINE TRUNCATED]")
    } else {
        s.into_owned()
    }
}

impl FileSink<'_> {
    fn recording(&self) -> bool {
        !self.full && self.shown.load(Ordering::Relaxed) < self.cap
    }
}

impl Sink for FileSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _s: &Searcher, m: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        self.out.matches += 1;
        match self.mode {
            Mode::Files => Ok(false),
            Mode::Count => Ok(true),
            Mode::Content => {
                if self.recorded >= self.cap {
                    self.full = true;
                }
                if self.recording() {
                    let ln = m.line_number().unwrap_or(0);
                    self.out.entries.push(Entry::Match(ln, text(m.bytes())));
                    self.recorded += 1;
                }
                Ok(true)
            }
        }
    }

    fn context(&mut self, _s: &Searcher, c: &SinkContext<'_>) -> Result<bool, Self::Error> {
        if self.mode == Mode::Content && self.recording() {
            let after = matches!(c.kind(), SinkContextKind::After);
            let ln = c.line_number().unwrap_or(0);
            self.out
                .entries
                .push(Entry::Context(after, ln, text(c.bytes())));
        }
        Ok(true)
    }

    fn context_break(&mut self, _s: &Searcher) -> Result<bool, Self::Error> {
        if self.mode == Mode::Content && self.recording() {
            self.out.entries.push(Entry::Break);
        }
        Ok(true)
    }

    fn finish(&mut self, _s: &Searcher, f: &SinkFinish) -> Result<(), Self::Error> {
        if f.binary_byte_offset().is_some() {
            // Binary file: drop it entirely, as ripgrep does by default.
            self.out = FileOut::default();
        }
        Ok(())
    }
}

/// Add one file's output to the results, in path order: the cap counts across files, a
/// match past it drops the context gathered for it, and context after it is not shown.
fn merge_file(c: &mut Collector, path: &str, out: FileOut) {
    if out.matches == 0 {
        return;
    }
    let mut buf: Vec<String> = Vec::new();
    let mut stored = 0u64;
    let mut pending_before = 0usize;
    let mut after_ok = false;
    if c.mode == Mode::Content {
        for e in out.entries {
            let room = c.shown + stored < c.cap;
            match e {
                Entry::Match(ln, t) => {
                    if room {
                        buf.push(format!("{path}:{ln}:{t}"));
                        stored += 1;
                        after_ok = true;
                    } else {
                        // Over the cap: drop context gathered for this match; keep counting.
                        buf.truncate(buf.len() - pending_before);
                        if buf.last().is_some_and(|l| l == "--") {
                            buf.pop();
                        }
                        after_ok = false;
                    }
                    pending_before = 0;
                }
                Entry::Context(after, ln, t) => {
                    if (after && after_ok) || (!after && room) {
                        buf.push(format!("{path}-{ln}-{t}"));
                        if !after {
                            pending_before += 1;
                        }
                    }
                }
                Entry::Break => {
                    if room && !buf.is_empty() {
                        buf.push("--".to_string());
                    }
                }
            }
        }
    }
    flush(c, path, buf, out.matches, stored);
}

fn flush(c: &mut Collector, path: &str, sink_buf: Vec<String>, matches: u64, stored: u64) {
    if matches == 0 {
        return;
    }
    match c.mode {
        Mode::Content => {
            c.total += matches;
            if !sink_buf.is_empty() {
                if c.context && !c.out.is_empty() {
                    c.push_line("--");
                }
                let mut lines = sink_buf;
                while lines.last().is_some_and(|l| l == "--") {
                    lines.pop();
                }
                for l in lines {
                    c.push_line(&l);
                }
            }
            c.shown += stored;
        }
        Mode::Files | Mode::Count => {
            c.total += 1;
            if c.shown < c.cap {
                let line = if c.mode == Mode::Files {
                    path.to_string()
                } else {
                    format!("{path}:{matches}")
                };
                c.push_line(&line);
                c.shown += 1;
            }
        }
    }
}

/// (device, inode) of a walked directory entry (glob reads it from the directory's own
/// descriptor instead).
fn entry_id(m: Option<std::fs::Metadata>) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    m.map(|m| (m.dev(), m.ino()))
}

/// What every file's search shares.
struct Search<'a> {
    matcher: &'a grep_regex::RegexMatcher,
    builder: &'a SearcherBuilder,
    mode: Mode,
    cap: u64,
}

impl Search<'_> {
    /// Search one open file. Unreadable files are skipped, like ripgrep (which reports them
    /// on stderr): what was found before the error stands.
    fn file(&self, searcher: &mut Searcher, file: &std::fs::File, shown: &AtomicU64) -> FileOut {
        let mut sink = FileSink {
            mode: self.mode,
            cap: self.cap,
            out: FileOut::default(),
            recorded: 0,
            full: false,
            shown,
        };
        let _ = searcher.search_file(self.matcher, file, &mut sink);
        sink.out
    }
}

/// Files handed to a worker at a time, at most: one hand-off (and one wake-up of the merge
/// and of the walk) per batch instead of per file, which on small files cost more than the
/// search. Batches start at [`FIRST_BATCH`] and double up to this, so a search of a few dozen
/// files still spreads over the workers. 128 against 32: 680 context switches per search of
/// 20,000 files instead of 2,700, 10 % less CPU, 9 % less wall time (docs/decisions.md, grep).
const BATCH: usize = 128;

/// The first batch's size (see [`BATCH`]).
const FIRST_BATCH: usize = 16;

/// Size of batch number `i`: [`FIRST_BATCH`] doubling up to [`BATCH`].
fn batch_size(i: u64) -> usize {
    FIRST_BATCH
        .checked_shl(i.min(16) as u32)
        .map_or(BATCH, |n| n.min(BATCH))
}

/// Batches searched ahead of the one the results have reached, per worker, at most: what
/// bounds the memory held by finished searches that wait for a slower file before them.
const AHEAD_PER_WORKER: u64 = 2;

/// Search `files` (in path order) on every core and merge their outputs into `c` in that
/// same order. Returns whether the deadline cut the search short.
fn search_in_order(
    guard: &Guard,
    search: &Search<'_>,
    files: impl Iterator<Item = String> + Send,
    c: &mut Collector,
    budget: &Budget<'_>,
) -> bool {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let ahead = AHEAD_PER_WORKER * workers as u64;
    // How many batches the merge has consumed; the walk waits when it is `ahead` in front.
    let merged = (Mutex::new(0u64), Condvar::new());
    let shown = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let timed_out = AtomicBool::new(false);
    let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<String>)>(workers);
    let job_rx = Mutex::new(job_rx);
    let (out_tx, out_rx) = std::sync::mpsc::channel::<(u64, Vec<(String, FileOut)>)>();
    std::thread::scope(|scope| {
        // The walk (in path order) hands out numbered batches of files.
        let merged_ref = &merged;
        let (stop_ref, timed_out_ref) = (&stop, &timed_out);
        scope.spawn(move || {
            let mut files = files.peekable();
            for i in 0u64.. {
                if files.peek().is_none() {
                    break;
                }
                if budget.spent() {
                    timed_out_ref.store(true, Ordering::Relaxed);
                    break;
                }
                let batch: Vec<String> = files.by_ref().take(batch_size(i)).collect();
                {
                    let (lock, cv) = merged_ref;
                    let mut done = lock.lock().unwrap_or_else(|e| e.into_inner());
                    while i >= *done + ahead && !stop_ref.load(Ordering::Relaxed) {
                        done = cv.wait(done).unwrap_or_else(|e| e.into_inner());
                    }
                }
                if stop_ref.load(Ordering::Relaxed) || job_tx.send((i, batch)).is_err() {
                    break;
                }
            }
        });
        for _ in 0..workers {
            let out_tx = out_tx.clone();
            let (job_rx, shown) = (&job_rx, &shown);
            scope.spawn(move || {
                // A searcher keeps buffers between files: one per worker.
                let mut searcher = search.builder.build();
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((i, batch))) = job else { break };
                    let outs = batch
                        .into_iter()
                        .map(|path| {
                            // Protected or vanished files are skipped silently in a walk;
                            // past the deadline files are passed over (the result then
                            // says incomplete).
                            let out = if budget.spent() {
                                timed_out_ref.store(true, Ordering::Relaxed);
                                FileOut::default()
                            } else {
                                match guard.open_walked(&path) {
                                    Ok(f) => search.file(&mut searcher, &f, shown),
                                    Err(_) => FileOut::default(),
                                }
                            };
                            (path, out)
                        })
                        .collect();
                    if out_tx.send((i, outs)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(out_tx);
        // Merge in order; batches that arrive early wait (at most `ahead` of them).
        let mut waiting: BTreeMap<u64, Vec<(String, FileOut)>> = BTreeMap::new();
        let mut next = 0u64;
        for (i, outs) in out_rx {
            waiting.insert(i, outs);
            let before = next;
            while let Some(outs) = waiting.remove(&next) {
                for (path, out) in outs {
                    merge_file(c, &path, out);
                }
                shown.store(c.shown, Ordering::Relaxed);
                next += 1;
            }
            if next != before {
                let (lock, cv) = &merged;
                *lock.lock().unwrap_or_else(|e| e.into_inner()) = next;
                cv.notify_all();
            }
        }
        stop.store(true, Ordering::Relaxed);
        merged.1.notify_all();
    });
    timed_out.load(Ordering::Relaxed)
}

/// Compile a search pattern within the length and size budgets.
pub(crate) fn build_matcher(
    pattern: &str,
    case_insensitive: bool,
) -> Result<grep_regex::RegexMatcher, ToolError> {
    if pattern.len() > MAX_REGEX_LEN {
        return Err(ToolError::InvalidRegex(format!(
            "invalid regex: the pattern is {} bytes long; at most {MAX_REGEX_LEN} bytes are accepted",
            pattern.len()
        )));
    }
    RegexMatcherBuilder::new()
        .case_insensitive(case_insensitive)
        // As ripgrep does: `^` and `$` match at line boundaries inside the buffer, so the
        // searcher can run the regex over many lines at once instead of line by line (a
        // pattern ending in `$` cost 2.5x ripgrep's CPU without it). The line terminator
        // still keeps any match inside one line.
        .multi_line(true)
        .line_terminator(Some(b'\n'))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build(pattern)
        .map_err(|e| ToolError::InvalidRegex(format!("invalid regex: {e}")))
}

/// Run the tool (blocking).
pub(crate) fn run(
    guard: &Guard,
    (default_max, hard_max): (u64, u64),
    deadline: Duration,
    cancel: &tokio_util::sync::CancellationToken,
    args: Args,
) -> Result<Value, ToolError> {
    let mode = args.output_mode.unwrap_or_default();
    let cap = args
        .max_results
        .map(|m| m.clamp(1, hard_max as i64) as u64)
        .unwrap_or(default_max);
    let ctx = args.context_lines.unwrap_or(0).clamp(0, 100) as usize;
    let root_s = args.path.as_deref().unwrap_or("/");
    let root = require_absolute(root_s, "path")?;
    let matcher = build_matcher(&args.pattern, args.case_insensitive)?;
    let name_glob: Option<GlobMatcher> = match args.glob.as_deref().filter(|g| !g.is_empty()) {
        Some(g) => Some(
            crate::tools::glob::check_glob_shape(g)
                .and_then(|()| {
                    globset::GlobBuilder::new(g)
                        .literal_separator(g.contains('/'))
                        .build()
                        .map_err(|e| ToolError::InvalidPattern(format!("invalid glob {g:?}: {e}")))
                })?
                .compile_matcher(),
        ),
        None => None,
    };
    let mut builder = SearcherBuilder::new();
    builder
        .line_number(true)
        .before_context(if mode == Mode::Content { ctx } else { 0 })
        .after_context(if mode == Mode::Content { ctx } else { 0 })
        .binary_detection(BinaryDetection::quit(0));
    let mut c = Collector {
        mode,
        cap,
        context: ctx > 0,
        out: String::new(),
        shown: 0,
        total: 0,
    };
    let meta = std::fs::metadata(root).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::FileNotFound {
            message: format!("Path not found: {root_s}"),
            suggestion: Some("Check the path"),
        },
        _ => ToolError::from_io_read(&e, root_s),
    })?;
    let budget = Budget::new(deadline, cancel);
    let mut incomplete = false;
    let search = Search {
        matcher: &matcher,
        builder: &builder,
        mode,
        cap,
    };
    if !meta.is_dir() {
        // An explicitly named file is always searched (hidden, ignored or not).
        let file = guard.open_read(root_s)?.file;
        let out = search.file(&mut builder.build(), &file, &AtomicU64::new(0));
        merge_file(&mut c, root_s, out);
    } else {
        let real_root =
            std::fs::canonicalize(root).map_err(|e| ToolError::from_io_read(&e, root_s))?;
        guard.check_real(&real_root, Access::Read)?;
        let root_is_slash = real_root == Path::new("/");
        let guard2 = guard.clone();
        let walker = ignore::WalkBuilder::new(&real_root)
            .follow_links(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .filter_entry(move |e| {
                !(e.file_type().is_some_and(|t| t.is_dir())
                    && skip_dir(
                        &guard2,
                        root_is_slash,
                        e.path(),
                        entry_id(e.metadata().ok()),
                    ))
            })
            .build();
        let files = walker.filter_map(|entry| {
            let entry = entry.ok()?;
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return None;
            }
            if let Some(g) = &name_glob {
                let ok = if g.glob().glob().contains('/') {
                    entry
                        .path()
                        .strip_prefix(&real_root)
                        .is_ok_and(|r| g.is_match(r))
                } else {
                    g.is_match(entry.file_name())
                };
                if !ok {
                    return None;
                }
            }
            entry.path().to_str().map(str::to_string)
        });
        incomplete = search_in_order(guard, &search, files, &mut c, &budget);
    }
    budget.check_cancelled()?;
    let mut results = c.out;
    if c.total > c.cap {
        let _ = write!(
            results,
            "\n[TRUNCATED: {} more matches not shown]",
            c.total - c.cap
        );
    }
    let mut v = json!({"match_count": c.total, "results": results});
    if incomplete && let Some(o) = v.as_object_mut() {
        o.insert("incomplete".into(), Value::Bool(true));
        o.insert(
            "note".into(),
            Value::String(format!(
                "stopped after {}s; results cover only the files searched so far. Narrow path or glob.",
                deadline.as_secs()
            )),
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches double from the first size to the largest and stay there, for any batch count.
    #[test]
    fn batches_grow_from_the_first_size_to_the_largest() {
        let sizes: Vec<usize> = [0, 1, 2, 3, 4, 40, u64::MAX]
            .into_iter()
            .map(batch_size)
            .collect();
        assert_eq!(sizes, [16, 32, 64, 128, 128, 128, 128]);
    }
}
