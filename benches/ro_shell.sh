#!/usr/bin/env bash
# The cost of the ro shell's confinement (MYMCP_RO_SHELL): `true` calls per second at
# concurrency 8 for an rw token (unconfined) and an ro token (confined) on the same server,
# and, without a server, the helper alone (`mymcp confine-exec … -- true`: ruleset built per
# call, user switch, Landlock enforcement, exec) next to plain `bash -c true`.
#
#   sudo benches/ro_shell.sh            # DURATION=10 by default; needs root and Landlock ABI 6+
#
# Needs: wrk, hyperfine, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in wrk hyperfine curl; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done
[ "$(id -u)" = 0 ] || { echo "run as root: the ro shell switches users" >&2; exit 1; }
DURATION=${DURATION:-10}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cargo build --release --quiet
OURS=$PWD/target/release/mymcp
RW=tok_00000000000000000000000000bench1
RO=tok_00000000000000000000000000bench2
ADMIN=tok_00000000000000000000000000admin
PORT=18795

mkdir -p "$WORK/etc"
cat > "$WORK/etc/tokens.json" <<JSON
{"tokens":{"$RW":{"name":"rw","created_at":"x","last_used":null,"enabled":true,"role":"rw"},
"$RO":{"name":"ro","created_at":"x","last_used":null,"enabled":true,"role":"ro"}}}
JSON
printf 'MYMCP_HOST=127.0.0.1\nMYMCP_PORT=%s\nMYMCP_ADMIN_TOKEN=%s\nMYMCP_TOKEN_FILE=%s\nMYMCP_AUDIT_ENABLED=false\nMYMCP_AUDIT_LOG_DIR=%s\nMYMCP_RO_SHELL=true\n' \
  "$PORT" "$ADMIN" "$WORK/etc/tokens.json" "$WORK/log" > "$WORK/etc/.env"
"$OURS" serve --env-file "$WORK/etc/.env" >/dev/null 2>"$WORK/serve.log" &
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.05; done
grep -o 'confined ([^)]*)' "$WORK/serve.log" || true

# shellcheck source=benches/common.sh
. benches/common.sh
write_post_lua "$WORK/post.lua"
BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bash_execute","arguments":{"command":"true"}}}'
for who in rw ro; do
  tok=$([ $who = rw ] && echo "$RW" || echo "$RO")
  out=$(TOKEN=$tok BODY=$BODY wrk -t2 -c8 -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$PORT/mcp")
  printf '%-26s %8s req/s   p50 %s\n' "true, c=8, $who" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")"
done

echo "== the helper alone (one exec, ruleset built per call)"
mkdir -p "$WORK/tmp" && chown 65534:65534 "$WORK/tmp"
CONFINE="$OURS confine-exec --uid 65534 --gid 65534 --tmp $WORK/tmp --protect $WORK/etc --protect $WORK/log"
$CONFINE --probe
hyperfine -N --warmup 5 --runs 200 --style basic \
  -n "bash -c true" "/bin/bash -c true" \
  -n "confine-exec -- bash -c true" "$CONFINE -- /bin/bash -c true" 2>&1 | grep -E "^Benchmark|Time|±" || true
