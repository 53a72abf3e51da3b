#!/usr/bin/env bash
# Does the static (musl) build need another allocator? Runs builds of ours side by side,
# interleaved over ROUNDS rounds, on the two hot paths at concurrency 32 (wrk, loopback):
# tools/call read_file on 1 KiB and tools/list. Prints req/s per build and round, then medians.
#
#   benches/alloc.sh gnu=target/release/mymcp musl=target/x86_64-unknown-linux-musl/release/mymcp
#   ROUNDS=5 DURATION=5 benches/alloc.sh name=path ...
# Needs: wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
[ $# -ge 1 ] || { echo "usage: $0 name=binary ..." >&2; exit 2; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RW=tok_00000000000000000000000000bench1
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$WORK/file1k.txt"
# shellcheck source=benches/common.sh
. benches/common.sh
write_post_lua "$WORK/post.lua"
READ='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"file_path":"'$WORK'/file1k.txt"}}}'
LIST='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
declare -A RES
port=18900
for round in $(seq "$ROUNDS"); do
  for spec in "$@"; do
    name=${spec%%=*}; bin=${spec#*=}
    port=$((port + 1))
    d=$WORK/$name-$round; mkdir -p "$d"
    printf '{"tokens":{"%s":{"name":"b","created_at":"2026-01-01T00:00:00Z","last_used":null,"enabled":true,"role":"rw"}}}\n' "$RW" > "$d/tokens.json"
    printf 'MYMCP_HOST=127.0.0.1\nMYMCP_PORT=%s\nMYMCP_ADMIN_TOKEN=tok_adminadminadminadminadmin0123456\nMYMCP_TOKEN_FILE=%s\nMYMCP_AUDIT_ENABLED=false\nMYMCP_RECORDER_DATA_DIR=%s/rec\n' \
      "$port" "$d/tokens.json" "$d" > "$d/.env"
    "$bin" serve --env-file "$d/.env" 2>/dev/null &
    pid=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
    for kind in read list; do
      body=$READ; [ "$kind" = list ] && body=$LIST
      rps=$(TOKEN=$RW BODY=$body wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/post.lua" "http://127.0.0.1:$port/mcp" \
            | awk '/Requests\/sec/ {print $2}')
      RES[$name,$kind]="${RES[$name,$kind]:-} $rps"
      echo "round $round  $name  $kind  $rps req/s"
    done
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "round $round  $name  peak RSS ${rss} kB"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
echo
for spec in "$@"; do
  name=${spec%%=*}
  for kind in read list; do
    # shellcheck disable=SC2086 # the values are a space-separated list
    med=$(printf '%s\n' ${RES[$name,$kind]} | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "median  $name  $kind  $med req/s"
  done
done
