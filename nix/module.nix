# NixOS module: services.mymcp.
{ config, lib, pkgs, ... }:

let
  cfg = config.services.mymcp;
  inherit (lib) mkOption mkEnableOption mkIf types literalExpression;

  stateDir = "/var/lib/mymcp";
  # Without environmentFile the service makes its own on first start (fresh admin and
  # metrics tokens, mode 0600), the way the .deb's postinst does, and keeps it afterwards.
  envFile = if cfg.environmentFile != null then cfg.environmentFile else "${stateDir}/.env";

  toEnv = v: if builtins.isBool v then lib.boolToString v else toString v;

  # Names the binary reads, from the example env file it renders (one source of truth).
  knownKeys = builtins.filter builtins.isString (map
    (l: let m = builtins.match "#? ?(MYMCP_[A-Z0-9_]+)=.*" l; in if m == null then null else builtins.head m)
    (builtins.filter builtins.isString (builtins.split "\n" (builtins.readFile ../packaging/mymcp.env.example))));
  # What first-class options set; `settings` must not move them behind the options' back
  # (settings.MYMCP_PORT would move the port while openFirewall opens the old one).
  ownedKeys = [
    "MYMCP_HOST" "MYMCP_PORT" "MYMCP_AUDIT_ENABLED" "MYMCP_AUDIT_LOG_DIR" "MYMCP_TOKEN_FILE"
    "MYMCP_RECORDER_DATA_DIR" "MYMCP_RECORDER_ENABLED" "MYMCP_METRICS_TOKEN" "MYMCP_RO_SHELL"
    "MYMCP_RO_SHELL_USER" "MYMCP_RO_SHELL_GROUPS" "MYMCP_ENV_FILE" "MYMCP_TLS_CERT" "MYMCP_TLS_KEY"
  ];
  # Secrets (tokens, MYMCP_OAUTH_CLIENT_SECRET, API keys) would land in the world-readable
  # store: they belong in environmentFile.
  isSecret = k: builtins.match "MYMCP_.*(_TOKEN|SECRET|API_KEY|PASSWORD).*" k != null;
  badSettings = builtins.filter
    (k: builtins.elem k ownedKeys || !(builtins.elem k knownKeys) || isSecret k)
    (builtins.attrNames cfg.settings);
  checkedSettings =
    if badSettings == [ ] then cfg.settings
    else throw ("services.mymcp.settings: ${builtins.concatStringsSep ", " badSettings}: "
      + "not a MYMCP_* setting of this version, or one a first-class option sets "
      + "(host, port, audit, recorder, metrics, roShell, environmentFile, tls), "
      + "or a secret (put it in environmentFile, not the Nix store)");

  # systemd copies the pair into the unit's credentials directory at start, readable only by
  # the service user (mode 0400), whoever owns the originals: an ACME key (0640, group acme)
  # then needs no group membership and passes the server's key-mode check.
  tlsOn =
    if (cfg.tls.certificateFile == null) == (cfg.tls.keyFile == null) then cfg.tls.certificateFile != null
    else throw "services.mymcp.tls: set both certificateFile and keyFile, or neither";
  credentials = "/run/credentials/mymcp.service";

  # Process environment beats the env file, so these always win over what the file says.
  environment = {
    MYMCP_HOST = cfg.host;
    MYMCP_PORT = toString cfg.port;
    MYMCP_AUDIT_ENABLED = lib.boolToString cfg.audit.enable;
    MYMCP_AUDIT_LOG_DIR = "/var/log/mymcp";
    MYMCP_TOKEN_FILE = "${stateDir}/tokens.json";
    MYMCP_RECORDER_DATA_DIR = "${stateDir}/recorder";
    MYMCP_RECORDER_ENABLED = lib.boolToString cfg.recorder.enable;
  }
  // lib.optionalAttrs (!cfg.metrics.enable) { MYMCP_METRICS_TOKEN = ""; }
  // {
    MYMCP_RO_SHELL = lib.boolToString cfg.roShell.enable;
  }
  // lib.optionalAttrs cfg.roShell.enable {
    MYMCP_RO_SHELL_USER = cfg.roShell.user;
    MYMCP_RO_SHELL_GROUPS = builtins.concatStringsSep "," cfg.roShell.groups;
  }
  // lib.optionalAttrs tlsOn {
    MYMCP_TLS_CERT = "${credentials}/tls-cert";
    MYMCP_TLS_KEY = "${credentials}/tls-key";
  }
  // lib.mapAttrs (_: toEnv) checkedSettings;

  # A failing init fails the unit (set -e), instead of claiming it wrote the file.
  firstStart = pkgs.writeShellScript "mymcp-first-start" ''
    set -eu
    if [ ! -e ${stateDir}/.env ]; then
      ${lib.getExe cfg.package} init --files-only --no-unit --no-client-token --yes \
        --bind ${lib.escapeShellArg cfg.host} --port ${toString cfg.port} \
        --config-dir ${stateDir} --log-dir /var/log/mymcp \
        --recorder-data-dir ${stateDir}/recorder >/dev/null
      echo "mymcp: wrote ${stateDir}/.env with a new admin token (MYMCP_ADMIN_TOKEN)"
    fi
  '';
