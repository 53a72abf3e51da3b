#!/bin/sh
# Build the offline tarball for one architecture, reproducibly:
#   packaging/tarball/build.sh x86_64|aarch64 [OUTDIR]
# -> OUTDIR/mymcp-<version>-<arch>-linux.tar.gz (default OUTDIR target/dist) and a line in
#    OUTDIR/SHA256SUMS. The static binary is built first when missing. Same inputs and
#    SOURCE_DATE_EPOCH (default: the last commit's time) give the same bytes. PKG_PROFILE
#    picks the cargo profile (default release).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
ARCH=${1:?usage: build.sh x86_64|aarch64 [OUTDIR]}
OUTDIR=${2:-$ROOT/target/dist}
case "$ARCH" in x86_64|aarch64) ;; *) echo "build.sh: unknown arch $ARCH" >&2; exit 2 ;; esac
TRIPLE=$ARCH-unknown-linux-musl
PROFILE=${PKG_PROFILE:-release}
BIN=target/$TRIPLE/$PROFILE/mymcp
[ -x "$BIN" ] || cargo build --profile "$PROFILE" --locked --features otlp --target "$TRIPLE"
if readelf -l "$BIN" | grep -q INTERP; then
    echo "build.sh: $BIN has an ELF interpreter: not static" >&2
    exit 1
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
NAME=mymcp-$VERSION-$ARCH-linux
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
S=$WORK/$NAME
mkdir -p "$S/bin" "$S/share/man/man1" "$S/share/completions" "$S/systemd" "$S/etc" "$S/doc"
install -m 0755 "$BIN" "$S/bin/mymcp"
install -m 0644 packaging/man/*.1 "$S/share/man/man1/"
install -m 0644 completions/mymcp.bash completions/_mymcp completions/mymcp.fish "$S/share/completions/"
install -m 0644 packaging/systemd/mymcp.service packaging/systemd/mymcp-recorder.service "$S/systemd/"
install -m 0644 packaging/mymcp.env.example "$S/etc/"
install -m 0644 LICENSE README.md "$S/"
install -m 0644 docs/*.md "$S/doc/"
install -m 0755 packaging/tarball/install.sh packaging/tarball/uninstall.sh "$S/"
printf '%s\n' "$ARCH" > "$S/ARCH"
chmod 0644 "$S/ARCH"
(cd "$S" && find . -type f | LC_ALL=C sort | sed 's|^\./||' | xargs sha256sum > "$WORK/sums")
mv "$WORK/sums" "$S/SHA256SUMS"
chmod 0644 "$S/SHA256SUMS"
find "$S" -type d -exec chmod 0755 {} +
mkdir -p "$OUTDIR"
tar -C "$WORK" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$EPOCH" \
    --format=gnu -cf - "$NAME" | gzip -9n > "$OUTDIR/$NAME.tar.gz.tmp"
mv "$OUTDIR/$NAME.tar.gz.tmp" "$OUTDIR/$NAME.tar.gz"
SUMS=$OUTDIR/SHA256SUMS
touch "$SUMS"
grep -v " $NAME.tar.gz\$" "$SUMS" > "$SUMS.tmp" || true
(cd "$OUTDIR" && sha256sum "$NAME.tar.gz") >> "$SUMS.tmp"
LC_ALL=C sort -k2 "$SUMS.tmp" > "$SUMS" && rm -f "$SUMS.tmp"
echo "$OUTDIR/$NAME.tar.gz"
