#!/usr/bin/env bash
# grep and glob on a generated tree of ~20k files: mymcp vs `rg --sort path` / `find`, and vs
# the reference binary (algony-mymcp 3.1.0, downloaded into a temp dir, never committed), in
# one run. Each server call is a `curl` to a running server, timed by hyperfine (curl's own
# start-up is in every row alike).
#
#   benches/search.sh
#
# Needs: hyperfine, ripgrep, curl, python3 with pip (apt-get install hyperfine ripgrep).
set -euo pipefail
cd "$(dirname "$0")/.."
for t in hyperfine rg curl; do command -v $t >/dev/null || { echo "missing: $t" >&2; exit 1; }; done

WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
cargo build --release --quiet
OURS=$PWD/target/release/mymcp
RW=tok_00000000000000000000000000bench1
ADMIN=tok_00000000000000000000000000admin
# shellcheck source=benches/common.sh
. benches/common.sh
REF=$(fetch_reference)

echo "== generating the tree" >&2
TREE=$WORK/tree
python3 - "$TREE" <<'EOF'
import os, random, sys
root = sys.argv[1]
random.seed(7)
words = "alpha beta gamma delta error warning info debug request response timeout retry".split()
n = 0
for a in range(20):
    for b in range(50):
        d = os.path.join(root, f"svc{a:02d}", f"mod{b:02d}")
        os.makedirs(d, exist_ok=True)
        for c in range(20):
            ext = random.choice(["log", "conf", "txt", "py"])
            with open(os.path.join(d, f"f{c:02d}.{ext}"), "w") as f:
                for _ in range(40):
                    f.write(" ".join(random.choice(words) for _ in range(8)) + "\n")
                if random.random() < 0.05:
                    f.write("FATAL disk quota exceeded on /var/lib/thing\n")
            n += 1
print(n, "files", file=sys.stderr)
EOF

start_server ours 18791 "$OURS" MYMCP_GREP_MAX_RESULTS=5000
start_server ref 18792 "$REF" MYMCP_GREP_MAX_RESULTS=5000

call() { # port tool args-json
  printf "curl -fsS -o /dev/null http://127.0.0.1:%s/mcp -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'Authorization: Bearer %s' -d '%s'" \
    "$1" "$RW" "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"$2\",\"arguments\":$3}}"
}
GREP_ARGS="{\"pattern\":\"FATAL disk\",\"path\":\"$TREE\",\"max_results\":5000}"
GLOB_ARGS="{\"pattern\":\"**/*.conf\",\"path\":\"$TREE\"}"

# Sanity: both find the same number of matches.
for p in 18791 18792; do
  curl -fsS "http://127.0.0.1:$p/mcp" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -H "Authorization: Bearer $RW" -d "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"grep\",\"arguments\":$GREP_ARGS}}" \
    | grep -o 'match_count[^,]*' | head -1
done
echo "rg: $(rg --sort path -c 'FATAL disk' "$TREE" | wc -l) files"

echo "== grep" >&2
hyperfine -N --warmup 2 --runs 10 --style basic \
  -n "rg --sort path" "rg --sort path -n 'FATAL disk' $TREE" \
  -n "rg (parallel)" "rg -n 'FATAL disk' $TREE" \
  -n "mymcp grep" "$(call 18791 grep "$GREP_ARGS")" \
  -n "reference grep" "$(call 18792 grep "$GREP_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true

for case in "regex|(error|timeout) [a-z]+ retry\$|false" "case-insensitive|fatal DISK|true" "many matches (500 shown)|error|false"; do
  name=${case%%|*}; rest=${case#*|}; pat=${rest%|*}; ci=${rest##*|}
  args="{\"pattern\":\"$pat\",\"path\":\"$TREE\",\"max_results\":500,\"case_insensitive\":$ci}"
  flag=$([ "$ci" = true ] && echo "-i" || echo "")
  echo "== grep $name: $pat" >&2
  hyperfine -N --warmup 2 --runs 10 --style basic \
    -n "rg --sort path" "rg --sort path -n $flag '$pat' $TREE" \
    -n "rg (parallel)" "rg -n $flag '$pat' $TREE" \
    -n "mymcp grep" "$(call 18791 grep "$args")" \
    -n "reference grep" "$(call 18792 grep "$args")" 2>&1 | grep -E "^Benchmark|Time|±" || true
done

echo "== glob" >&2
hyperfine -N --warmup 2 --runs 10 --style basic \
  -n "find -name '*.conf'" "find $TREE -name '*.conf'" \
  -n "mymcp glob" "$(call 18791 glob "$GLOB_ARGS")" \
  -n "reference glob" "$(call 18792 glob "$GLOB_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true
