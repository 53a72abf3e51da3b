# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mymcp_global_optspecs
    string join \n h/help V/version
end

function __fish_mymcp_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mymcp_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mymcp_using_subcommand
    set -l cmd (__fish_mymcp_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mymcp -n "__fish_mymcp_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mymcp -n "__fish_mymcp_needs_command" -s V -l version -d 'Print version'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "serve" -d 'Run the MCP server in the foreground'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "stdio" -d 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "version" -d 'Print the version'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "token" -d 'Manage client tokens and the admin/metrics tokens'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "config" -d 'Configuration helpers'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "init" -d 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "install-service" -d 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "uninstall-service" -d 'Stop and remove the service written by `mymcp init` (config kept unless --purge)'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "doctor" -d 'Check the installation, configuration, service and a real tools/list call'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "recorder" -d 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)'
complete -c mymcp -n "__fish_mymcp_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l env-file -d 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env). A file named here that does not exist is an error' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l host -d 'Address to listen on (overrides MYMCP_HOST)' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l port -d 'Port to listen on; 0 picks a free one (overrides MYMCP_PORT)' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l log-level -d 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)' -r -f -a "trace\t''
debug\t''
info\t''
warning\t''
warn\t''
error\t''
critical\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l log-format -d 'Log format: text or json (overrides MYMCP_LOG_FORMAT)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line'"
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -l with-metrics-token -d 'In temp-token mode, also make a temporary metrics token'
complete -c mymcp -n "__fish_mymcp_using_subcommand serve" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand stdio" -l role -d 'Role of the session: ro (read tools only) or rw (everything the user may do)' -r -f -a "ro\t''
rw\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand stdio" -l env-file -d 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand stdio" -l log-level -d 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)' -r -f -a "trace\t''
debug\t''
info\t''
warning\t''
warn\t''
error\t''
critical\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand stdio" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand version" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "list" -d 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "add" -d 'Create a client token and print its value (shown only this once)'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "revoke" -d 'Revoke a client token, given its value or its id'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "rotate-admin" -d 'Generate a new admin token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "rotate-metrics" -d 'Generate a new metrics token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "disable-metrics" -d 'Clear the metrics token (/metrics then answers 503)'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and not __fish_seen_subcommand_from list add revoke rotate-admin rotate-metrics disable-metrics help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from list" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from add" -l name -d 'Token name' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from add" -l role -d 'Role: ro (read-only tools) or rw (all tools)' -r -f -a "ro\t''
rw\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from add" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from revoke" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from rotate-admin" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from rotate-admin" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from rotate-metrics" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from rotate-metrics" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from disable-metrics" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from disable-metrics" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "list" -d 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "add" -d 'Create a client token and print its value (shown only this once)'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a client token, given its value or its id'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "rotate-admin" -d 'Generate a new admin token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "rotate-metrics" -d 'Generate a new metrics token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "disable-metrics" -d 'Clear the metrics token (/metrics then answers 503)'
complete -c mymcp -n "__fish_mymcp_using_subcommand token; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and not __fish_seen_subcommand_from example help" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and not __fish_seen_subcommand_from example help" -f -a "example" -d 'Print a commented example env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and not __fish_seen_subcommand_from example help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and __fish_seen_subcommand_from example" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "example" -d 'Print a commented example env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand config; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l bind -d 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l port -d 'Port to listen on' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l tls-cert -d 'Serve HTTPS with this PEM certificate (the server\'s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l tls-key -d 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l config-dir -d 'Directory for .env and tokens.json' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l log-dir -d 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l recorder-data-dir -d 'Directory for the recorder\'s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l unit-dir -d 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l service-user -d 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do' -r -f -a "root\t''
mymcp\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l client-name -d 'Name of the first client token' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l client-role -d 'Role of the first client token: ro or rw' -r -f -a "ro\t''
rw\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -s y -l yes -d 'Do not ask for confirmation'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l enable-audit -d 'Write the audit log (default)'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l no-audit -d 'Do not write the audit log'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l enable-metrics -l metrics-token -d 'Generate a metrics token so /metrics can be scraped (default)'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l no-metrics -l no-metrics-token -d 'No metrics token: /metrics answers 503'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l no-client-token -d 'Do not create a client token (the packages use this; add one later with `mymcp token add`)'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l no-start -d 'Do not start (or restart) the service after enabling it'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l no-unit -d 'Do not write a unit file (the packages ship their own)'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l files-only -d 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -l dry-run -d 'Print what would be done and change nothing'
complete -c mymcp -n "__fish_mymcp_using_subcommand init" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l bind -d 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l port -d 'Port to listen on' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l tls-cert -d 'Serve HTTPS with this PEM certificate (the server\'s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l tls-key -d 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l config-dir -d 'Directory for .env and tokens.json' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l log-dir -d 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l recorder-data-dir -d 'Directory for the recorder\'s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l unit-dir -d 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l service-user -d 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do' -r -f -a "root\t''
mymcp\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l client-name -d 'Name of the first client token' -r
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l client-role -d 'Role of the first client token: ro or rw' -r -f -a "ro\t''
rw\t''"
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -s y -l yes -d 'Do not ask for confirmation'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l enable-audit -d 'Write the audit log (default)'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l no-audit -d 'Do not write the audit log'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l enable-metrics -l metrics-token -d 'Generate a metrics token so /metrics can be scraped (default)'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l no-metrics -l no-metrics-token -d 'No metrics token: /metrics answers 503'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l no-client-token -d 'Do not create a client token (the packages use this; add one later with `mymcp token add`)'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l no-start -d 'Do not start (or restart) the service after enabling it'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l no-unit -d 'Do not write a unit file (the packages ship their own)'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l files-only -d 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -l dry-run -d 'Print what would be done and change nothing'
complete -c mymcp -n "__fish_mymcp_using_subcommand install-service" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l config-dir -d 'Directory for .env and tokens.json' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l log-dir -d 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l recorder-data-dir -d 'Directory for the recorder\'s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l unit-dir -d 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -s y -l yes -d 'Do not ask for confirmation'
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l purge -d 'Also delete the config directory (env file, tokens), the audit log directory and the recorder data. This cannot be undone'
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l files-only -d 'Only remove files; never call systemctl'
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -l dry-run -d 'Print what would be done and change nothing'
complete -c mymcp -n "__fish_mymcp_using_subcommand uninstall-service" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand doctor" -l config-dir -d 'Config directory to check (its .env)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand doctor" -l env-file -d 'Env file to check instead of <config-dir>/.env' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand doctor" -l json -d 'Print the checks as JSON'
complete -c mymcp -n "__fish_mymcp_using_subcommand doctor" -l strict -d 'Exit 1 on warnings too, not only on failures'
complete -c mymcp -n "__fish_mymcp_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand recorder" -l env-file -d 'Env file to read (same discovery as `serve`)' -r -F
complete -c mymcp -n "__fish_mymcp_using_subcommand recorder" -l once -d 'Run one cycle, print its outcome as JSON and exit'
complete -c mymcp -n "__fish_mymcp_using_subcommand recorder" -l install-unit -d 'Print the systemd unit for this binary and exit'
complete -c mymcp -n "__fish_mymcp_using_subcommand recorder" -s h -l help -d 'Print help'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "serve" -d 'Run the MCP server in the foreground'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "stdio" -d 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "version" -d 'Print the version'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "token" -d 'Manage client tokens and the admin/metrics tokens'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "config" -d 'Configuration helpers'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "init" -d 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "uninstall-service" -d 'Stop and remove the service written by `mymcp init` (config kept unless --purge)'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "doctor" -d 'Check the installation, configuration, service and a real tools/list call'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "recorder" -d 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and not __fish_seen_subcommand_from serve stdio version token config init uninstall-service doctor recorder help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "list" -d 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "add" -d 'Create a client token and print its value (shown only this once)'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "revoke" -d 'Revoke a client token, given its value or its id'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "rotate-admin" -d 'Generate a new admin token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "rotate-metrics" -d 'Generate a new metrics token and write it to the env file'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from token" -f -a "disable-metrics" -d 'Clear the metrics token (/metrics then answers 503)'
complete -c mymcp -n "__fish_mymcp_using_subcommand help; and __fish_seen_subcommand_from config" -f -a "example" -d 'Print a commented example env file'
