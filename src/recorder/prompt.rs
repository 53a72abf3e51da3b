//! What the recorder asks the model, the fixed read-only probes behind the first overview,
//! and the checks an answer must pass before anything is written.
//!
//! The model never chooses commands: bootstrap runs the probes below and hands their output
//! over, so a confused or hostile answer cannot act on the host.

use std::time::Duration;

use serde_json::Value;

use super::Reason;
use super::events::Event;

/// Largest overview accepted from the model.
pub(crate) const MAX_OVERVIEW_BYTES: usize = 256 * 1024;
/// Longest changelog entry accepted.
pub(crate) const MAX_CHANGELOG_LINE: usize = 300;
/// Output kept per probe.
const PROBE_OUTPUT_BYTES: usize = 8 * 1024;
/// Audit record kept per event in the merge prompt.
const EVENT_BYTES: usize = 2 * 1024;

/// System prompt of a merge.
pub(crate) const MERGE_SYSTEM: &str = "You keep a short Markdown map of one Linux host for the AI \
assistants that operate it: what it is for, its services, applications, listening ports, \
data locations, recent changes and quirks. You get the current map, the latest changelog \
lines and new audit events (tool calls that changed the host, as JSON). Update only what \
the events change, keep the existing headings, describe effects rather than commands, keep \
the whole map under 300 lines, and never copy secrets (passwords, tokens, keys) into it.\n\
Answer with exactly one JSON object and nothing else:\n\
{\"updated_overview_md\": \"<the complete new map, starting with '# '>\", \
\"new_changelog_lines\": [\"<tool> | <effect, at most 120 characters>\"]}";

/// System prompt of the bootstrap.
pub(crate) const BOOTSTRAP_SYSTEM: &str = "You write a short Markdown map of one Linux host for the \
AI assistants that will operate it, from the output of read-only probe commands. Keep what \
matters to someone about to work on the host: what it is for, OS, running services, deployed \
applications, listening ports and their owners, important data locations, scheduled jobs, \
and anything unusual. Prefer load-bearing facts over exhaustive lists, stay under 300 lines, \
and never copy secrets. Use these headings: # Server Overview, ## TL;DR, ## Installed \
Services, ## Deployed Applications, ## Network, ## Data Locations, ## Recent Changes, \
## Known Quirks. Answer with the Markdown document only.";

/// One read-only probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeSpec {
    /// Short name shown to the model.
    pub(crate) name: &'static str,
    /// `sh -c` command line (read-only by construction).
    pub(crate) command: &'static str,
}

/// The probes, most informative first (`MYMCP_RECORDER_BOOTSTRAP_MAX_ITERATIONS` caps how
/// many run).
pub(crate) const PROBES: &[ProbeSpec] = &[
    ProbeSpec {
        name: "os",
        command: "cat /etc/os-release 2>/dev/null; uname -srm; uptime; hostname",
    },
    ProbeSpec {
        name: "services",
        command: "systemctl list-units --type=service --state=running --no-pager --no-legend 2>&1 | head -150",
    },
    ProbeSpec {
        name: "listening ports",
        command: "(ss -Htulpn 2>/dev/null || netstat -tulpn 2>/dev/null) | head -150",
    },
    ProbeSpec {
        name: "disks",
        command: "df -hT -x tmpfs -x devtmpfs -x overlay 2>/dev/null; lsblk -o NAME,SIZE,TYPE,MOUNTPOINT 2>/dev/null | head -60",
    },
    ProbeSpec {
        name: "containers",
        command: "for c in docker podman; do command -v $c >/dev/null && $c ps --format '{{.Names}}\t{{.Image}}\t{{.Status}}' 2>&1 | head -50; done; true",
    },
    ProbeSpec {
        name: "packages",
        command: "(dpkg-query -W -f='${Package}\\n' 2>/dev/null || rpm -qa --qf '%{NAME}\\n' 2>/dev/null) | wc -l; ls /opt /srv /usr/local/bin 2>/dev/null | head -80",
    },
    ProbeSpec {
        name: "web servers",
        command: "ls /etc/nginx/sites-enabled /etc/nginx/conf.d /etc/apache2/sites-enabled /etc/httpd/conf.d 2>/dev/null",
    },
    ProbeSpec {
        name: "scheduled jobs",
        command: "ls /etc/cron.d 2>/dev/null; crontab -l 2>/dev/null | grep -v '^#' | head -30; systemctl list-timers --no-pager --no-legend 2>/dev/null | head -30",
    },
    ProbeSpec {
        name: "users",
        command: "getent passwd | awk -F: '$3 >= 1000 && $3 < 65534 {print $1, $6, $7}' | head -50",
    },
    ProbeSpec {
        name: "memory and load",
        command: "free -h 2>/dev/null; nproc; cat /proc/loadavg",
    },
];

