#!/usr/bin/env bash
# 1 GB upload and download through /files/raw/{ticket}: mymcp vs a plain local copy (cp) vs
# the reference binary (downloaded into a temp dir, never committed), in one run.
#
#   benches/transfer.sh          # SIZE_MB=1024 by default; ORDER="ref ours" to swap
#
# Disk writeback from the previous step weighs on whoever runs first (measured: the same
# binary moved from 169 to 518 MB/s upload just by going second), so compare both orders.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-1024}
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
RW=tok_00000000000000000000000000bench1
ADMIN=tok_00000000000000000000000000admin
# shellcheck source=benches/common.sh
. benches/common.sh
cargo build --release --quiet
REF=$(fetch_reference)
start_server ours 18793 "$PWD/target/release/mymcp"
start_server ref 18794 "$REF"
mkdir -p "$WORK/files"
head -c $((SIZE_MB << 20)) /dev/urandom > "$WORK/files/src.bin"
sync

secs() { python3 -c 'import sys,time; print(f"{time.time():.3f}")'; }
mbps() { python3 -c "import sys; print(f'{$SIZE_MB/($2-$1):.0f}')"; }
url_of() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["url"])'; }

t0=$(secs); cp "$WORK/files/src.bin" "$WORK/files/copy.bin"; sync; t1=$(secs)
echo "plain cp:          $(mbps "$t0" "$t1") MB/s"
for impl in ${ORDER:-ours ref}; do
  port=$([ "$impl" = ours ] && echo 18793 || echo 18794)
  u=$(tool_call "$port" prepare_upload "{\"dest_path\":\"$WORK/files/up-$impl.bin\"}" | url_of)
  case $u in http*) ;; *) u="http://127.0.0.1:$port$u" ;; esac
  t0=$(secs); curl -fsS -T "$WORK/files/src.bin" "$u" >/dev/null; sync; t1=$(secs)
  d=$(tool_call "$port" prepare_download "{\"src_path\":\"$WORK/files/src.bin\"}" | url_of)
  case $d in http*) ;; *) d="http://127.0.0.1:$port$d" ;; esac
  t2=$(secs); curl -fsS "$d" -o "$WORK/files/down-$impl.bin"; sync; t3=$(secs)
  # The same download into /dev/null: what the server sends, without curl's own disk writes.
  n=$(tool_call "$port" prepare_download "{\"src_path\":\"$WORK/files/src.bin\"}" | url_of)
  case $n in http*) ;; *) n="http://127.0.0.1:$port$n" ;; esac
  t4=$(secs); curl -fsS "$n" -o /dev/null; t5=$(secs)
  cmp -s "$WORK/files/src.bin" "$WORK/files/up-$impl.bin" || echo "$impl: upload differs!"
  cmp -s "$WORK/files/src.bin" "$WORK/files/down-$impl.bin" || echo "$impl: download differs!"
  printf '%-18s upload %s MB/s, download to file %s MB/s, download to /dev/null %s MB/s\n' \
    "$impl:" "$(mbps "$t0" "$t1")" "$(mbps "$t2" "$t3")" "$(mbps "$t4" "$t5")"
  rm -f "$WORK/files/up-$impl.bin" "$WORK/files/down-$impl.bin"
done
