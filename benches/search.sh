#!/usr/bin/env bash
# grep and glob on a generated tree: mymcp vs `rg` (parallel and `--sort path`) / `find`, and
# vs the reference binary (algony-mymcp 3.1.0, downloaded into a temp dir, never committed), in
# one run. Each server call is a `curl` to a running server, timed by hyperfine (curl's own
# start-up is in every server row alike; the first block measures it).
#
#   benches/search.sh              # 20,000 files of 40 lines (83 MB)
#   CORPUS=big benches/search.sh   # 50,000 files of 8-36 KB (1.2 GB, page cache warm), as in
#                                  # the grep-speed issue; the reference's many-matches row is
#                                  # left out there (it gathers every line: minutes, GBs of RSS)
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

CORPUS=${CORPUS:-small}
case $CORPUS in small) RUNS=10 ;; big) RUNS=5 ;; *) echo "CORPUS is small or big" >&2; exit 2 ;; esac
echo "== generating the tree ($CORPUS)" >&2
TREE=$WORK/tree
python3 - "$TREE" "$CORPUS" <<'EOF'
import os, random, sys
root, corpus = sys.argv[1], sys.argv[2]
words = "alpha beta gamma delta error warning info debug request response timeout retry".split()
if corpus == "small":
    random.seed(7)
    top, fatal = 20, 0.05

    def body():
        return "".join(" ".join(random.choice(words) for _ in range(8)) + "\n" for _ in range(40))
else:
    # Slices of one pool of lines: 1.2 GB in seconds instead of minutes of random.choice.
    random.seed(11)
    top, fatal = 50, 0.004
    pool = "".join(" ".join(random.choice(words) for _ in range(8)) + "\n" for _ in range(20000))

    def body():
        size = random.randint(8000, 36000)
        start = pool.index("\n", random.randint(0, len(pool) - size - 1)) + 1
        text = pool[start:start + size]
        return text[:text.rindex("\n") + 1]
n = 0
for a in range(top):
    for b in range(50):
        d = os.path.join(root, f"svc{a:02d}", f"mod{b:02d}")
        os.makedirs(d, exist_ok=True)
        for c in range(20):
            ext = random.choice(["log", "conf", "txt", "py"])
            with open(os.path.join(d, f"f{c:02d}.{ext}"), "w") as f:
                f.write(body())
                if random.random() < fatal:
                    f.write("FATAL disk quota exceeded on /var/lib/thing\n")
            n += 1
print(n, "files", file=sys.stderr)
EOF
# Warm the page cache: every row reads from memory.
rg -c zzzz "$TREE" >/dev/null || true

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

# What every row pays before any searching: a server row starts curl (its start-up is most of
# a small call), an rg row starts rg. Subtract these to compare the searches themselves.
echo "== start-up alone: curl and rg, on nothing / one small file" >&2
ONE=$(echo "$TREE"/svc00/mod00/f00.*)
hyperfine -N --warmup 5 --runs 30 --style basic \
  -n "curl --version" "curl --version" \
  -n "mymcp grep, one small file" "$(call 18791 grep "{\"pattern\":\"a\",\"path\":\"$ONE\"}")" \
  -n "rg, one small file" "rg -n a $ONE" 2>&1 | grep -E "^Benchmark|Time|±" || true

echo "== grep" >&2
hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
  -n "rg --sort path" "rg --sort path -n 'FATAL disk' $TREE" \
  -n "rg (parallel)" "rg -n 'FATAL disk' $TREE" \
  -n "mymcp grep" "$(call 18791 grep "$GREP_ARGS")" \
  -n "reference grep" "$(call 18792 grep "$GREP_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true

# grep_case NAME PATTERN RG_FLAGS EXTRA_ARGS_JSON [noref]: one grep case, the same search
# four ways (three with noref). EXTRA_ARGS_JSON is spliced into the tool's arguments.
grep_case() {
  local args="{\"pattern\":\"$2\",\"path\":\"$TREE\",$4}"
  local ref=(-n "reference grep" "$(call 18792 grep "$args")")
  [ "${5:-}" = noref ] && ref=()
  echo "== grep $1: $2" >&2
  hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
    -n "rg --sort path" "rg --sort path -n $3 '$2' $TREE" \
    -n "rg (parallel)" "rg -n $3 '$2' $TREE" \
    -n "mymcp grep" "$(call 18791 grep "$args")" \
    "${ref[@]}" 2>&1 | grep -E "^Benchmark|Time|±" || true
}
grep_case "regex" '(error|timeout) [a-z]+ retry$' "" '"max_results":500'
grep_case "case-insensitive" "fatal DISK" "-i" '"max_results":500,"case_insensitive":true'
MANY_REF=
if [ "$CORPUS" = big ]; then MANY_REF=noref; fi
grep_case "many matches (500 shown)" "error" "" '"max_results":500' "$MANY_REF"
grep_case "glob filter *.conf" "FATAL disk" "-g '*.conf'" '"max_results":5000,"glob":"*.conf"'
grep_case "files mode" "FATAL disk" "-l" '"output_mode":"files","max_results":5000'
grep_case "count mode" "FATAL disk" "-c" '"output_mode":"count","max_results":5000'

echo "== glob" >&2
hyperfine -N --warmup 2 --runs "$RUNS" --style basic \
  -n "find -name '*.conf'" "find $TREE -name '*.conf'" \
  -n "mymcp glob" "$(call 18791 glob "$GLOB_ARGS")" \
  -n "reference glob" "$(call 18792 glob "$GLOB_ARGS")" 2>&1 | grep -E "^Benchmark|Time|±" || true
