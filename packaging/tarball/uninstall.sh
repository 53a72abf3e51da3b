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
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
# Read from a copy: the manifest lists itself.
LIST=$(mktemp)
cp "$MANIFEST" "$LIST"
while IFS= read -r f; do
    [ -n "$f" ] && rm -f "$D$f"
done < "$LIST"
rm -f "$LIST"
# Directories install.sh made; rmdir leaves any that still hold other files.
for d in share/mymcp share/doc/mymcp share/doc share/man/man1 share/man \
         share/bash-completion/completions share/bash-completion share/zsh/site-functions \
         share/zsh share/fish/vendor_completions.d share/fish share bin; do
    rmdir "$D$PREFIX/$d" 2>/dev/null || true
done
if [ -n "$D" ]; then
    # Staged: also the empty parents install.sh created under DESTDIR.
    p=$PREFIX
    while [ -n "$p" ] && [ "$p" != / ]; do
        rmdir "$D$p" 2>/dev/null || break
        p=$(dirname "$p")
    done
    rmdir "$D/etc/systemd/system" "$D/etc/systemd" 2>/dev/null || true
fi
if [ -z "$D" ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
if [ "$PURGE" = 1 ]; then
    rm -rf "$D/etc/mymcp" "$D/var/log/mymcp" "$D/var/lib/mymcp"
    rmdir "$D/etc" "$D/var/log" "$D/var/lib" "$D/var" 2>/dev/null || true
    if [ -z "$D" ] && getent passwd mymcp >/dev/null 2>&1; then
        userdel mymcp 2>/dev/null || true
        if getent group mymcp >/dev/null 2>&1; then groupdel mymcp 2>/dev/null || true; fi
    fi
    echo "mymcp removed, with its config, tokens, logs and user."
else
    echo "mymcp removed; kept /etc/mymcp, /var/log/mymcp, /var/lib/mymcp (use --purge to delete)."
fi
