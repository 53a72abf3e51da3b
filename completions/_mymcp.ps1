
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'mymcp' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'mymcp'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'mymcp' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the MCP server in the foreground')
            [CompletionResult]::new('stdio', 'stdio', [CompletionResultType]::ParameterValue, 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Manage client tokens and the admin/metrics tokens')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Configuration helpers')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set mymcp up as a systemd service: config, tokens, unit, first client token')
            [CompletionResult]::new('install-service', 'install-service', [CompletionResultType]::ParameterValue, 'Set mymcp up as a systemd service: config, tokens, unit, first client token')
            [CompletionResult]::new('uninstall-service', 'uninstall-service', [CompletionResultType]::ParameterValue, 'Stop and remove the service written by `mymcp init` (config kept unless --purge)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the installation, configuration, service and a real tools/list call')
            [CompletionResult]::new('recorder', 'recorder', [CompletionResultType]::ParameterValue, 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;serve' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env). A file named here that does not exist is an error')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to listen on (overrides MYMCP_HOST)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on; 0 picks a free one (overrides MYMCP_PORT)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format: text or json (overrides MYMCP_LOG_FORMAT)')
            [CompletionResult]::new('--with-metrics-token', '--with-metrics-token', [CompletionResultType]::ParameterName, 'In temp-token mode, also make a temporary metrics token')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;stdio' {
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Role of the session: ro (read tools only) or rw (everything the user may do)')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (default: MYMCP_ENV_FILE, then /etc/mymcp/.env, then ./.env)')
            [CompletionResult]::new('--log-level', '--log-level', [CompletionResultType]::ParameterName, 'Log level on stderr: trace, debug, info, warning, error or critical (overrides MYMCP_LOG_LEVEL)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;version' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List client tokens (ids, never values) and whether admin/metrics tokens are set')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a client token and print its value (shown only this once)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client token, given its value or its id')
            [CompletionResult]::new('rotate-admin', 'rotate-admin', [CompletionResultType]::ParameterValue, 'Generate a new admin token and write it to the env file')
            [CompletionResult]::new('rotate-metrics', 'rotate-metrics', [CompletionResultType]::ParameterValue, 'Generate a new metrics token and write it to the env file')
            [CompletionResult]::new('disable-metrics', 'disable-metrics', [CompletionResultType]::ParameterValue, 'Clear the metrics token (/metrics then answers 503)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;token;list' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;add' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Token name')
            [CompletionResult]::new('--role', '--role', [CompletionResultType]::ParameterName, 'Role: ro (read-only tools) or rw (all tools)')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;revoke' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;rotate-admin' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;rotate-metrics' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;disable-metrics' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;token;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List client tokens (ids, never values) and whether admin/metrics tokens are set')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a client token and print its value (shown only this once)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client token, given its value or its id')
            [CompletionResult]::new('rotate-admin', 'rotate-admin', [CompletionResultType]::ParameterValue, 'Generate a new admin token and write it to the env file')
            [CompletionResult]::new('rotate-metrics', 'rotate-metrics', [CompletionResultType]::ParameterValue, 'Generate a new metrics token and write it to the env file')
            [CompletionResult]::new('disable-metrics', 'disable-metrics', [CompletionResultType]::ParameterValue, 'Clear the metrics token (/metrics then answers 503)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;token;help;list' {
            break
        }
        'mymcp;token;help;add' {
            break
        }
        'mymcp;token;help;revoke' {
            break
        }
        'mymcp;token;help;rotate-admin' {
            break
        }
        'mymcp;token;help;rotate-metrics' {
            break
        }
        'mymcp;token;help;disable-metrics' {
            break
        }
        'mymcp;token;help;help' {
            break
        }
        'mymcp;config' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('example', 'example', [CompletionResultType]::ParameterValue, 'Print a commented example env file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;config;example' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;config;help' {
            [CompletionResult]::new('example', 'example', [CompletionResultType]::ParameterValue, 'Print a commented example env file')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;config;help;example' {
            break
        }
        'mymcp;config;help;help' {
            break
        }
        'mymcp;init' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve HTTPS with this PEM certificate (the server''s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Directory for .env and tokens.json')
            [CompletionResult]::new('--log-dir', '--log-dir', [CompletionResultType]::ParameterName, 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]')
            [CompletionResult]::new('--recorder-data-dir', '--recorder-data-dir', [CompletionResultType]::ParameterName, 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]')
            [CompletionResult]::new('--unit-dir', '--unit-dir', [CompletionResultType]::ParameterName, 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]')
            [CompletionResult]::new('--service-user', '--service-user', [CompletionResultType]::ParameterName, 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do')
            [CompletionResult]::new('--client-name', '--client-name', [CompletionResultType]::ParameterName, 'Name of the first client token')
            [CompletionResult]::new('--client-role', '--client-role', [CompletionResultType]::ParameterName, 'Role of the first client token: ro or rw')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--enable-audit', '--enable-audit', [CompletionResultType]::ParameterName, 'Write the audit log (default)')
            [CompletionResult]::new('--no-audit', '--no-audit', [CompletionResultType]::ParameterName, 'Do not write the audit log')
            [CompletionResult]::new('--enable-metrics', '--enable-metrics', [CompletionResultType]::ParameterName, 'Generate a metrics token so /metrics can be scraped (default)')
            [CompletionResult]::new('--metrics-token', '--metrics-token', [CompletionResultType]::ParameterName, 'Generate a metrics token so /metrics can be scraped (default)')
            [CompletionResult]::new('--no-metrics', '--no-metrics', [CompletionResultType]::ParameterName, 'No metrics token: /metrics answers 503')
            [CompletionResult]::new('--no-metrics-token', '--no-metrics-token', [CompletionResultType]::ParameterName, 'No metrics token: /metrics answers 503')
            [CompletionResult]::new('--no-client-token', '--no-client-token', [CompletionResultType]::ParameterName, 'Do not create a client token (the packages use this; add one later with `mymcp token add`)')
            [CompletionResult]::new('--no-start', '--no-start', [CompletionResultType]::ParameterName, 'Do not start (or restart) the service after enabling it')
            [CompletionResult]::new('--no-unit', '--no-unit', [CompletionResultType]::ParameterName, 'Do not write a unit file (the packages ship their own)')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be done and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;install-service' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to listen on. 0.0.0.0 exposes the server to the network: give it a certificate (--tls-cert, --tls-key) or put a TLS proxy in front of it')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on')
            [CompletionResult]::new('--tls-cert', '--tls-cert', [CompletionResultType]::ParameterName, 'Serve HTTPS with this PEM certificate (the server''s first, then intermediates); needs --tls-key. The pair is checked now, written to the env file as MYMCP_TLS_CERT/KEY, and reloaded by the service when the files change (certbot renewals)')
            [CompletionResult]::new('--tls-key', '--tls-key', [CompletionResultType]::ParameterName, 'The PEM private key of --tls-cert; it must not be readable by group or others, and the service user must be able to read it')
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Directory for .env and tokens.json')
            [CompletionResult]::new('--log-dir', '--log-dir', [CompletionResultType]::ParameterName, 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]')
            [CompletionResult]::new('--recorder-data-dir', '--recorder-data-dir', [CompletionResultType]::ParameterName, 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]')
            [CompletionResult]::new('--unit-dir', '--unit-dir', [CompletionResultType]::ParameterName, 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]')
            [CompletionResult]::new('--service-user', '--service-user', [CompletionResultType]::ParameterName, 'User the service runs as, root or mymcp: root gives the AI client full control of the host; the unprivileged mymcp user limits it to what that user may do')
            [CompletionResult]::new('--client-name', '--client-name', [CompletionResultType]::ParameterName, 'Name of the first client token')
            [CompletionResult]::new('--client-role', '--client-role', [CompletionResultType]::ParameterName, 'Role of the first client token: ro or rw')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--enable-audit', '--enable-audit', [CompletionResultType]::ParameterName, 'Write the audit log (default)')
            [CompletionResult]::new('--no-audit', '--no-audit', [CompletionResultType]::ParameterName, 'Do not write the audit log')
            [CompletionResult]::new('--enable-metrics', '--enable-metrics', [CompletionResultType]::ParameterName, 'Generate a metrics token so /metrics can be scraped (default)')
            [CompletionResult]::new('--metrics-token', '--metrics-token', [CompletionResultType]::ParameterName, 'Generate a metrics token so /metrics can be scraped (default)')
            [CompletionResult]::new('--no-metrics', '--no-metrics', [CompletionResultType]::ParameterName, 'No metrics token: /metrics answers 503')
            [CompletionResult]::new('--no-metrics-token', '--no-metrics-token', [CompletionResultType]::ParameterName, 'No metrics token: /metrics answers 503')
            [CompletionResult]::new('--no-client-token', '--no-client-token', [CompletionResultType]::ParameterName, 'Do not create a client token (the packages use this; add one later with `mymcp token add`)')
            [CompletionResult]::new('--no-start', '--no-start', [CompletionResultType]::ParameterName, 'Do not start (or restart) the service after enabling it')
            [CompletionResult]::new('--no-unit', '--no-unit', [CompletionResultType]::ParameterName, 'Do not write a unit file (the packages ship their own)')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only write files; never call systemctl (works without root or systemd). The log and recorder directories then default to inside --config-dir, and no unit is written unless --unit-dir is given')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be done and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;uninstall-service' {
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Directory for .env and tokens.json')
            [CompletionResult]::new('--log-dir', '--log-dir', [CompletionResultType]::ParameterName, 'Directory for the audit log [default: /var/log/mymcp; with --files-only: <config-dir>/log]')
            [CompletionResult]::new('--recorder-data-dir', '--recorder-data-dir', [CompletionResultType]::ParameterName, 'Directory for the recorder''s overview and cursor [default: /var/lib/mymcp/recorder; with --files-only: <config-dir>/recorder]')
            [CompletionResult]::new('--unit-dir', '--unit-dir', [CompletionResultType]::ParameterName, 'Directory for mymcp.service [default: /etc/systemd/system; with --files-only no unit unless this is given]')
            [CompletionResult]::new('-y', '-y', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--yes', '--yes', [CompletionResultType]::ParameterName, 'Do not ask for confirmation')
            [CompletionResult]::new('--purge', '--purge', [CompletionResultType]::ParameterName, 'Also delete the config directory (env file, tokens), the audit log directory and the recorder data. This cannot be undone')
            [CompletionResult]::new('--files-only', '--files-only', [CompletionResultType]::ParameterName, 'Only remove files; never call systemctl')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print what would be done and change nothing')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;doctor' {
            [CompletionResult]::new('--config-dir', '--config-dir', [CompletionResultType]::ParameterName, 'Config directory to check (its .env)')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to check instead of <config-dir>/.env')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the checks as JSON')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Exit 1 on warnings too, not only on failures')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;recorder' {
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Env file to read (same discovery as `serve`)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Run one cycle, print its outcome as JSON and exit')
            [CompletionResult]::new('--install-unit', '--install-unit', [CompletionResultType]::ParameterName, 'Print the systemd unit for this binary and exit')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'mymcp;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the MCP server in the foreground')
            [CompletionResult]::new('stdio', 'stdio', [CompletionResultType]::ParameterValue, 'Serve MCP over stdin/stdout for one local client (or `ssh host mymcp stdio`); the caller is the OS user running it')
            [CompletionResult]::new('version', 'version', [CompletionResultType]::ParameterValue, 'Print the version')
            [CompletionResult]::new('token', 'token', [CompletionResultType]::ParameterValue, 'Manage client tokens and the admin/metrics tokens')
            [CompletionResult]::new('config', 'config', [CompletionResultType]::ParameterValue, 'Configuration helpers')
            [CompletionResult]::new('init', 'init', [CompletionResultType]::ParameterValue, 'Set mymcp up as a systemd service: config, tokens, unit, first client token')
            [CompletionResult]::new('uninstall-service', 'uninstall-service', [CompletionResultType]::ParameterValue, 'Stop and remove the service written by `mymcp init` (config kept unless --purge)')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check the installation, configuration, service and a real tools/list call')
            [CompletionResult]::new('recorder', 'recorder', [CompletionResultType]::ParameterValue, 'Keep the host overview behind `server_overview` up to date with an LLM (runs as the mymcp-recorder service; needs MYMCP_RECORDER_ENABLED=true and MYMCP_RECORDER_LLM_*)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'mymcp;help;serve' {
            break
        }
        'mymcp;help;stdio' {
            break
        }
        'mymcp;help;version' {
            break
        }
        'mymcp;help;token' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List client tokens (ids, never values) and whether admin/metrics tokens are set')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Create a client token and print its value (shown only this once)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client token, given its value or its id')
            [CompletionResult]::new('rotate-admin', 'rotate-admin', [CompletionResultType]::ParameterValue, 'Generate a new admin token and write it to the env file')
            [CompletionResult]::new('rotate-metrics', 'rotate-metrics', [CompletionResultType]::ParameterValue, 'Generate a new metrics token and write it to the env file')
            [CompletionResult]::new('disable-metrics', 'disable-metrics', [CompletionResultType]::ParameterValue, 'Clear the metrics token (/metrics then answers 503)')
            break
        }
        'mymcp;help;token;list' {
            break
        }
        'mymcp;help;token;add' {
            break
        }
        'mymcp;help;token;revoke' {
            break
        }
        'mymcp;help;token;rotate-admin' {
            break
        }
        'mymcp;help;token;rotate-metrics' {
            break
        }
        'mymcp;help;token;disable-metrics' {
            break
        }
        'mymcp;help;config' {
            [CompletionResult]::new('example', 'example', [CompletionResultType]::ParameterValue, 'Print a commented example env file')
            break
        }
        'mymcp;help;config;example' {
            break
        }
        'mymcp;help;init' {
            break
        }
        'mymcp;help;uninstall-service' {
            break
        }
        'mymcp;help;doctor' {
            break
        }
        'mymcp;help;recorder' {
            break
        }
        'mymcp;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
