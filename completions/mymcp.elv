
use builtin;
use str;

set edit:completion:arg-completer[mymcp] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'mymcp'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'mymcp'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the MCP server in the foreground'
            cand stdio 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it'
            cand version 'Print the version'
            cand token 'Manage client tokens and the admin/metrics tokens'
            cand config 'Configuration helpers'
            cand init 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
            cand install-service 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
            cand uninstall-service 'Stop and remove the service written by `mymcp init` (config kept unless --purge)'
            cand doctor 'Check the installation, configuration, service and a real tools/list call'
            cand recorder 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;serve'= {
            cand --env-file 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env). A file named here that does not exist is an error'
            cand --host 'Address to listen on (overrides MYMCP_HOST)'
            cand --port 'Port to listen on; 0 picks a free one (overrides MYMCP_PORT)'
            cand --log-level 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)'
            cand --log-format 'Log format: text or json (overrides MYMCP_LOG_FORMAT)'
            cand --with-metrics-token 'In temp-token mode, also make a temporary metrics token'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;stdio'= {
            cand --role 'Role of the session: ro (read tools only) or rw (everything the user may do)'
            cand --env-file 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env)'
            cand --log-level 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;version'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand list 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
            cand add 'Create a client token and print its value (shown only this once)'
            cand revoke 'Revoke a client token, given its value or its id'
            cand rotate-admin 'Generate a new admin token and write it to the env file'
            cand rotate-metrics 'Generate a new metrics token and write it to the env file'
            cand disable-metrics 'Clear the metrics token (/metrics then answers 503)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;token;list'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;add'= {
            cand --name 'Token name'
            cand --role 'Role: ro (read-only tools) or rw (all tools)'
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;revoke'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;rotate-admin'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;rotate-metrics'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;disable-metrics'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;token;help'= {
            cand list 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
            cand add 'Create a client token and print its value (shown only this once)'
            cand revoke 'Revoke a client token, given its value or its id'
            cand rotate-admin 'Generate a new admin token and write it to the env file'
            cand rotate-metrics 'Generate a new metrics token and write it to the env file'
            cand disable-metrics 'Clear the metrics token (/metrics then answers 503)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;token;help;list'= {
        }
        &'mymcp;token;help;add'= {
        }
        &'mymcp;token;help;revoke'= {
        }
        &'mymcp;token;help;rotate-admin'= {
        }
        &'mymcp;token;help;rotate-metrics'= {
        }
        &'mymcp;token;help;disable-metrics'= {
        }
        &'mymcp;token;help;help'= {
        }
        &'mymcp;config'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand example 'Print a commented example env file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;config;example'= {
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;config;help'= {
            cand example 'Print a commented example env file'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;config;help;example'= {
        }
        &'mymcp;config;help;help'= {
        }
        &'mymcp;init'= {
            cand --bind 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it'
            cand --port 'Port to listen on'
            cand --tls-cert 'Serve HTTPS with this PEM certificate (the server''s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)'
            cand --tls-key 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it'
            cand --config-dir 'Directory for .env and tokens.json'
            cand --log-dir 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]'
            cand --recorder-data-dir 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]'
            cand --unit-dir 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]'
            cand --service-user 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do'
            cand --client-name 'Name of the first client token'
            cand --client-role 'Role of the first client token: ro or rw'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --enable-audit 'Write the audit log (default)'
            cand --no-audit 'Do not write the audit log'
            cand --enable-metrics 'Generate a metrics token so /metrics can be scraped (default)'
            cand --metrics-token 'Generate a metrics token so /metrics can be scraped (default)'
            cand --no-metrics 'No metrics token: /metrics answers 503'
            cand --no-metrics-token 'No metrics token: /metrics answers 503'
            cand --no-client-token 'Do not create a client token (the packages use this; add one later with `mymcp token add`)'
            cand --no-start 'Do not start (or restart) the service after enabling it'
            cand --no-unit 'Do not write a unit file (the packages ship their own)'
            cand --files-only 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given'
            cand --dry-run 'Print what would be done and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;install-service'= {
            cand --bind 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it'
            cand --port 'Port to listen on'
            cand --tls-cert 'Serve HTTPS with this PEM certificate (the server''s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)'
            cand --tls-key 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it'
            cand --config-dir 'Directory for .env and tokens.json'
            cand --log-dir 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]'
            cand --recorder-data-dir 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]'
            cand --unit-dir 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]'
            cand --service-user 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do'
            cand --client-name 'Name of the first client token'
            cand --client-role 'Role of the first client token: ro or rw'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --enable-audit 'Write the audit log (default)'
            cand --no-audit 'Do not write the audit log'
            cand --enable-metrics 'Generate a metrics token so /metrics can be scraped (default)'
            cand --metrics-token 'Generate a metrics token so /metrics can be scraped (default)'
            cand --no-metrics 'No metrics token: /metrics answers 503'
            cand --no-metrics-token 'No metrics token: /metrics answers 503'
            cand --no-client-token 'Do not create a client token (the packages use this; add one later with `mymcp token add`)'
            cand --no-start 'Do not start (or restart) the service after enabling it'
            cand --no-unit 'Do not write a unit file (the packages ship their own)'
            cand --files-only 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given'
            cand --dry-run 'Print what would be done and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;uninstall-service'= {
            cand --config-dir 'Directory for .env and tokens.json'
            cand --log-dir 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]'
            cand --recorder-data-dir 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]'
            cand --unit-dir 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]'
            cand -y 'Do not ask for confirmation'
            cand --yes 'Do not ask for confirmation'
            cand --purge 'Also delete the config directory (env file, tokens), the audit log directory and the recorder data. This cannot be undone'
            cand --files-only 'Only remove files; never call systemctl'
            cand --dry-run 'Print what would be done and change nothing'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;doctor'= {
            cand --config-dir 'Config directory to check (its .env)'
            cand --env-file 'Env file to check instead of <config-dir>/.env'
            cand --json 'Print the checks as JSON'
            cand --strict 'Exit 1 on warnings too, not only on failures'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;recorder'= {
            cand --env-file 'Env file to read (same discovery as `serve`)'
            cand --once 'Run one cycle, print its outcome as JSON and exit'
            cand --install-unit 'Print the systemd unit for this binary and exit'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'mymcp;help'= {
            cand serve 'Run the MCP server in the foreground'
            cand stdio 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it'
            cand version 'Print the version'
            cand token 'Manage client tokens and the admin/metrics tokens'
            cand config 'Configuration helpers'
            cand init 'Set mymcp up as a systemd service: config, tokens, unit, first client token'
            cand uninstall-service 'Stop and remove the service written by `mymcp init` (config kept unless --purge)'
            cand doctor 'Check the installation, configuration, service and a real tools/list call'
            cand recorder 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'mymcp;help;serve'= {
        }
        &'mymcp;help;stdio'= {
        }
        &'mymcp;help;version'= {
        }
        &'mymcp;help;token'= {
            cand list 'List client tokens (ids, never values) and whether admin/metrics tokens are set'
            cand add 'Create a client token and print its value (shown only this once)'
            cand revoke 'Revoke a client token, given its value or its id'
            cand rotate-admin 'Generate a new admin token and write it to the env file'
            cand rotate-metrics 'Generate a new metrics token and write it to the env file'
            cand disable-metrics 'Clear the metrics token (/metrics then answers 503)'
        }
        &'mymcp;help;token;list'= {
        }
        &'mymcp;help;token;add'= {
        }
        &'mymcp;help;token;revoke'= {
        }
        &'mymcp;help;token;rotate-admin'= {
        }
        &'mymcp;help;token;rotate-metrics'= {
        }
        &'mymcp;help;token;disable-metrics'= {
        }
        &'mymcp;help;config'= {
            cand example 'Print a commented example env file'
        }
        &'mymcp;help;config;example'= {
        }
        &'mymcp;help;init'= {
        }
        &'mymcp;help;uninstall-service'= {
        }
        &'mymcp;help;doctor'= {
        }
        &'mymcp;help;recorder'= {
        }
        &'mymcp;help;help'= {
        }
    ]
    $completions[$command]
}