/// A probe and what it printed.
#[derive(Debug, Clone)]
pub(crate) struct ProbeResult {
    /// Probe name.
    pub(crate) name: &'static str,
    /// Command that ran.
    pub(crate) command: &'static str,
    /// Combined output, capped; `[timed out]` when killed.
    pub(crate) output: String,
}

/// Run up to `max` probes, each under `timeout`, with the scrubbed child environment.
pub(crate) async fn run_probes(max: usize, timeout: Duration) -> Vec<ProbeResult> {
    let mut out = Vec::new();
    for p in PROBES.iter().take(max) {
        let output = run_probe(p.command, timeout).await;
        out.push(ProbeResult {
            name: p.name,
            command: p.command,
            output,
        });
    }
    out
}

async fn run_probe(command: &str, timeout: Duration) -> String {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("exec 2>&1; {command}"))
        .env_clear()
        .envs(crate::config::child_env())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return format!("[could not run: {e}]"),
    };
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(o)) => truncate(&String::from_utf8_lossy(&o.stdout), PROBE_OUTPUT_BYTES),
        Ok(Err(e)) => format!("[failed: {e}]"),
        Err(_) => {
            if let Some(pgid) = pid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
            }
            format!("[timed out after {} s]", timeout.as_secs())
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes cut]", &s[..end], s.len() - end)
}

/// The bootstrap request, cut to fit the token budget (about 4 characters a token, with the
/// answer's `max_tokens` reserved).
pub(crate) fn bootstrap_user(probes: &[ProbeResult], budget: u64, max_tokens: u64) -> String {
    let room = budget.saturating_sub(max_tokens).saturating_mul(4) as usize;
    let mut s = String::from("Probe results from this host:\n");
    for p in probes {
        let part = format!(
            "\n### {} (`{}`)\n```\n{}\n```\n",
            p.name,
            p.command,
            p.output.trim_end()
        );
        if s.len() + part.len() > room {
            s.push_str("\n[further probe output left out to stay within the token budget]\n");
            break;
        }
        s.push_str(&part);
    }
    s
}

/// The merge request: current map, recent changelog, new events.
pub(crate) fn merge_user(overview: &str, changelog: &str, events: &[Event]) -> String {
    let recent: Vec<&str> = changelog.lines().rev().take(10).collect();
    let mut s =
        format!("## Current map\n\n{overview}\n\n## Latest changelog lines (newest first)\n\n");
    for l in recent {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str("\n## New events (one JSON audit record per line, oldest first)\n\n");
    for e in events {
        let mut rec = e.record.clone();
        if let Some(o) = rec.as_object_mut() {
            // Who and from where does not change the host.
            for k in ["ip", "request_id", "token_name", "role", "duration_ms"] {
                o.remove(k);
            }
        }
        s.push_str(&truncate(&rec.to_string(), EVENT_BYTES));
        s.push('\n');
    }
    s
}

/// A validated merge answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MergeAnswer {
    /// The new overview.
    pub(crate) overview: String,
    /// New changelog entries (`tool | effect`), without the time column.
    pub(crate) changelog: Vec<String>,
}

