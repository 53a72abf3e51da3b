# Shared helpers for the packaging checks (sourced, not run).
# shellcheck shell=sh
CACHE=${MYMCP_CI_CACHE:-/var/cache/mymcp-ci}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
START=$(date +%s)
mkdir -p "$CACHE"

step() { printf '\n== %s  [+%ss]\n' "$1" "$(($(date +%s) - START))"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
check() { # check DESCRIPTION COMMAND...: run, and fail loudly with the description
    desc=$1; shift
    if "$@"; then printf '  ok  %s\n' "$desc"; else fail "$desc"; fi
}

# apt_need CMD:PKG ...: install the packages whose command is missing.
apt_need() {
    need=""
    for p in "$@"; do
        command -v "${p%%:*}" >/dev/null 2>&1 || need="$need ${p#*:}"
    done
    if [ -n "$need" ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null
        # shellcheck disable=SC2086 # word splitting of the package list is intended
        apt-get install -y -q --no-install-recommends $need >/dev/null 2>"$CACHE/apt.err" \
            || { cat "$CACHE/apt.err" >&2; return 1; }
    fi
}

# A minimal Debian 12 root, debootstrapped once and cached as a tarball.
BASE="$CACHE/bookworm-minbase.tgz"
ensure_base() {
    if [ ! -s "$BASE" ]; then
        apt_need debootstrap:debootstrap
        tmp=$(mktemp -d)
        debootstrap --variant=minbase bookworm "$tmp" "$MIRROR" >/dev/null
        tar -C "$tmp" -czf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
        rm -rf "$tmp"
    fi
}
new_root() {
    ensure_base
    mkdir -p "$1"
    tar -C "$1" -xzf "$BASE"
    cp /etc/resolv.conf "$1/etc/resolv.conf" 2>/dev/null || true
}
in_root() { r=$1; shift; chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
