#!/usr/bin/env bash
# What built-in HTTPS costs per request: tools/call read_file on a 1 KiB file at concurrency 32
# (wrk, loopback), the same binary serving plain HTTP and HTTPS side by side, interleaved over
# ROUNDS rounds. Two cases: keep-alive (the TLS record layer only) and one connection per
# request (`Connection: close`: a full handshake each time, what a client without connection
# reuse pays). Prints req/s per round, the medians and the HTTPS/HTTP ratio.
#
#   benches/tls.sh [BINARY]            # default target/release/mymcp
#   ROUNDS=5 DURATION=10 benches/tls.sh
# Needs: wrk (built with TLS, as Debian's), openssl, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/mymcp}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
for t in wrk openssl curl; do
  command -v "$t" >/dev/null || { echo "$t is missing: apt-get install $t" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "$BIN is missing: cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RW=tok_00000000000000000000000000bench1
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$WORK/file1k.txt"
# An ECDSA P-256 certificate, as certbot issues by default since 2.0.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 600 "$WORK/key.pem"
# shellcheck source=benches/common.sh
. benches/common.sh
write_post_lua "$WORK/post.lua"
READ='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"file_path":"'$WORK'/file1k.txt"}}}'

# start NAME PORT [EXTRA_ENV_LINES]: a server with the bench token, waits for /health.
start() {
  local d=$WORK/$1 scheme=http
  mkdir -p "$d"
  printf '{"tokens":{"%s":{"name":"b","created_at":"2026-01-01T00:00:00Z","last_used":null,"enabled":true,"role":"rw"}}}\n' "$RW" > "$d/tokens.json"
  printf 'MYMCP_HOST=127.0.0.1\nMYMCP_PORT=%s\nMYMCP_ADMIN_TOKEN=tok_adminadminadminadminadmin0123456\nMYMCP_TOKEN_FILE=%s\nMYMCP_AUDIT_ENABLED=false\nMYMCP_RECORDER_DATA_DIR=%s/rec\n%s\n' \
    "$2" "$d/tokens.json" "$d" "${3:-}" > "$d/.env"
  "$BIN" serve --env-file "$d/.env" 2>"$d/log" &
  [ -n "${3:-}" ] && scheme=https
  for _ in $(seq 100); do curl -skf "$scheme://127.0.0.1:$2/health" >/dev/null && return; sleep 0.05; done
  echo "$1 did not start:" >&2; cat "$d/log" >&2; exit 1
}
start http 18950
start https 18951 "MYMCP_TLS_CERT=$WORK/cert.pem
MYMCP_TLS_KEY=$WORK/key.pem"

declare -A RES
for round in $(seq "$ROUNDS"); do
  for mode in keepalive close; do
    hdr=(); [ "$mode" = close ] && hdr=(-H "Connection: close")
    for name in http https; do
      port=18950; [ "$name" = https ] && port=18951
      rps=$(TOKEN=$RW BODY=$READ wrk -t2 -c32 -d"${DURATION}s" "${hdr[@]}" -s "$WORK/post.lua" \
              "$name://127.0.0.1:$port/mcp" | awk '/Requests\/sec/ {print $2}')
      RES[$name,$mode]="${RES[$name,$mode]:-} $rps"
      echo "round $round  $mode  $name  $rps req/s"
    done
  done
done
echo
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for mode in keepalive close; do
  # shellcheck disable=SC2086 # the values are a space-separated list
  h=$(median ${RES[http,$mode]})
  # shellcheck disable=SC2086
  s=$(median ${RES[https,$mode]})
  echo "median  read_file 1 KiB, c=32, $mode:  http $h req/s  https $s req/s  https/http $(awk -v a="$s" -v b="$h" 'BEGIN {printf "%.2f", a / b}')"
done
for name in http https; do
  pid=$(pgrep -f "serve --env-file $WORK/$name/.env" | head -1)
  echo "peak RSS  $name  $(awk '/VmHWM/ {print $2}' "/proc/$pid/status") kB"
done
