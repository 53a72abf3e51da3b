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
    fn new(mode: Mode, cap: u64, context: bool) -> Collector {
        Collector {
            mode,
            cap,
            context,
            out: String::new(),
            shown: 0,
            total: 0,
        }
    }

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

/// Files searched between two looks at the deadline and the cancel, within a batch.
const CHECK_EVERY: usize = 8;

/// Batches searched ahead of the one the results have reached, per worker, at most: what
/// bounds the memory held by finished searches that wait for a slower file before them.
const AHEAD_PER_WORKER: u64 = 2;

/// The walk, shared by the workers: whoever needs files takes the next batch from it.
struct Walk<I: Iterator> {
    files: std::iter::Peekable<I>,
    /// Number of the next batch handed out.
    next: u64,
}

/// Finished batches waiting for the merge, and the results they are merged into.
struct Merge<'c> {
    c: &'c mut Collector,
    /// Batches finished before one in front of them, by number.
    waiting: BTreeMap<u64, Vec<(String, FileOut)>>,
    /// Number of the next batch to merge.
    next: u64,
    /// Workers asleep until the merge catches up (so it wakes nobody when nobody waits).
    sleepers: usize,
}

/// Shared by the workers of one search.
struct Shared<'c, I: Iterator> {
    walk: Mutex<Walk<I>>,
    merge: Mutex<Merge<'c>>,
    /// Signalled when the merge advances or the search stops.
    merged: Condvar,
    shown: AtomicU64,
    stop: AtomicBool,
    timed_out: AtomicBool,
    ahead: u64,
}

/// Stops the search if a worker leaves by a panic, so the others do not wait for a batch
/// that will never be merged.
struct StopOnPanic<'a, 'c, I: Iterator>(&'a Shared<'c, I>);

impl<I: Iterator> Drop for StopOnPanic<'_, '_, I> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop.store(true, Ordering::Relaxed);
            let _m = self.0.merge.lock().unwrap_or_else(|e| e.into_inner());
            self.0.merged.notify_all();
        }
    }
}

impl<I: Iterator<Item = String>> Shared<'_, I> {
    /// The next batch to search, or `None` when the walk is over, stopped or past its
    /// deadline. Waits while it would run more than `ahead` batches in front of the merge.
    fn take(&self, budget: &Budget<'_>) -> Option<(u64, Vec<String>)> {
        let mut walk = self.walk.lock().unwrap_or_else(|e| e.into_inner());
        if self.stop.load(Ordering::Relaxed) || walk.files.peek().is_none() {
            return None;
        }
        if budget.spent() {
            self.timed_out.store(true, Ordering::Relaxed);
            return None;
        }
        let i = walk.next;
        {
            // Lock order: walk, then merge (the merge never takes the walk's lock).
            let mut m = self.merge.lock().unwrap_or_else(|e| e.into_inner());
            while i >= m.next + self.ahead && !self.stop.load(Ordering::Relaxed) {
                m.sleepers += 1;
                m = self.merged.wait(m).unwrap_or_else(|e| e.into_inner());
                m.sleepers -= 1;
            }
        }
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        walk.next += 1;
        let batch = walk.files.by_ref().take(batch_size(i)).collect();
        Some((i, batch))
    }

    /// Hand in batch `i`'s outputs, and merge every batch that is now next in order.
    fn finish(&self, i: u64, outs: Vec<(String, FileOut)>) {
        let mut m = self.merge.lock().unwrap_or_else(|e| e.into_inner());
        m.waiting.insert(i, outs);
        let before = m.next;
        loop {
            let next = m.next;
            let Some(outs) = m.waiting.remove(&next) else {
                break;
            };
            for (path, out) in outs {
                merge_file(m.c, &path, out);
            }
            self.shown.store(m.c.shown, Ordering::Relaxed);
            m.next += 1;
        }
        if m.next != before && m.sleepers > 0 {
            self.merged.notify_all();
        }
    }

    /// One worker: take batches, search them, hand them in, until the walk ends.
    fn work(&self, search: &Search<'_>, guard: &Guard, budget: &Budget<'_>) {
        let _stop = StopOnPanic(self);
        // A searcher keeps buffers between files: one per worker.
        let mut searcher = search.builder.build();
        while let Some((i, batch)) = self.take(budget) {
            let mut spent = false;
            let outs = batch
                .into_iter()
                .enumerate()
                .map(|(k, path)| {
                    // Protected or vanished files are skipped silently in a walk; past the
                    // deadline files are passed over (the result then says incomplete).
                    // Looking at the cancel takes a lock the workers share, so it is done
                    // every few files, not for each.
                    spent = spent || (k % CHECK_EVERY == 0 && budget.spent());
                    let out = if spent {
                        self.timed_out.store(true, Ordering::Relaxed);
                        FileOut::default()
                    } else {
                        match guard.open_walked(&path) {
                            Ok(f) => search.file(&mut searcher, &f, &self.shown),
                            Err(_) => FileOut::default(),
                        }
                    };
                    (path, out)
                })
                .collect();
            self.finish(i, outs);
        }
    }
}

