# mymcp %postun: restart after an upgrade; on erase keep config, tokens and logs (say where).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart mymcp.service mymcp-recorder.service >/dev/null 2>&1 || :
    fi
fi
if [ "$1" -eq 0 ] && [ -e /etc/mymcp/.env ]; then
    echo "mymcp: kept /etc/mymcp (tokens), /var/log/mymcp (audit log); delete them to finish removal."
fi
exit 0
