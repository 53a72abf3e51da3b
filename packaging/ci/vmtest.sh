#!/bin/bash
# Runs inside the qemu VM booted by packaging/ci/check.sh, as a oneshot unit after mymcp.
# Every result line starts with VMTEST and goes to the serial console; the host greps them.
say() { echo "VMTEST $*"; }
pass=1
expect() {
    if [ "$2" = "$3" ]; then say "ok   $1: $2"; else say "FAIL $1: got '$2', want '$3'"; pass=0; fi
}

PORT=8765
# Tools an rw token lists: the reference's nine and the three job tools.
RW_TOOLS=12
# http METHOD PATH [TOKEN] [BODY]: one request over bash's /dev/tcp; prints the raw response.
http() {
    local auth="" body=${4:-}
    [ -n "${3:-}" ] && auth=$'Authorization: Bearer '"$3"$'\r\n'
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || return 1
    printf '%s %s HTTP/1.1\r\nHost: 127.0.0.1:'"$PORT"'\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n%sContent-Length: %d\r\n\r\n%s' \
        "$1" "$2" "$auth" "${#body}" "$body" >&3
    cat <&3
    exec 3<&-
}

say "begin (the console may swallow this first line)"
# Type=notify: "active" only once the server has said READY=1.
for _ in $(seq 60); do
    state=$(systemctl is-active mymcp)
    [ "$state" = active ] || [ "$state" = failed ] && break
    sleep 1
done
expect "unit enabled" "$(systemctl is-enabled mymcp)" enabled
expect "unit active" "$(systemctl is-active mymcp)" active
expect "status text" "$(systemctl show -p StatusText --value mymcp)" "serving on 127.0.0.1:8765"
pid=$(systemctl show -p MainPID --value mymcp)
expect "runs as uid" "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")" 0
expect "health" "$(http GET /health | head -1 | tr -d '\r')" "HTTP/1.1 200 OK"

token=$(mymcp token add --role rw vmtest 2>/dev/null)
tools=0
for _ in $(seq 20); do  # the server picks up tokens.json changes within a second
    tools=$(http POST /mcp "$token" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | grep -o '"inputSchema"' | wc -l)
    [ "$tools" = "$RW_TOOLS" ] && break
    sleep 0.5
done
expect "tools/list over loopback" "$tools" "$RW_TOOLS"
expect "doctor" "$(mymcp doctor >/dev/null 2>&1; echo $?)" 0

expect "recorder unit shipped, not enabled" "$(systemctl is-enabled mymcp-recorder)" disabled
expect "recorder exits cleanly while disabled" "$(systemctl start mymcp-recorder; systemctl show -p Result --value mymcp-recorder)" success

systemctl stop mymcp
expect "stopped" "$(systemctl is-active mymcp)" inactive
expect "clean exit" "$(systemctl show -p Result --value mymcp)" success
journalctl -u mymcp --no-pager -o cat | tail -5 | sed 's/^/VMTEST journal: /'

# `mymcp init` for real under systemd (its own directories and port), then take it down.
dirs=(--config-dir /etc/mymcp-init --log-dir /var/log/mymcp-init --recorder-data-dir /var/lib/mymcp-init/recorder)
out=$(mymcp init --yes --port 8766 "${dirs[@]}" 2>&1)
expect "init exit code" "$?" 0
echo "$out" | sed 's/tok_[0-9a-f]*/tok_…/g; s/^/VMTEST init: /'
expect "init prints a claude line" "$(echo "$out" | grep -c 'claude mcp add --transport http mymcp http://127.0.0.1:8766/mcp')" 1
expect "init unit active" "$(systemctl is-active mymcp)" active
expect "init unit is ours" "$(grep -c '^# Written by .mymcp init.;' /etc/systemd/system/mymcp.service)" 1
PORT=8766
token=$(echo "$out" | sed -n 's/^  client token: \(tok_[0-9a-f]*\).*/\1/p')
expect "init token lists tools" "$(http POST /mcp "$token" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | grep -o '"inputSchema"' | wc -l)" "$RW_TOOLS"
expect "init doctor" "$(mymcp doctor --config-dir /etc/mymcp-init >/dev/null 2>&1; echo $?)" 0
mymcp uninstall-service --yes --purge "${dirs[@]}" >/dev/null 2>&1
expect "uninstall exit code" "$?" 0
expect "uninstall stopped it" "$(systemctl is-active mymcp)" inactive
expect "uninstall removed the unit" "$(test -e /etc/systemd/system/mymcp.service && echo present || echo gone)" gone
expect "purge removed the config" "$(test -e /etc/mymcp-init && echo present || echo gone)" gone
# An unprivileged service user (init --service-user mymcp): `token add` run as root must
# leave a token file the service can still read, and the running server must take the token.
dirs=(--config-dir /etc/mymcp-user --log-dir /var/log/mymcp-user --recorder-data-dir /var/lib/mymcp-user/recorder)
mymcp init --yes --port 8767 --service-user mymcp --no-client-token "${dirs[@]}" >/dev/null 2>&1
expect "user init exit code" "$?" 0
expect "user unit active" "$(systemctl is-active mymcp)" active
pid=$(systemctl show -p MainPID --value mymcp)
expect "runs as mymcp" "$(stat -c %U "/proc/$pid")" mymcp
PORT=8767
token=$(mymcp token add --env-file /etc/mymcp-user/.env --role rw vmuser 2>/dev/null)
expect "token file keeps its owner" "$(stat -c '%U %a' /etc/mymcp-user/tokens.json)" "mymcp 600"
tools=0
for _ in $(seq 20); do
    tools=$(http POST /mcp "$token" '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' | grep -o '"inputSchema"' | wc -l)
    [ "$tools" = "$RW_TOOLS" ] && break
    sleep 0.5
done
expect "root's token add works without a restart" "$tools" "$RW_TOOLS"
mymcp uninstall-service --yes --purge "${dirs[@]}" >/dev/null 2>&1
expect "user uninstall exit code" "$?" 0

if journalctl -u mymcp --no-pager -o cat | grep -q $'\e\['; then
    say "FAIL journal has colour escape codes"; pass=0
fi

if [ "$pass" = 1 ]; then say "RESULT PASS"; else say "RESULT FAIL"; fi
systemctl poweroff
