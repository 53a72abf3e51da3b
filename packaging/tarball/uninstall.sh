#!/bin/sh
# Remove what install.sh installed (its manifest lists every file). POSIX sh.
#
#   uninstall.sh [--prefix DIR] [--destdir DIR] [--purge]
#
# --purge  also delete /etc/mymcp (config and tokens), /var/log/mymcp, /var/lib/mymcp and the
#          mymcp user. Without it they are kept.
set -eu

PREFIX=/usr/local
DESTDIR=${DESTDIR:-}
PURGE=0
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a directory}; shift 2 ;;
        --prefix=*) PREFIX=${1#--prefix=}; shift ;;
        --destdir) DESTDIR=${2:?--destdir needs a directory}; shift 2 ;;
        --destdir=*) DESTDIR=${1#--destdir=}; shift ;;
        --purge) PURGE=1; shift ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "uninstall.sh: unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
done
D=$DESTDIR
MANIFEST="$D$PREFIX/share/mymcp/install-manifest"
if [ ! -f "$MANIFEST" ]; then
    echo "uninstall.sh: no manifest at $MANIFEST: nothing installed with that --prefix" >&2
    exit 1
fi
if [ -z "$D" ] && [ -d /run/systemd/system ]; then
    systemctl disable --now mymcp.service mymcp-recorder.service >/dev/null 2>&1 || true
fi
# Read from copies: the manifest lists itself and the directory list.
LIST=$(mktemp)
DIRS=$(mktemp)
cp "$MANIFEST" "$LIST"
cp "$D$PREFIX/share/mymcp/created-dirs" "$DIRS" 2>/dev/null || : > "$DIRS"
while IFS= read -r f; do
    [ -n "$f" ] && rm -f "$D$f"
done < "$LIST"
# Only directories install.sh created, deepest first; rmdir keeps any that hold other files.
sort -r "$DIRS" | while IFS= read -r d; do
    if [ -n "$d" ]; then rmdir "$D$d" 2>/dev/null || true; fi
done
rm -f "$LIST" "$DIRS"
if [ -z "$D" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$PURGE" = 1 ]; then
    rm -rf "$D/etc/mymcp" "$D/var/log/mymcp" "$D/var/lib/mymcp"
    if [ -z "$D" ] && getent passwd mymcp >/dev/null 2>&1; then
        userdel mymcp 2>/dev/null || true
        if getent group mymcp >/dev/null 2>&1; then groupdel mymcp 2>/dev/null || true; fi
    fi
    echo "mymcp removed, with its config, tokens, logs and user."
else
    echo "mymcp removed; kept /etc/mymcp, /var/log/mymcp, /var/lib/mymcp (use --purge to delete)."
fi
