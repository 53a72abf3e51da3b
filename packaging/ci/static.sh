#!/bin/sh
# Static musl builds for x86_64 and aarch64, the offline tarballs, and their install tests:
# no ELF interpreter; the aarch64 binary serves /health and tools/list under qemu-user;
# tarballs are reproducible; install.sh/uninstall.sh work into a DESTDIR and for real in a
# Debian chroot, all inside `unshare -n` (no network).
#
# Usage: packaging/ci/static.sh   (from .ci/run, as root)
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
WORK=$(mktemp -d /tmp/mymcp-static.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=packaging/ci/lib.sh
. "$ROOT/packaging/ci/lib.sh"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

step "tools"
apt_need qemu-aarch64-static:qemu-user-static readelf:binutils curl:curl unshare:util-linux \
    musl-gcc:musl-tools aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu
# musl's aarch64 headers for ring and mimalloc (see packaging/musl/aarch64-linux-musl-gcc).
if [ ! -f /usr/lib/aarch64-linux-musl/musl-gcc.specs ]; then
    dpkg --add-architecture arm64
    apt_need /nonexistent/force:musl-dev:arm64
fi
rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl >/dev/null 2>&1 || true

step "static builds"
PROFILE=${PKG_PROFILE:-release}
export PKG_PROFILE="$PROFILE"
for arch in x86_64 aarch64; do
    cargo build --profile "$PROFILE" --locked --features otlp --target "$arch-unknown-linux-musl"
    bin=target/$arch-unknown-linux-musl/$PROFILE/mymcp
    if readelf -l "$bin" | grep -q INTERP; then fail "$bin has an ELF interpreter"; fi
    echo "  ok  $arch: static, no INTERP, $(wc -c < "$bin") bytes"
done
check "x86_64 static binary runs" sh -c \
    "target/x86_64-unknown-linux-musl/$PROFILE/mymcp --version | grep -qx 'mymcp $VERSION'"
A64=target/aarch64-unknown-linux-musl/$PROFILE/mymcp
check "aarch64 binary runs under qemu-user" sh -c \
    "qemu-aarch64-static $A64 --version | grep -qx 'mymcp $VERSION'"

step "aarch64 server under qemu-user: /health and tools/list on loopback"
cd "$WORK"
qemu-aarch64-static "$ROOT/$A64" serve --port 0 2> "$WORK/a64.log" &
A64PID=$!
addr=""
for _ in $(seq 100); do
    addr=$(sed -n 's/^\[mymcp\] serving on //p' "$WORK/a64.log")
    [ -n "$addr" ] && break
    sleep 0.1
done
cd "$ROOT"
[ -n "$addr" ] || { cat "$WORK/a64.log"; fail "aarch64 server did not start"; }
tok=$(sed -n 's/^\[mymcp\] temp rw token: *//p' "$WORK/a64.log")
check "aarch64 /health" sh -c "curl -sf http://$addr/health >/dev/null"
n=$(curl -s "http://$addr/mcp" -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" \
    -d '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | grep -o '"inputSchema"' | wc -l)
kill "$A64PID"
wait "$A64PID" || true
# The reference's nine tools and the three job tools.
[ "$n" = 12 ] || fail "aarch64 tools/list gave $n tools"
echo "  ok  aarch64 tools/list: 12 tools"

step "tarballs (built twice: must be byte-identical)"
for arch in x86_64 aarch64; do
    packaging/tarball/build.sh "$arch" "$WORK/dist1" >/dev/null
    touch README.md   # a newer mtime on an input must not change the output
    packaging/tarball/build.sh "$arch" "$WORK/dist2" >/dev/null
done
check "reproducible: same SHA256SUMS from two builds" cmp "$WORK/dist1/SHA256SUMS" "$WORK/dist2/SHA256SUMS"
mkdir -p target/dist
cp "$WORK/dist1"/* target/dist/
cat target/dist/SHA256SUMS
check "sha256sum -c of the release sums" sh -c "cd target/dist && sha256sum -c --quiet SHA256SUMS"
X=mymcp-$VERSION-x86_64-linux
tar -C "$WORK" -xzf "target/dist/$X.tar.gz"
check "tarball contents verify (inner SHA256SUMS)" sh -c "cd '$WORK/$X' && sha256sum -c --quiet SHA256SUMS"
for f in bin/mymcp share/man/man1/mymcp-init.1 share/completions/_mymcp systemd/mymcp.service \
         etc/mymcp.env.example LICENSE README.md doc/operations.md doc/install.md install.sh uninstall.sh; do
    [ -e "$WORK/$X/$f" ] || fail "tarball lacks $f"
done
echo "  ok  tarball has binary, man pages, completions, unit, example env, LICENSE, README, docs, scripts"

step "install.sh into a DESTDIR, without network"
for script in install.sh uninstall.sh; do
    check "$script --help is the header comment, nothing else" sh -c \
        "'$WORK/$X/$script' --help | grep -q -- --prefix && ! '$WORK/$X/$script' --help | grep -q 'set -eu'"
done
D=$WORK/stage
unshare -n "$WORK/$X/install.sh" --prefix /opt/mymcp --destdir "$D" >/dev/null
check "staged binary runs" sh -c "'$D/opt/mymcp/bin/mymcp' --version | grep -qx 'mymcp $VERSION'"
check "staged modes: binary 755, pages 644" sh -c \
    "[ \"\$(stat -c %a '$D/opt/mymcp/bin/mymcp') \$(stat -c %a '$D/opt/mymcp/share/man/man1/mymcp.1')\" = '755 644' ]"
check "unit points at the prefix" grep -qx 'ExecStart=/opt/mymcp/bin/mymcp serve --env-file /etc/mymcp/.env' \
    "$D/etc/systemd/system/mymcp.service"
check "staging writes no secrets" test ! -e "$D/etc/mymcp/.env"
unshare -n "$D/opt/mymcp/share/mymcp/uninstall.sh" --prefix /opt/mymcp --destdir "$D" --purge >/dev/null
left=$(find "$D" -mindepth 1 | head -5)
[ -z "$left" ] || fail "uninstall left: $left"
echo "  ok  uninstall --purge leaves the DESTDIR empty"
A=mymcp-$VERSION-aarch64-linux
tar -C "$WORK" -xzf "target/dist/$A.tar.gz"
MYMCP_IGNORE_ARCH=1 unshare -n "$WORK/$A/install.sh" --prefix /usr/local --destdir "$WORK/a64" >/dev/null
check "aarch64 tarball's staged binary runs under qemu" sh -c \
    "qemu-aarch64-static '$WORK/a64/usr/local/bin/mymcp' --version | grep -qx 'mymcp $VERSION'"
check "install.sh refuses the wrong architecture" sh -c \
    "! '$WORK/$A/install.sh' --destdir '$WORK/wrong' 2>/dev/null"

step "install.sh for real in a Debian chroot, without network"
R=$WORK/root
new_root "$R"
find "$R" -xdev | LC_ALL=C sort > "$WORK/before"
cp -a "$WORK/$X" "$R/tmp/"
unshare -n chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "/tmp/$X/install.sh" >/dev/null
check "user mymcp created" sh -c "chroot '$R' getent passwd mymcp >/dev/null"
check ".env 0600 root, dir 0750" sh -c \
    "[ \"\$(stat -c '%a %U' '$R/etc/mymcp/.env') \$(stat -c %a '$R/etc/mymcp')\" = '600 root 750' ]"
check "installed binary runs" sh -c "chroot '$R' /usr/local/bin/mymcp --version | grep -qx 'mymcp $VERSION'"
check "man page found by path" test -s "$R/usr/local/share/man/man1/mymcp-doctor.1"
check "guides installed" test -s "$R/usr/local/share/doc/mymcp/operations.md"
echo "# local edit" >> "$R/etc/mymcp/.env"
sum=$(sha256sum < "$R/etc/mymcp/.env")
unshare -n chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "/tmp/$X/install.sh" >/dev/null
check "re-install keeps the config" sh -c "[ \"\$(sha256sum < '$R/etc/mymcp/.env')\" = '$sum' ]"
unshare -n chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    /usr/local/share/mymcp/uninstall.sh --purge >/dev/null
rm -rf "${R:?}/tmp/$X"
find "$R" -xdev | LC_ALL=C sort > "$WORK/after"
# useradd/userdel rewrite these (content restored, but backup copies may appear).
diff "$WORK/before" "$WORK/after" | grep -v -E '^[<>] .*/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$' \
    | grep '^[<>]' > "$WORK/diff" || true
[ ! -s "$WORK/diff" ] || { cat "$WORK/diff"; fail "uninstall --purge left differences"; }
check "user removed by --purge" sh -c "! chroot '$R' getent passwd mymcp >/dev/null"
echo "  ok  install + uninstall --purge leave the root as it was"
step "static builds and tarballs passed"
