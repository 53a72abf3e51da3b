#!/usr/bin/env bash
# Background jobs under load: a job that prints without pause (`yes`), polled with job_output
# POLLS times over one keep-alive connection. Prints the server's RSS before, after half the
# polls and at the end (it must stay flat: a poll takes the unread output, the job keeps at
# most MYMCP_JOB_OUTPUT_MAX_BYTES per stream), the poll rate, and the bytes returned.
#
#   benches/jobs.sh [target/release/mymcp]
#   POLLS=10000 MAX_OUT=65536 benches/jobs.sh
# Needs: python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/mymcp}
POLLS=${POLLS:-10000}
MAX_OUT=${MAX_OUT:-65536}
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RW=tok_00000000000000000000000000bench1
ADMIN=tok_adminadminadminadminadmin0123456
# shellcheck source=benches/common.sh
. benches/common.sh
PORT=18960
start_server jobs "$PORT" "$BIN" "MYMCP_JOB_OUTPUT_MAX_BYTES=8388608"
pid=$(pgrep -f "serve -env-file $WORK/jobs/.env" | head -1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
echo "idle RSS $(rss) kB"
job=$(tool_call "$PORT" bash_execute '{"command":"yes mymcp-job-output-line","background":true,"timeout":600}' \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
echo "job $job started (yes: as fast as the pipe takes it)"
PORT=$PORT RW=$RW JOB=$job POLLS=$POLLS MAX_OUT=$MAX_OUT PID=$pid python3 - <<'PY'
import http.client, json, os, time
port, token, job = int(os.environ["PORT"]), os.environ["RW"], os.environ["JOB"]
polls, cap, pid = int(os.environ["POLLS"]), int(os.environ["MAX_OUT"]), os.environ["PID"]
def rss():
    with open(f"/proc/{pid}/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
conn = http.client.HTTPConnection("127.0.0.1", port)
body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
    "name": "job_output", "arguments": {"job_id": job, "max_output_bytes": cap}}})
headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
           "Authorization": f"Bearer {token}"}
returned, first = 0, rss()
start = time.monotonic()
for i in range(polls):
    conn.request("POST", "/mcp", body, headers)
    r = json.loads(conn.getresponse().read())
    returned += len(json.loads(r["result"]["content"][0]["text"])["stdout"])
    if i == polls // 2:
        half = rss()
secs = time.monotonic() - start
print(f"{polls} polls in {secs:.1f} s ({polls / secs:.0f}/s), {returned / 1e6:.0f} MB of output returned")
print(f"RSS after the first poll {first} kB, at half {half} kB, at the end {rss()} kB")
PY
tool_call "$PORT" job_kill "{\"job_id\":\"$job\",\"signal\":\"KILL\"}" >/dev/null
