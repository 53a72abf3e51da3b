# mymcp %preun: stop and disable on erase (not on upgrade).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now mymcp.service mymcp-recorder.service >/dev/null 2>&1 || :
fi
exit 0