in
{
  # Errors in definitions then name this file instead of <unknown-file>.
  _file = "nix/module.nix";

  options.services.mymcp = {
    enable = mkEnableOption "mymcp, the MCP server that lets AI clients operate this host";

    package = mkOption {
      type = types.package;
      # Built with the system's own nixpkgs (its Rust, its libc), not the flake's pin.
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./nix/package.nix { }";
      description = "The mymcp package to run.";
    };

    host = mkOption {
      type = types.str;
      default = "127.0.0.1";
      description = ''
        Address to listen on. The default keeps the server local; to reach it from other
        machines use 0.0.0.0 with openFirewall and tls.*, or put a TLS reverse proxy in front.
      '';
    };

    port = mkOption {
      type = types.port;
      default = 8765;
      description = "TCP port to listen on.";
    };

    openFirewall = mkOption {
      type = types.bool;
      default = false;
      description = "Open `port` in the NixOS firewall.";
    };

    user = mkOption {
      type = types.enum [ "root" "mymcp" ];
      default = "root";
      description = ''
        User the service (and every command a client runs) runs as. root gives clients full
        control of the host, which is the product's purpose; "mymcp" creates an unprivileged
        system user instead.
      '';
    };

    environmentFile = mkOption {
      # A string, not a Nix path: a path literal would copy the secrets into the
      # world-readable Nix store.
      type = types.nullOr (types.strMatching "/.*");
      default = null;
      example = "/run/secrets/mymcp.env";
      description = ''
        Env file with the secrets: MYMCP_ADMIN_TOKEN and, with metrics.enable,
        MYMCP_METRICS_TOKEN. Must be readable by `user`. When null the service writes
        ${stateDir}/.env with fresh tokens on its first start.
      '';
    };

    settings = mkOption {
      type = types.attrsOf (types.oneOf [ types.str types.int types.bool ]);
      default = { };
      example = { MYMCP_PROTECTED_PATHS = "/root/.ssh,/etc/shadow"; MYMCP_BASH_MAX_CONCURRENT = 8; };
      description = ''
        Further MYMCP_* settings (see `mymcp config example`), for example OAuth
        (MYMCP_OAUTH_ISSUER, MYMCP_OAUTH_AUDIENCE, MYMCP_OAUTH_SCOPE_RO/RW; docs/oauth.md). They
        are set in the process environment, so they override the env file. Secrets
        (MYMCP_OAUTH_CLIENT_SECRET, tokens, API keys) are refused here: they would end up in the
        world-readable Nix store; put them in environmentFile.
      '';
    };

    tls = {
      certificateFile = mkOption {
        type = types.nullOr (types.strMatching "/.*");
        default = null;
        example = "/var/lib/acme/mcp.example.com/fullchain.pem";
        description = ''
          Serve HTTPS with this PEM certificate (the server's first, then intermediates); needs
          tls.keyFile. systemd hands both files to the service at start (LoadCredential), so
          they may belong to root or the acme group. After a renewal restart the service, e.g.
          security.acme.certs."mcp.example.com".reloadServices = [ "mymcp" ];
        '';
      };
      keyFile = mkOption {
        type = types.nullOr (types.strMatching "/.*");
        default = null;
        example = "/var/lib/acme/mcp.example.com/key.pem";
        description = "The PEM private key of tls.certificateFile.";
      };
    };

    audit.enable = mkOption {
      type = types.bool;
      default = true;
      description = "Write one JSON line per tool call to /var/log/mymcp/audit.log.";
    };

    recorder.enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Run mymcp-recorder, which keeps the overview behind the server_overview tool up to
        date with an LLM. Put MYMCP_RECORDER_LLM_API_KEY (and provider/model settings) in
        the env file; non-secret MYMCP_RECORDER_* settings can go in `settings`.
      '';
    };

    roShell = {
      enable = mkOption {
        type = types.bool;
        default = false;
        description = ''
          Give ro tokens bash_execute, confined by the kernel: commands run as roShell.user
          with only roShell.groups, under Landlock (read everything but the protected paths,
          write only a private temp directory, no listening sockets, no signals outside) and
          no_new_privs. Needs the service to run as root and a kernel with Landlock ABI 6+
          (Linux 6.12); the service refuses to start otherwise. See docs/security.md.
        '';
      };
      user = mkOption {
        type = types.str;
        default = "nobody";
        description = "User confined commands run as.";
      };
      groups = mkOption {
        type = types.listOf types.str;
        default = [ ];
        example = [ "adm" "systemd-journal" ];
        description = "Supplementary groups of confined commands (for example to read logs).";
      };
    };

    metrics.enable = mkOption {
      type = types.bool;
      default = false;
      description = ''
        Serve GET /metrics to holders of MYMCP_METRICS_TOKEN (from the env file). When false
        the token is cleared and /metrics answers 503.
      '';
    };
  };

  config = mkIf cfg.enable {
    warnings = lib.optionals (cfg.recorder.enable && !cfg.audit.enable) [
      "services.mymcp: the recorder folds the audit log into its overview; with audit.enable = false it has nothing to fold"
    ];

    environment.systemPackages = [ cfg.package ];

    users.users = lib.optionalAttrs (cfg.user == "mymcp") {
      mymcp = {
        isSystemUser = true;
        group = "mymcp";
        description = "mymcp MCP server";
      };
    };
    users.groups = lib.optionalAttrs (cfg.user == "mymcp") { mymcp = { }; };

    networking.firewall.allowedTCPPorts = lib.optionals cfg.openFirewall [ cfg.port ];

    systemd.services = {
      mymcp = {
        description = "mymcp MCP server (AI host control over Streamable HTTP)";
        documentation = [ "man:mymcp(1)" ];
        wantedBy = [ "multi-user.target" ];
        after = [ "network-online.target" ];
        wants = [ "network-online.target" ];
        inherit environment;
        # Clients run shell commands: give them the system's tools, not just the unit's.
        path = [ pkgs.bashInteractive pkgs.coreutils "/run/current-system/sw" ];
        serviceConfig = {
          Type = "notify";
          NotifyAccess = "main";
          WatchdogSec = 30;
          User = cfg.user;
          ExecStartPre = lib.optionals (cfg.environmentFile == null) [ firstStart ];
          ExecStart = "${lib.getExe cfg.package} serve --env-file ${envFile}";
          LoadCredential = lib.optionals tlsOn [
            "tls-cert:${cfg.tls.certificateFile}"
            "tls-key:${cfg.tls.keyFile}"
          ];
          Restart = "on-failure";
          RestartSec = 5;
          KillMode = "mixed";
          TimeoutStopSec = 30;
          LimitNOFILE = 65536;
          StateDirectory = "mymcp";
          StateDirectoryMode = "0750";
          LogsDirectory = "mymcp";
          LogsDirectoryMode = "0750";
          WorkingDirectory = stateDir;
          LockPersonality = true;
        };
      };
    } // lib.optionalAttrs cfg.recorder.enable {
      mymcp-recorder = {
        description = "mymcp recorder (LLM-maintained host overview)";
        documentation = [ "man:mymcp-recorder(1)" ];
        wantedBy = [ "multi-user.target" ];
        # mymcp.service writes the env file on its first start, and the recorder folds its
        # audit log: it is pulled in, not just ordered after.
        after = [ "network-online.target" "mymcp.service" ];
        wants = [ "network-online.target" "mymcp.service" ];
        inherit environment;
        path = [ pkgs.bashInteractive pkgs.coreutils "/run/current-system/sw" ];
        serviceConfig = {
          User = cfg.user;
          ExecStart = "${lib.getExe cfg.package} recorder --env-file ${envFile}";
          Restart = "on-failure";
          RestartSec = 30;
          StateDirectory = "mymcp";
          StateDirectoryMode = "0750";
          WorkingDirectory = stateDir;
          LockPersonality = true;
        };
      };
    };
  };
}