/// Search `files` (in path order) on `workers` threads and merge their outputs into `c` in that
/// same order. Returns whether the deadline cut the search short.
///
/// There is no walker or merger thread to hand work to: each worker (the calling thread is
/// one) takes the next batch from the walk itself and merges whatever its batch completes.
/// Threads then only sleep when one runs too far ahead of a slow batch, which on two cores
/// cut the context switches of a 20,000-file search from 675 to about 30.
fn search_in_order(
    guard: &Guard,
    search: &Search<'_>,
    files: impl Iterator<Item = String> + Send,
    c: &mut Collector,
    budget: &Budget<'_>,
    workers: usize,
) -> bool {
    let workers = workers.max(1);
    let shared = Shared {
        walk: Mutex::new(Walk {
            files: files.peekable(),
            next: 0,
        }),
        merge: Mutex::new(Merge {
            c,
            waiting: BTreeMap::new(),
            next: 0,
            sleepers: 0,
        }),
        merged: Condvar::new(),
        shown: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        timed_out: AtomicBool::new(false),
        ahead: AHEAD_PER_WORKER * workers as u64,
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(|| shared.work(search, guard, budget));
        }
        shared.work(search, guard, budget);
    });
    shared.timed_out.load(Ordering::Relaxed)
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
    let mut c = Collector::new(mode, cap, ctx > 0);
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
            // Entries of one directory share its path, so comparing whole paths as bytes
            // orders them by name exactly as comparing names would, without taking each
            // name apart again for every comparison (1 % of a grep's CPU).
            .sort_by_file_path(|a, b| a.as_os_str().cmp(b.as_os_str()))
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
        incomplete = search_in_order(
            guard,
            &search,
            files,
            &mut c,
            &budget,
            crate::tools::walk_workers(),
        );
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

    /// Any number of workers gives the one-worker output byte for byte: path order across
    /// batches finished out of order (file sizes differ a hundredfold, so batches do), the
    /// cap applied across files, every match counted. A cancelled search searches nothing
    /// and says it was cut short.
    #[test]
    fn workers_take_and_merge_batches_in_path_order() {
        let d = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for i in 0..700 {
            let p = d.path().join(format!("f{i:04}"));
            let filler = "filler line\n".repeat(if i % 50 == 0 { 5000 } else { 3 });
            std::fs::write(&p, format!("{filler}hit {i}\n{filler}hit again {i}\n")).unwrap();
            paths.push(p.to_str().unwrap().to_string());
        }
        let matcher = build_matcher("^hit", false).unwrap();
        let mut builder = SearcherBuilder::new();
        builder.line_number(true);
        let search = Search {
            matcher: &matcher,
            builder: &builder,
            mode: Mode::Content,
            cap: 1000,
        };
        let guard = Guard::default();
        let cancel = tokio_util::sync::CancellationToken::new();
        let budget = Budget::new(DEADLINE, &cancel);
        let run = |workers| {
            let mut c = Collector::new(Mode::Content, 1000, false);
            let cut = search_in_order(
                &guard,
                &search,
                paths.iter().cloned(),
                &mut c,
                &budget,
                workers,
            );
            assert!(!cut);
            c
        };
        let one = run(1);
        assert_eq!(one.total, 1400);
        assert_eq!(one.shown, 1000);
        let lines: Vec<&str> = one.out.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert!(lines[0].ends_with("f0000:5001:hit 0"), "{}", lines[0]);
        assert!(lines[999].contains("f0499:") && lines[999].ends_with(":hit again 499"));
        for workers in [2, 3, 6] {
            let many = run(workers);
            assert_eq!(many.out, one.out, "{workers} workers");
            assert_eq!((many.total, many.shown), (1400, 1000), "{workers} workers");
        }

        cancel.cancel();
        let mut c = Collector::new(Mode::Content, 1000, false);
        let cut = search_in_order(&guard, &search, paths.iter().cloned(), &mut c, &budget, 3);
        assert!(cut, "a cancelled search must say it was cut short");
        assert_eq!((c.total, c.out.as_str()), (0, ""));
    }
}
