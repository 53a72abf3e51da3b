# mymcp %pre: the system user and group (used by `mymcp init --service-user mymcp`).
getent group mymcp >/dev/null || groupadd -r mymcp
getent passwd mymcp >/dev/null || \
    useradd -r -g mymcp -d /nonexistent -M -s /sbin/nologin -c "mymcp MCP server" mymcp
exit 0
