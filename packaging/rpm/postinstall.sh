# mymcp %post: first configuration with fresh tokens (only if none exists), then systemd.
if [ ! -e /etc/mymcp/.env ]; then
    /usr/bin/mymcp init --files-only --no-unit --no-client-token --yes --bind 127.0.0.1 \
        --config-dir /etc/mymcp --log-dir /var/log/mymcp \
        --recorder-data-dir /var/lib/mymcp/recorder >/dev/null
    chmod 0750 /etc/mymcp
    echo "mymcp: wrote /etc/mymcp/.env (mode 0600); the admin token is MYMCP_ADMIN_TOKEN in it."
    echo "mymcp: start with: systemctl enable --now mymcp; client token: mymcp token add --role rw NAME"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -eq 1 ]; then
        systemctl preset mymcp.service >/dev/null 2>&1 || :
    fi
fi
exit 0