/// Take the JSON object out of the answer (models like code fences) and check it.
pub(crate) fn parse_merge(text: &str) -> Result<MergeAnswer, Reason> {
    let t = text.trim();
    let json = match (t.find('{'), t.rfind('}')) {
        (Some(a), Some(b)) if a < b => &t[a..=b],
        _ => return Err(Reason::Unparseable),
    };
    let v: Value = serde_json::from_str(json).map_err(|_| Reason::Unparseable)?;
    let overview = v["updated_overview_md"]
        .as_str()
        .ok_or(Reason::SchemaInvalid)?;
    let overview = check_overview(overview)?;
    let lines = v["new_changelog_lines"]
        .as_array()
        .ok_or(Reason::SchemaInvalid)?;
    let mut changelog = Vec::new();
    for l in lines {
        let l = l.as_str().ok_or(Reason::SchemaInvalid)?.trim();
        if l.is_empty() || l.contains('\n') || l.chars().count() > MAX_CHANGELOG_LINE {
            return Err(Reason::SchemaInvalid);
        }
        changelog.push(l.to_string());
    }
    if changelog.len() > 500 {
        return Err(Reason::SchemaInvalid);
    }
    Ok(MergeAnswer {
        overview,
        changelog,
    })
}

/// The bootstrap answer: a Markdown document (a code fence around it is removed).
pub(crate) fn parse_overview(text: &str) -> Result<String, Reason> {
    let mut t = text.trim();
    if let Some(rest) = t.strip_prefix("```") {
        let rest = rest.split_once('\n').map_or("", |(_, r)| r);
        t = rest.trim_end().strip_suffix("```").unwrap_or(rest).trim();
    }
    if !t.starts_with('#') {
        return Err(Reason::Unparseable);
    }
    check_overview(t)
}

fn check_overview(o: &str) -> Result<String, Reason> {
    let o = o.trim();
    if o.is_empty() || !o.starts_with("# ") || o.len() > MAX_OVERVIEW_BYTES {
        return Err(Reason::SchemaInvalid);
    }
    Ok(format!("{o}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_answers_are_validated() {
        let ok = "```json\n{\"updated_overview_md\":\"# Server Overview\\nx\",\"new_changelog_lines\":[\"write_file | wrote /etc/x\"]}\n```";
        let a = parse_merge(ok).unwrap();
        assert_eq!(a.overview, "# Server Overview\nx\n");
        assert_eq!(a.changelog, ["write_file | wrote /etc/x"]);
        assert_eq!(parse_merge("sorry, I cannot"), Err(Reason::Unparseable));
        assert_eq!(parse_merge("{not json}"), Err(Reason::Unparseable));
        assert_eq!(
            parse_merge("{\"updated_overview_md\":\"no heading\",\"new_changelog_lines\":[]}"),
            Err(Reason::SchemaInvalid)
        );
        assert_eq!(
            parse_merge("{\"updated_overview_md\":\"# x\",\"new_changelog_lines\":[\"a\\nb\"]}"),
            Err(Reason::SchemaInvalid)
        );
        assert_eq!(
            parse_merge("{\"updated_overview_md\":\"# x\"}"),
            Err(Reason::SchemaInvalid)
        );
        assert_eq!(
            parse_overview("```markdown\n# Server Overview\nhi\n```").unwrap(),
            "# Server Overview\nhi\n"
        );
        assert_eq!(parse_overview("Here it is: # x"), Err(Reason::Unparseable));
    }

    #[test]
    fn bootstrap_prompt_respects_the_budget() {
        let probes: Vec<ProbeResult> = (0..10)
            .map(|_| ProbeResult {
                name: "p",
                command: "c",
                output: "x".repeat(4000),
            })
            .collect();
        let s = bootstrap_user(&probes, 1000 + 3000, 1000);
        assert!(s.len() <= 12_000 + 100, "{}", s.len());
        assert!(s.contains("left out"));
    }
}
