//! `grep`: regex search in-process with ripgrep's crates. The pattern is only ever a
//! pattern (never a flag, never a program: a pattern like `--pre=sh` given to a
//! spawned `rg` would run a command); every file is opened through the path guard
//! and protected directories are pruned from the walk (filtering output lines afterwards
//! misses lines without a file name); errors are reported, not turned into "no matches";
//! output is bounded and the walk has a deadline, so a broad search cannot exhaust memory.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

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
use crate::tools::glob::{entry_id, skip_dir};

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

/// Per-file sink: buffers the file's lines so a file found to be binary can be dropped.
struct FileSink<'a> {
    c: &'a mut Collector,
    path: &'a str,
    buf: Vec<String>,
    matches: u64,
    stored: u64,
    pending_before: usize,
    after_ok: bool,
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
    fn room(&self) -> bool {
        self.c.shown + self.stored < self.c.cap
    }
}

impl Sink for FileSink<'_> {
    type Error = std::io::Error;

    fn matched(&mut self, _s: &Searcher, m: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        self.matches += 1;
        match self.c.mode {
            Mode::Files => Ok(false),
            Mode::Count => Ok(true),
            Mode::Content => {
                if self.room() {
                    let ln = m.line_number().unwrap_or(0);
                    self.buf
                        .push(format!("{}:{ln}:{}", self.path, text(m.bytes())));
                    self.stored += 1;
                    self.after_ok = true;
                } else {
                    // Over the cap: drop context gathered for this match; keep counting.
                    self.buf.truncate(self.buf.len() - self.pending_before);
                    if self.buf.last().is_some_and(|l| l == "--") {
                        self.buf.pop();
                    }
                    self.after_ok = false;
                }
                self.pending_before = 0;
                Ok(true)
            }
        }
    }

    fn context(&mut self, _s: &Searcher, c: &SinkContext<'_>) -> Result<bool, Self::Error> {
        if self.c.mode != Mode::Content {
            return Ok(true);
        }
        let keep = match c.kind() {
            SinkContextKind::After => self.after_ok,
            _ => self.room(),
        };
        if keep {
            let ln = c.line_number().unwrap_or(0);
            self.buf
                .push(format!("{}-{ln}-{}", self.path, text(c.bytes())));
            if !matches!(c.kind(), SinkContextKind::After) {
                self.pending_before += 1;
            }
        }
        Ok(true)
    }

    fn context_break(&mut self, _s: &Searcher) -> Result<bool, Self::Error> {
        if self.c.mode == Mode::Content && self.room() && !self.buf.is_empty() {
            self.buf.push("--".to_string());
        }
        Ok(true)
    }

    fn finish(&mut self, _s: &Searcher, f: &SinkFinish) -> Result<(), Self::Error> {
        if f.binary_byte_offset().is_some() {
            // Binary file: drop it entirely, as ripgrep does by default.
            self.matches = 0;
            self.buf.clear();
            self.stored = 0;
        }
        Ok(())
    }
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
        .line_terminator(Some(b'\n'))
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_DFA_SIZE_LIMIT)
        .build(pattern)
        .map_err(|e| ToolError::InvalidRegex(format!("invalid regex: {e}")))
}

/// Run the tool (blocking).
pub(crate) fn run(
    guard: &Guard,
    default_max: u64,
    hard_max: u64,
    deadline: Duration,
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
    let mut searcher = SearcherBuilder::new()
        .line_number(true)
        .before_context(if mode == Mode::Content { ctx } else { 0 })
        .after_context(if mode == Mode::Content { ctx } else { 0 })
        .binary_detection(BinaryDetection::quit(0))
        .build();
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
    let started = Instant::now();
    let mut incomplete = false;
    let mut search_one = |c: &mut Collector, path: &str, walked: bool| -> Result<(), ToolError> {
        let file = if walked {
            guard.open_walked(path)?
        } else {
            guard.open_read(path)?.file
        };
        let mut sink = FileSink {
            c,
            path,
            buf: Vec::new(),
            matches: 0,
            stored: 0,
            pending_before: 0,
            after_ok: false,
        };
        // Unreadable files in a walk are skipped, like ripgrep (which reports them on stderr).
        let _ = searcher.search_file(&matcher, &file, &mut sink);
        let (buf, matches, stored) = (std::mem::take(&mut sink.buf), sink.matches, sink.stored);
        flush(c, path, buf, matches, stored);
        Ok(())
    };
    if !meta.is_dir() {
        // An explicitly named file is always searched (hidden, ignored or not).
        search_one(&mut c, root_s, false)?;
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
        for entry in walker {
            if started.elapsed() > deadline {
                incomplete = true;
                break;
            }
            let Ok(entry) = entry else { continue };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
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
                    continue;
                }
            }
            let Some(p) = entry.path().to_str() else {
                continue;
            };
            // Protected or vanished files are skipped silently in a walk.
            let _ = search_one(&mut c, p, true);
        }
    }
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
