#!/bin/sh
# Build the .deb and .rpm, lint them, install them into clean Debian roots, and boot a real
# systemd under qemu to check the packaged unit starts, answers on loopback and stops cleanly.
#
# Usage: packaging/ci/check.sh            (from .ci/run; needs root and the Debian mirror)
# Env:   MYMCP_CI_CACHE  cache dir for tools and root file systems (default /var/cache/mymcp-ci)
#        PKG_PROFILE     cargo profile of the packaged binary (default release; CI: ci-dist)
#        SKIP_VM=1       skip the qemu boot (the slowest step)
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
OUT="$ROOT/target/packaging"
WORK=$(mktemp -d /tmp/mymcp-pkg.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=packaging/ci/lib.sh
. "$ROOT/packaging/ci/lib.sh"
mkdir -p "$OUT"

step "tools"
apt_need lintian:lintian debootstrap:debootstrap rpm:rpm rpmlint:rpmlint mandoc:mandoc \
    piuparts:piuparts qemu-system-x86_64:qemu-system-x86 shellcheck:shellcheck \
    zsh:zsh fish:fish mkfs.ext4:e2fsprogs systemd-analyze:systemd
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb@3.8.0
command -v cargo-generate-rpm >/dev/null 2>&1 || cargo install --locked cargo-generate-rpm@0.21.1

step "build"
# Packaged builds carry the OpenTelemetry exporter (inert unless OTEL_* points somewhere).
PROFILE=${PKG_PROFILE:-release}
cargo build --profile "$PROFILE" --locked --features otlp
rm -f "$OUT"/*.deb "$OUT"/*.rpm
cargo deb --no-build --locked --profile "$PROFILE" -o "$OUT/"
cargo generate-rpm --profile "$PROFILE" -o "$OUT/"
DEB=$(ls "$OUT"/mymcp_*.deb)
RPM=$(ls "$OUT"/mymcp-*.rpm)
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
echo "  $DEB"
echo "  $RPM"

step "man pages, completions, scripts, unit"
for f in packaging/man/*.1; do
    out=$(mandoc -T lint -W warning "$f" 2>&1) || true
    [ -z "$out" ] || fail "mandoc lint: $out"
done
set -- packaging/man/*.1
echo "  ok  mandoc -T lint -W warning: $# pages clean"
check "bash completion parses" bash -n completions/mymcp.bash
check "zsh completion parses" zsh -n completions/_mymcp
check "fish completion parses" fish --no-execute completions/mymcp.fish
# shellcheck disable=SC2016 # expanded by the inner shells, not here
check "bash completion completes 'mymcp doc'" sh -c \
    '[ "$(bash -c ". completions/mymcp.bash; COMP_WORDS=(mymcp doc); COMP_CWORD=1; _mymcp mymcp doc mymcp; echo \${COMPREPLY[*]}")" = doctor ]'
# rpm scriptlets have no shebang: they run under /bin/sh.
check "shellcheck maintainer scripts and CI scripts" shellcheck -s sh -x \
    debian/postinst debian/postrm packaging/rpm/*.sh packaging/ci/check.sh packaging/ci/lib.sh \
    packaging/ci/static.sh packaging/tarball/*.sh
check "shellcheck the VM test (bash)" shellcheck packaging/ci/vmtest.sh
# systemd-analyze only warns (rc 0) on unknown keys, so any output at all is a failure.
for unit in mymcp.service mymcp-recorder.service; do
    sed "s|/usr/bin/mymcp|$ROOT/target/$PROFILE/mymcp|" "packaging/systemd/$unit" > "$WORK/$unit"
    out=$(systemd-analyze verify --man=no "$WORK/$unit" 2>&1) || fail "systemd-analyze $unit: $out"
    [ -z "$out" ] || fail "systemd-analyze verify $unit printed: $out"
done
echo "  ok  systemd-analyze verify: silent for both units"

step "lint the .deb and .rpm"
lintian --fail-on error,warning "$DEB"
echo "  ok  lintian --fail-on error,warning"
dpkg-deb -c "$DEB" > "$WORK/deb.list"
for f in ./usr/bin/mymcp ./usr/lib/systemd/system/mymcp.service ./usr/share/man/man1/mymcp.1.gz \
         ./usr/share/man/man1/mymcp-init.1.gz ./usr/share/bash-completion/completions/mymcp \
         ./usr/share/zsh/vendor-completions/_mymcp ./usr/share/fish/vendor_completions.d/mymcp.fish \
         ./etc/mymcp/mymcp.env.example ./usr/share/doc/mymcp/service.md \
         ./usr/lib/systemd/system/mymcp-recorder.service ./usr/share/man/man1/mymcp-recorder.1.gz; do
    grep -q " $f\$" "$WORK/deb.list" || fail ".deb lacks $f"
done
dpkg-deb -f "$DEB" Depends | grep -q adduser || fail ".deb does not depend on adduser"
dpkg-deb -I "$DEB" conffiles | grep -qx /etc/mymcp/mymcp.env.example || fail "conffile missing"
echo "  ok  .deb contents, Depends and conffiles"
rpm -qpl "$RPM" > "$WORK/rpm.list"
for f in /usr/bin/mymcp /usr/lib/systemd/system/mymcp.service /usr/share/man/man1/mymcp.1 \
         /usr/lib/systemd/system/mymcp-recorder.service \
         /etc/mymcp/mymcp.env.example /usr/share/licenses/mymcp/LICENSE; do
    grep -qx "$f" "$WORK/rpm.list" || fail ".rpm lacks $f"
done
rpm -qpc "$RPM" | grep -qx /etc/mymcp/mymcp.env.example || fail ".rpm config file missing"
rpm -qp --scripts "$RPM" | grep -q 'useradd -r' || fail ".rpm has no user-creating %pre"
rpm -K --nosignature "$RPM" >/dev/null || fail "rpm digest check"
echo "  ok  .rpm contents, config files, scriptlets, digests"
rpmlint -r packaging/rpm/rpmlintrc "$RPM"
echo "  ok  rpmlint (filters with reasons in packaging/rpm/rpmlintrc)"

step "Debian bookworm root (debootstrap, cached)"
ensure_base

step "install, upgrade, remove, purge the .deb in a clean chroot"
R="$WORK/deb-root"
new_root "$R"
cp "$DEB" "$R/tmp/mymcp.deb"
in_root "$R" apt-get install -y -q /tmp/mymcp.deb >"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; fail "apt install"; }
grep -q "MYMCP_ADMIN_TOKEN" "$WORK/apt.log" || fail "postinst did not say where the admin token is"
check "mymcp --version runs" sh -c "chroot '$R' mymcp --version | grep -qx 'mymcp $VERSION'"
check "system user mymcp exists" sh -c "chroot '$R' getent passwd mymcp >/dev/null"
check "/etc/mymcp/.env is 0600 root" sh -c "[ \"\$(stat -c '%a %U' '$R/etc/mymcp/.env')\" = '600 root' ]"
check "/etc/mymcp/tokens.json is 0600" sh -c "[ \"\$(stat -c '%a' '$R/etc/mymcp/tokens.json')\" = 600 ]"
check "/etc/mymcp is 0750" sh -c "[ \"\$(stat -c '%a' '$R/etc/mymcp')\" = 750 ]"
check "binds 127.0.0.1 by default" grep -qx 'MYMCP_HOST=127.0.0.1' "$R/etc/mymcp/.env"
check "unit enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/mymcp.service"
check "man page installed" test -s "$R/usr/share/man/man1/mymcp-doctor.1.gz"
in_root "$R" mymcp token add --role rw ci >/dev/null
echo "MYMCP_PROTECTED_PATHS=/srv/secret" >> "$R/etc/mymcp/.env"
sum_before=$(sha256sum < "$R/etc/mymcp/.env")
in_root "$R" dpkg -i /tmp/mymcp.deb >/dev/null 2>&1 || fail "reinstall (upgrade path)"
check "upgrade keeps .env" sh -c "[ \"\$(sha256sum < '$R/etc/mymcp/.env')\" = '$sum_before' ]"
check "upgrade keeps client tokens" grep -q '"name": *"ci"' "$R/etc/mymcp/tokens.json"
in_root "$R" dpkg -r mymcp >/dev/null
check "remove deletes the binary" test ! -e "$R/usr/bin/mymcp"
check "remove keeps .env and tokens" test -s "$R/etc/mymcp/.env" -a -s "$R/etc/mymcp/tokens.json"
in_root "$R" dpkg -P mymcp >/dev/null
check "purge deletes /etc/mymcp" test ! -e "$R/etc/mymcp"
check "purge deletes /var/log/mymcp and /var/lib/mymcp" test ! -e "$R/var/log/mymcp" -a ! -e "$R/var/lib/mymcp"
check "purge deletes the mymcp user" sh -c "! chroot '$R' getent passwd mymcp"
check "purge removes the enablement link" test ! -e "$R/etc/systemd/system/multi-user.target.wants/mymcp.service"

step "piuparts: install and purge leave nothing behind"
piuparts -d bookworm -m "$MIRROR" --no-upgrade-test -b "$BASE" "$DEB" >"$WORK/piuparts.log" 2>&1 || { tail -40 "$WORK/piuparts.log"; fail "piuparts"; }
grep -q "PASS: Installation and purging test" "$WORK/piuparts.log" || { tail -20 "$WORK/piuparts.log"; fail "piuparts did not pass"; }
echo "  ok  piuparts: PASS"

step "rpm --root install, verify, erase"
R="$WORK/rpm-root"
new_root "$R"
in_root "$R" sh -c 'command -v useradd >/dev/null' || fail "no useradd in the root"
rpm --root "$R" --initdb
rpm --root "$R" -ivh --nodeps "$RPM" >"$WORK/rpm.log" 2>&1 || { cat "$WORK/rpm.log"; fail "rpm -i"; }
check "rpm %pre created the user" sh -c "chroot '$R' getent passwd mymcp >/dev/null"
check "rpm %post wrote .env 0600" sh -c "[ \"\$(stat -c '%a' '$R/etc/mymcp/.env')\" = 600 ]"
check "rpm-installed binary runs" sh -c "chroot '$R' /usr/bin/mymcp --version | grep -qx 'mymcp $VERSION'"
check "rpm -V clean" rpm --root "$R" -V --nodeps mymcp
rpm --root "$R" -e --nodeps mymcp >/dev/null
check "rpm -e removes the binary" test ! -e "$R/usr/bin/mymcp"

if [ "${SKIP_VM:-0}" = 1 ]; then
    echo "SKIP_VM=1: qemu boot skipped"
    exit 0
fi

step "boot systemd under qemu (TCG) with the .deb installed"
VMBASE="$CACHE/bookworm-vm.tgz"
R="$WORK/vm-root"
if [ ! -s "$VMBASE" ]; then
    new_root "$R"
    in_root "$R" apt-get install -y -q --no-install-recommends linux-image-cloud-amd64 \
        initramfs-tools systemd systemd-sysv udev >/dev/null 2>&1 || fail "vm packages"
    in_root "$R" apt-get clean
    tar -C "$R" -czf "$VMBASE.tmp" . && mv "$VMBASE.tmp" "$VMBASE"
else
    mkdir -p "$R" && tar -C "$R" -xzf "$VMBASE"
fi
cp "$DEB" "$R/tmp/mymcp.deb"
in_root "$R" apt-get install -y -q /tmp/mymcp.deb >/dev/null 2>&1 || fail "install .deb into vm root"
printf '/dev/vda / ext4 rw 0 1\n' > "$R/etc/fstab"
ln -sf /dev/null "$R/etc/systemd/system/serial-getty@ttyS0.service"
install -m 0755 packaging/ci/vmtest.sh "$R/usr/local/sbin/vmtest"
cat > "$R/etc/systemd/system/vmtest.service" <<'UNIT'
[Unit]
Description=mymcp packaging check inside the VM
After=mymcp.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmtest
StandardOutput=tty
TTYPath=/dev/ttyS0
[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/vmtest.service "$R/etc/systemd/system/multi-user.target.wants/vmtest.service"
mkfs.ext4 -q -F -d "$R" "$WORK/root.img" 2G
set -- "$R"/boot/vmlinuz-*; KERNEL=$1
set -- "$R"/boot/initrd.img-*; INITRD=$1
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu max -m 1024 -smp 2 \
    -kernel "$KERNEL" -initrd "$INITRD" \
    -drive file="$WORK/root.img",format=raw,if=virtio \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.show_status=0" \
    -nographic -no-reboot -nic none > "$WORK/console.log" 2>&1 || true
grep '^VMTEST' "$WORK/console.log" || { tail -50 "$WORK/console.log"; fail "no VMTEST output"; }
grep -q '^VMTEST RESULT PASS' "$WORK/console.log" || fail "VM checks failed (lines above)"
echo "  ok  packaged unit started under systemd, answered /health and tools/list, stopped cleanly"
step "packaging checks passed"
