#!/bin/sh
# Offline checks of the Nix files: parse, deadnix, the module against a type-checking stub
# lib, and `nix flake check --no-build` against a stub nixpkgs. The real build and the NixOS
# VM test need nixpkgs and run in GitHub Actions (.github/workflows/ci.yml, job nix).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=packaging/ci/lib.sh
. "$ROOT/packaging/ci/lib.sh"
NIX_CONFIG='build-users-group =
experimental-features = nix-command flakes'
export NIX_CONFIG

step "tools"
apt_need nix-instantiate:nix-bin git:git
command -v deadnix >/dev/null 2>&1 || cargo install --locked deadnix@1.3.1

step "parse"
for f in flake.nix nix/*.nix nix/tests/*.nix nix/tests/stub-nixpkgs/*.nix; do
    nix-instantiate --parse "$f" >/dev/null || fail "nix parse: $f"
done
echo "  ok  every .nix file parses"
check "deadnix: no unused bindings" deadnix --fail flake.nix nix

step "pinned channel's Rust"
chan=$(sed -n 's|.*nixpkgs.url = "github:NixOS/nixpkgs/\([^"]*\)".*|\1|p' flake.nix)
need=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -1)
have=$(awk -v c="$chan" '$1 == c {print $2}' nix/channels.txt)
[ -n "$have" ] || fail "nix/channels.txt has no rustc for the pinned channel $chan"
[ "$(printf '%s\n%s\n' "$need" "$have" | sort -V | head -1)" = "$need" ] \
    || fail "flake.nix pins $chan, whose rustc $have is older than rust-version $need"
echo "  ok  $chan ships rustc $have (rust-version $need)"

step "module against the stub lib"
nix-instantiate --eval --strict --json nix/tests/module-eval.nix > "$CACHE/module-eval.json" \
    || fail "module eval"
echo "  ok  $(tr ',' '\n' < "$CACHE/module-eval.json" | grep -c .) module checks"

step "flake outputs against the stub nixpkgs"
# A flake in a git checkout only sees tracked files; CI runs on a clean clone.
git config --global --add safe.directory "$ROOT" 2>/dev/null || true
nix flake check --no-build --no-write-lock-file \
    --override-input nixpkgs path:./nix/tests/stub-nixpkgs > "$CACHE/flake-check.log" 2>&1 \
    || { cat "$CACHE/flake-check.log"; fail "nix flake check"; }
echo "  ok  nix flake check --no-build (packages, overlay, modules, checks)"
step "nix checks passed"
