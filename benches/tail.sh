#!/usr/bin/env bash
# The tail of a large file: `read_file` with offset -100 on a 2 GiB log, next to `tail -n 100`
# and to the reference (algony-mymcp 3.1.0, downloaded into a temp dir, never committed),
# which has no negative offsets: it is given the positive offset of the same 100 lines. Also
# the server's peak RSS after the reads (memory stays bounded by the window, not the file).
#
#   benches/tail.sh              # SIZE_MB=2048 by default
#   SIZE_MB=512 benches/tail.sh
#
# Needs: hyperfine, curl, python3 with pip (apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in hyperfine curl; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
SIZE_MB=${SIZE_MB:-2048}

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cargo build --release --quiet
OURS=$PWD/target/release/mymcp
RW=tok_00000000000000000000000000bench1
ADMIN=tok_00000000000000000000000000admin
# shellcheck source=benches/common.sh
. benches/common.sh
REF=$(fetch_reference)

echo "== generating a ${SIZE_MB} MiB log" >&2
LOG=$WORK/big.log
python3 - "$LOG" "$SIZE_MB" <<'PY'
import sys
path, mb = sys.argv[1], int(sys.argv[2])
line = "2026-11-30T00:00:00Z host app[1234]: request id=%09d status=200 bytes=5120 took=12ms\n"
block = "".join(line % i for i in range(10000)).encode()
with open(path, "wb") as f:
    for _ in range(mb * 1024 * 1024 // len(block) + 1):
        f.write(block)
PY
LINES=$(wc -l < "$LOG")
echo "$(du -h "$LOG" | cut -f1), $LINES lines" >&2

start_server ours 18793 "$OURS"
start_server ref 18794 "$REF"

call() { # port args-json
  printf "curl -fsS -o /dev/null http://127.0.0.1:%s/mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'Authorization: Bearer %s' -d '%s'" \
    "$1" "$RW" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"read_file\",\"arguments\":$2}}"
}
OURS_ARGS="{\"file_path\":\"$LOG\",\"offset\":-100}"
REF_ARGS="{\"file_path\":\"$LOG\",\"offset\":$((LINES - 99)),\"limit\":100}"

# Sanity: the same last line from both, and from tail.
want=$(tail -n 1 "$LOG")
last_line() { # port args-json
  tool_call "$1" read_file "$2" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["content"].splitlines()[-1].split("\t",1)[1])'
}
for got in "$(last_line 18793 "$OURS_ARGS")" "$(last_line 18794 "$REF_ARGS")"; do
  [ "$got" = "$want" ] || { echo "last line differs: $got" >&2; exit 1; }
done

echo "== last 100 lines of a ${SIZE_MB} MiB file (page cache warm)" >&2
hyperfine -N --warmup 1 --runs "${RUNS:-10}" --style basic \
  -n "tail -n 100" "tail -n 100 $LOG" \
  -n "mymcp read_file offset=-100" "$(call 18793 "$OURS_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true
hyperfine -N --warmup 0 --runs "${REF_RUNS:-3}" --style basic \
  -n "reference read_file offset=$((LINES - 99))" "$(call 18794 "$REF_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true

echo "== peak RSS of each server after the reads" >&2
for port in 18793 18794; do
  pid=$(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
  echo "port $port: $(grep VmHWM "/proc/$pid/status")"
done
