#!/bin/sh
# Install mymcp from this offline tarball. POSIX sh; needs no network.
#
#   ./install.sh [--prefix DIR] [--destdir DIR] [--no-user] [--no-systemd] [--no-start]
#
# --prefix DIR   where bin/, share/ go (default /usr/local)
# --destdir DIR  stage into DIR instead of / (also $DESTDIR); staging never creates users,
#                generates secrets or calls systemctl
# --no-user      do not create the mymcp system user
# --no-systemd   install the unit file but do not enable or start it
# --no-start     enable the unit but do not start it
set -eu

PREFIX=/usr/local
DESTDIR=${DESTDIR:-}
MAKE_USER=1
SYSTEMD=1
START=1
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#--destdir=}; shift ;;
        --no-user) MAKE_USER=0; shift ;;
        --no-systemd) SYSTEMD=0; shift ;;
        --no-start) START=0; shift ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$PREFIX" in /*) ;; *) echo "install.sh: --prefix must be absolute: $PREFIX" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
ARCH=$(cat "$HERE/ARCH")
MACHINE=$(uname -m)
if [ "$ARCH" != "$MACHINE" ] && [ -z "${MYMCP_IGNORE_ARCH:-}" ]; then
    echo "install.sh: this tarball is for $ARCH, this machine is $MACHINE" >&2
    exit 1
fi
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: installing into / needs root (or stage with --destdir DIR)" >&2
    exit 1
fi
(cd "$HERE" && sha256sum -c --quiet SHA256SUMS) || { echo "install.sh: checksum mismatch" >&2; exit 1; }

D=$DESTDIR
CREATED=""
# mkdirs DIR (absolute, without DESTDIR): create missing components, remembering which were
# new so uninstall.sh removes exactly those (never a directory that was there before).
mkdirs() {
    case "$1" in /|.|'') return 0 ;; esac
    [ -d "$D$1" ] && return 0
    mkdirs "$(dirname "$1")"
    mkdir "$D$1"
    CREATED="$CREATED$1
"
}
[ -z "$D" ] || mkdir -p "$D"
mkdirs "$PREFIX/share/mymcp"
MANIFEST_DIR="$D$PREFIX/share/mymcp"
MANIFEST="$MANIFEST_DIR/install-manifest"
: > "$MANIFEST.tmp"

put() { # put MODE SRC DEST(absolute, without DESTDIR)
    mkdirs "$(dirname "$3")"
    install -m "$1" "$2" "$D$3"
    echo "$3" >> "$MANIFEST.tmp"
}

put 0755 "$HERE/bin/mymcp" "$PREFIX/bin/mymcp"
for page in "$HERE"/share/man/man1/*.1; do
    put 0644 "$page" "$PREFIX/share/man/man1/$(basename "$page")"
done
put 0644 "$HERE/share/completions/mymcp.bash" "$PREFIX/share/bash-completion/completions/mymcp"
put 0644 "$HERE/share/completions/_mymcp" "$PREFIX/share/zsh/site-functions/_mymcp"
put 0644 "$HERE/share/completions/mymcp.fish" "$PREFIX/share/fish/vendor_completions.d/mymcp.fish"
put 0644 "$HERE/README.md" "$PREFIX/share/doc/mymcp/README.md"
put 0644 "$HERE/LICENSE" "$PREFIX/share/doc/mymcp/LICENSE"
for doc in "$HERE"/doc/*.md; do
    put 0644 "$doc" "$PREFIX/share/doc/mymcp/$(basename "$doc")"
done
put 0644 "$HERE/etc/mymcp.env.example" "$PREFIX/share/mymcp/mymcp.env.example"
put 0755 "$HERE/uninstall.sh" "$PREFIX/share/mymcp/uninstall.sh"

# The units name the binary where it was installed. The recorder's stays disabled.
mkdirs /etc/systemd/system
for unit in mymcp.service mymcp-recorder.service; do
    sed "s|/usr/bin/mymcp|$PREFIX/bin/mymcp|g" "$HERE/systemd/$unit" > "$D/etc/systemd/system/$unit"
    chmod 0644 "$D/etc/systemd/system/$unit"
    echo "/etc/systemd/system/$unit" >> "$MANIFEST.tmp"
done
echo "$PREFIX/share/mymcp/install-manifest" >> "$MANIFEST.tmp"
# Directories this install created, deepest last; a re-install keeps the earlier list.
if [ -f "$MANIFEST_DIR/created-dirs" ]; then CREATED="$(cat "$MANIFEST_DIR/created-dirs")
$CREATED"; fi
printf '%s' "$CREATED" | grep -v '^$' | awk '!seen[$0]++' > "$MANIFEST_DIR/created-dirs.tmp"
mv "$MANIFEST_DIR/created-dirs.tmp" "$MANIFEST_DIR/created-dirs"
echo "$PREFIX/share/mymcp/created-dirs" >> "$MANIFEST.tmp"
mv "$MANIFEST.tmp" "$MANIFEST"

if [ -n "$DESTDIR" ]; then
    echo "mymcp staged into $DESTDIR$PREFIX (no user, config or systemd changes when staging)."
    exit 0
fi

if [ "$MAKE_USER" = 1 ] && ! getent passwd mymcp >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "mymcp MCP server" mymcp
fi
if [ ! -e /etc/mymcp/.env ]; then
    # Same code path as the .deb: fresh admin/metrics tokens, 127.0.0.1 only, kept on upgrade.
    "$PREFIX/bin/mymcp" init --files-only --no-unit --no-client-token --yes --bind 127.0.0.1 \
        --config-dir /etc/mymcp --log-dir /var/log/mymcp \
        --recorder-data-dir /var/lib/mymcp/recorder >/dev/null
    chmod 0750 /etc/mymcp
    echo "mymcp: wrote /etc/mymcp/.env (0600); the admin token is MYMCP_ADMIN_TOKEN in it."
else
    echo "mymcp: kept the existing /etc/mymcp/.env"
fi
if [ "$SYSTEMD" = 1 ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$START" = 1 ]; then systemctl enable --now mymcp.service; else systemctl enable mymcp.service; fi
fi
echo "mymcp installed in $PREFIX. Next: sudo $PREFIX/bin/mymcp token add --role rw NAME; sudo $PREFIX/bin/mymcp doctor"
echo "Remove with: sudo $PREFIX/share/mymcp/uninstall.sh [--purge]"
