#!/usr/bin/env bash
# Side-by-side benchmark of mymcp and the reference (algony-mymcp 3.1.0, Go), in one run.
#
#   benches/bench.sh            # 10 s per wrk run
#   DURATION=5 benches/bench.sh
#   OURS_BIN=target/x86_64-unknown-linux-musl/release/mymcp benches/bench.sh
#
# Measures, for each server: requests/s and p50/p99 latency of `tools/call read_file` on a
# 1 KiB file and of `tools/list`, at concurrency 1 and 32 (wrk, keep-alive, loopback); idle RSS
# after start-up and one request; start-up time from exec to the first 200 from /health
# (median of 15); for bash_execute, peak RSS while `yes | head -c 500000000` runs through one
# call, and `true` calls per second at concurrency 8. The reference binary is downloaded from PyPI into a temp dir, never committed.
# Needs: wrk (apt-get install wrk), python3 with pip, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

# OURS_BIN=path benches another build of ours (e.g. the static musl binary).
if [ -n "${OURS_BIN:-}" ]; then
  OURS=$(realpath "$OURS_BIN")
else
  echo "== building mymcp (release)" >&2
  cargo build --release --quiet
  OURS=$PWD/target/release/mymcp
fi

echo "== fetching the reference binary" >&2
python3 -m pip download --quiet --no-deps -d "$WORK/ref" algony-mymcp==3.1.0
(cd "$WORK/ref" && python3 -m zipfile -e ./*.whl . )
REF=$WORK/ref/algony_mymcp-3.1.0.data/scripts/mymcp
chmod +x "$REF"

RW=tok_00000000000000000000000000bench1
ADMIN=tok_00000000000000000000000000admin
head -c 1024 /dev/urandom | base64 -w 64 | head -c 1024 > "$WORK/file1k.txt"

setup() { # name port -> env file path
  local d=$WORK/$1; mkdir -p "$d"
  # The reference's token file format: both servers load it unchanged.
  cat > "$d/tokens.json" <<EOF
{"tokens":{"$RW":{"name":"bench","created_at":"2026-01-01T00:00:00Z","last_used":null,"enabled":true,"role":"rw"}},"admin_token":"$ADMIN"}
EOF
  cat > "$d/.env" <<EOF
MYMCP_HOST=127.0.0.1
MYMCP_PORT=$2
MYMCP_ADMIN_TOKEN=$ADMIN
MYMCP_TOKEN_FILE=$d/tokens.json
MYMCP_AUDIT_ENABLED=false
MYMCP_AUDIT_LOG_DIR=$d/log
MYMCP_RECORDER_DATA_DIR=$d/rec
EOF
  echo "$d/.env"
}

# shellcheck source=benches/common.sh
. benches/common.sh
write_post_lua "$WORK/post.lua"

cat > "$WORK/startup.py" <<'EOF'
import os, socket, statistics, subprocess, sys, time
binary, env_file, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = {k: v for k, v in os.environ.items() if not k.startswith("MYMCP_")}
req = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
times = []
for _ in range(15):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "-env-file", env_file], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(req)
                if b" 200 " in s.recv(4096):
                    break
        except OSError:
            pass
        if time.perf_counter() - t0 > 10:
            raise SystemExit("no /health within 10 s")
    times.append((time.perf_counter() - t0) * 1000)
    p.terminate(); p.wait()
print(f"{statistics.median(times):.1f}")
EOF

run_wrk() { # port conc body -> "rps p50 p99 non2xx"
  local out
  out=$(TOKEN=$RW BODY=$3 wrk -t"$(( $2 > 1 ? 2 : 1 ))" -c"$2" -d"${DURATION}s" --latency \
        -s "$WORK/post.lua" "http://127.0.0.1:$1/mcp")
  local rps p50 p99 bad
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $5}' <<<"$out"); bad=${bad:-0}
  echo "$rps $p50 $p99 $bad"
}

run_wrk8() { # port body -> "rps p50 p99 non2xx" at concurrency 8
  local out
  out=$(TOKEN=$RW BODY=$2 wrk -t2 -c8 -d"${DURATION}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$1/mcp")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") - - -"
}

READ_BODY=$(printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":{"file_path":"%s"}}}' "$WORK/file1k.txt")
LIST_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/list"}'

declare -A R
for impl in ours ref; do
  port=$([ $impl = ours ] && echo 18781 || echo 18782)
  bin=$([ $impl = ours ] && echo "$OURS" || echo "$REF")
  env_file=$(setup "$impl" "$port")
  R[$impl,startup]=$(python3 "$WORK/startup.py" "$bin" "$env_file" "$port")
  env -u MYMCP_ENV_FILE "$bin" serve -env-file "$env_file" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
  TOKEN=$RW curl -fs "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $RW" \
    -d "$READ_BODY" | grep -q '   1' || { echo "$impl: read_file sanity check failed" >&2; exit 1; }
  R[$impl,rss]=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' /proc/$pid/status)
  for c in 1 32; do
    R[$impl,read,$c]=$(run_wrk "$port" "$c" "$READ_BODY")
    R[$impl,list,$c]=$(run_wrk "$port" "$c" "$LIST_BODY")
  done
  R[$impl,peak]=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status)
  kill $pid; wait $pid 2>/dev/null || true
done

# bash_execute: a fresh server each, peak RSS while 500 MB of output goes through one call,
# then `true` calls per second at concurrency 8.
YES_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bash_execute","arguments":{"command":"yes | head -c 500000000","timeout":120}}}'
TRUE_BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bash_execute","arguments":{"command":"true"}}}'
for impl in ours ref; do
  port=$([ $impl = ours ] && echo 18783 || echo 18784)
  bin=$([ $impl = ours ] && echo "$OURS" || echo "$REF")
  env_file=$(setup "${impl}-bash" "$port")
  env -u MYMCP_ENV_FILE "$bin" serve -env-file "$env_file" >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
  curl -fs "http://127.0.0.1:$port/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Authorization: Bearer $RW" \
    -d "$YES_BODY" -o /dev/null
  R[$impl,yespeak]=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$pid/status)
  read -r tr _ _ _ <<<"$(run_wrk8 "$port" "$TRUE_BODY")"
  R[$impl,true]=$tr
  kill $pid; wait $pid 2>/dev/null || true
done

printf '\n%-28s %14s %14s %8s\n' "metric" "mymcp" "reference" "ratio"
row() { printf '%-28s %14s %14s %8s\n' "$1" "$2" "$3" "$4"; }
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}x' if b else '-')" "$1" "$2"; }
for op in read list; do
  for c in 1 32; do
    read -r o50 <<<"$(cut -d' ' -f1 <<<"${R[ours,$op,$c]}")"
    read -r r50 <<<"$(cut -d' ' -f1 <<<"${R[ref,$op,$c]}")"
    row "$op c=$c req/s" "$o50" "$r50" "$(ratio "$o50" "$r50")"
    row "$op c=$c p50" "$(cut -d' ' -f2 <<<"${R[ours,$op,$c]}")" "$(cut -d' ' -f2 <<<"${R[ref,$op,$c]}")" ""
    row "$op c=$c p99" "$(cut -d' ' -f3 <<<"${R[ours,$op,$c]}")" "$(cut -d' ' -f3 <<<"${R[ref,$op,$c]}")" ""
    row "$op c=$c non-2xx" "$(cut -d' ' -f4 <<<"${R[ours,$op,$c]}")" "$(cut -d' ' -f4 <<<"${R[ref,$op,$c]}")" ""
  done
done
row "idle RSS (MB)" "${R[ours,rss]}" "${R[ref,rss]}" ""
row "peak RSS under load (MB)" "${R[ours,peak]}" "${R[ref,peak]}" ""
row "start-up to /health (ms)" "${R[ours,startup]}" "${R[ref,startup]}" ""
row "bash: peak RSS, 500 MB out (MB)" "${R[ours,yespeak]}" "${R[ref,yespeak]}" ""
row "bash: true calls/s, c=8" "${R[ours,true]}" "${R[ref,true]}" "$(ratio "${R[ours,true]}" "${R[ref,true]}")"
