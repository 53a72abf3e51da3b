#!/usr/bin/env bash
# What an OAuth access token costs per request next to a static token: tools/call read_file
# on a 1 KiB file at concurrency 32 (wrk, loopback), one server with MYMCP_OAUTH_ISSUER pointing
# at the test authorization server (oidc-provider, tests/oauth/as.mjs), interleaved over ROUNDS
# rounds with three tokens: a static token (a hash lookup), an ES256 JWT (a signature check per
# request), an opaque token (introspected once, then a cache hit). Prints req/s per round, the
# medians and the ratios to the static token.
#
#   benches/oauth.sh [BINARY]          # default target/release/mymcp
#   ROUNDS=5 DURATION=10 benches/oauth.sh
# Needs: wrk, curl, node + `npm ci` in tests/oauth.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/mymcp}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
for t in wrk curl node; do
  command -v "$t" >/dev/null || { echo "$t is missing" >&2; exit 1; }
done
[ -x "$BIN" ] || { echo "$BIN is missing: cargo build --release" >&2; exit 1; }
[ -d tests/oauth/node_modules ] || (cd tests/oauth && npm ci --silent --no-audit --no-fund)
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RW=tok_00000000000000000000000000bench1
AUD=https://bench.test/mcp
PORT=18960
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$WORK/file1k.txt"
# shellcheck source=benches/common.sh
. benches/common.sh
write_post_lua "$WORK/post.lua"
READ='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"file_path":"'$WORK'/file1k.txt"}}}'

node tests/oauth/as.mjs > "$WORK/as.out" 2>/dev/null &
for _ in $(seq 100); do [ -s "$WORK/as.out" ] && break; sleep 0.05; done
ISSUER=$(sed -n 's/.*"issuer":"\([^"]*\)".*/\1/p' "$WORK/as.out")
printf '{"tokens":{"%s":{"name":"b","created_at":"2026-01-01T00:00:00Z","last_used":null,"enabled":true,"role":"rw"}}}\n' "$RW" > "$WORK/tokens.json"
printf 'MYMCP_HOST=127.0.0.1\nMYMCP_PORT=%s\nMYMCP_ADMIN_TOKEN=tok_adminadminadminadminadmin0123456\nMYMCP_TOKEN_FILE=%s\nMYMCP_AUDIT_ENABLED=false\nMYMCP_RECORDER_DATA_DIR=%s/rec\nMYMCP_OAUTH_ISSUER=%s\nMYMCP_OAUTH_AUDIENCE=%s\nMYMCP_OAUTH_CLIENT_ID=mymcp\nMYMCP_OAUTH_CLIENT_SECRET=mymcp-secret\n' \
  "$PORT" "$WORK/tokens.json" "$WORK" "$ISSUER" "$AUD" > "$WORK/.env"
"$BIN" serve --env-file "$WORK/.env" 2>"$WORK/log" &
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"ready":true' && break; sleep 0.05; done
token() {
  curl -sf -u "$1" -d grant_type=client_credentials -d scope=mymcp:rw -d "resource=$AUD" "$ISSUER/token" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
JWT=$(token agent:agent-secret)
OPAQUE=$(token opaque-agent:opaque-secret)

declare -A RES
for round in $(seq "$ROUNDS"); do
  for name in static jwt opaque; do
    case $name in static) tok=$RW ;; jwt) tok=$JWT ;; opaque) tok=$OPAQUE ;; esac
    rps=$(TOKEN=$tok BODY=$READ wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/post.lua" \
            "http://127.0.0.1:$PORT/mcp" | awk '/Requests\/sec/ {print $2}')
    RES[$name]="${RES[$name]:-} $rps"
    echo "round $round  $name  $rps req/s"
  done
done
echo
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# shellcheck disable=SC2086 # the values are a space-separated list
base=$(median ${RES[static]})
for name in static jwt opaque; do
  # shellcheck disable=SC2086
  m=$(median ${RES[$name]})
  echo "median  read_file 1 KiB, c=32, $name token:  $m req/s  ($(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2f", a / b}') of static)"
done
grep -c 'refused' "$WORK/log" | xargs echo "refusals logged:"
