#!/bin/sh
# Mutation testing with cargo-mutants, for contributors (not run by CI: it takes minutes to hours).
#
#   packaging/ci/mutants.sh              mutants in the lines changed since main (committed or not)
#   packaging/ci/mutants.sh diff BASE    ... since BASE (a branch, tag or commit)
#   packaging/ci/mutants.sh security     every mutant of the security-critical modules
#
# Each mutant is one changed expression; a test must fail for it ("caught"). Results are in
# mutants.out/ (missed.txt lists what no test noticed). Builds without debug info: an
# incremental build of a mutant takes ~5 s instead of ~16 s. .cargo/mutants.toml skips
# equivalent mutants. Needs cargo-mutants
# (`cargo install --locked cargo-mutants`); extra arguments after the mode go to cargo-mutants.
set -eu
cd "$(dirname "$0")/../.."

case ${1:-} in -h|--help|help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
if ! cargo mutants --version >/dev/null 2>&1; then
  echo "cargo-mutants is not installed: cargo install --locked cargo-mutants" >&2
  exit 2
fi
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0

# The security-critical modules and the test areas that exercise them: their unit tests
# (module-name filters) and the integration areas that attack or use them.
# MUTANTS_FILES narrows the set (e.g. "src/guard.rs src/tokens.rs"), MUTANTS_TESTS the test
# filters. The integration tests mostly wait on the server, so they run 8 at a time.
SECURITY_FILES=${MUTANTS_FILES:-"src/guard.rs src/tokens.rs src/http/auth.rs src/hosts.rs src/tickets.rs src/tls.rs src/oauth.rs"}
SECURITY_TESTS=${MUTANTS_TESTS:-"guard:: tokens:: auth:: oauth:: hosts:: tickets:: tls:: security:: files:: read_file:: evidence:: search:: transfer:: operator:: server:: observability::"}

mode=${1:-diff}
[ $# -gt 0 ] && shift
case $mode in
  diff)
    base=${1:-main}
    [ $# -gt 0 ] && shift
    diff_file=$(mktemp)
    trap 'rm -f "$diff_file"' EXIT
    git diff "$base" -- src > "$diff_file"
    if [ ! -s "$diff_file" ]; then
      echo "no change under src/ since $base: nothing to mutate"
      exit 0
    fi
    # A change can touch anything: the whole suite decides.
    cargo mutants --in-diff "$diff_file" "$@"
    ;;
  security)
    for f in $SECURITY_FILES; do set -- "$@" --file "$f"; done
    # shellcheck disable=SC2086 # the test filters are separate words on purpose
    cargo mutants "$@" -- --lib --test it -- $SECURITY_TESTS --test-threads 8
    ;;
  *)
    echo "unknown mode '$mode' (diff [BASE] | security | help)" >&2
    exit 2
    ;;
esac
