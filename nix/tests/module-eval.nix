# Evaluate nix/module.nix without nixpkgs, against a small stand-in for its `lib` that type-checks
# every option and rejects unknown ones. Run offline:
#   nix-instantiate --eval --strict --json nix/tests/module-eval.nix
# It prints the list of passed checks, or fails naming the ones that did not hold.
let
  stub = import ./stub-nixpkgs/stub-lib.nix;
  inherit (stub) lib;

  fakePackage = {
    outPath = "/nix/store/fake-mymcp";
    name = "mymcp";
    meta.mainProgram = "mymcp";
  };
  pkgs = {
    stdenv.hostPlatform.system = "x86_64-linux";
    # The script's text rides along after a colon, so checks can look into it.
    writeShellScript = name: text: "/nix/store/fake-${name}:${text}";
    bashInteractive = { outPath = "/nix/store/fake-bash"; };
    coreutils = { outPath = "/nix/store/fake-coreutils"; };
    callPackage = _path: _args: fakePackage;
  };
  module = import ../module.nix;

  # Options resolved against the user's definitions: every defined name must be declared,
  # every value must pass its type's check, every declared option needs a value or default.
  resolve = path: decls: defs:
    let
      unknown = builtins.filter (n: !(decls ? ${n})) (builtins.attrNames defs);
    in
    if unknown != [ ] then
      throw "unknown option ${path}.${builtins.head unknown}"
    else
      builtins.mapAttrs
        (n: d:
          if (d._type or null) == "option" then
            let
              v =
                if defs ? ${n} then defs.${n}
                else if d ? default then d.default
                else throw "option ${path}.${n} is used but not defined";
            in
            if d.type.check v then v
            else throw "option ${path}.${n}: value is not of type ${d.type.name}"
          else resolve "${path}.${n}" d (defs.${n} or { }))
        decls;

  eval = user:
    let
      m = module { inherit config pkgs lib; };
      config.services.mymcp = resolve "services.mymcp" m.options.services.mymcp (user.services.mymcp or { });
      raw = m.config;
    in
    {
      inherit config;
      out = if (raw._type or null) == "if" then (if raw.cond then raw.content else { }) else raw;
    };

  has = needle: hay: builtins.replaceStrings [ needle ] [ "" ] hay != hay;
  firstStartOf = e: builtins.head e.out.systemd.services.mymcp.serviceConfig.ExecStartPre;

  fails = user: !(builtins.tryEval (builtins.deepSeq (eval user).config true)).success;
  # Fails when the module's own output does not evaluate (its checks on values).
  outFails = user: !(builtins.tryEval (builtins.deepSeq (eval user).out true)).success;

  on = eval { services.mymcp.enable = true; };
  svc = on.out.systemd.services.mymcp;
  custom = eval {
    services.mymcp = {
      enable = true;
      host = "0.0.0.0";
      port = 9000;
      openFirewall = true;
      user = "mymcp";
      environmentFile = "/run/secrets/mymcp.env";
      metrics.enable = true;
      audit.enable = false;
      recorder.enable = true;
      settings = { MYMCP_BASH_MAX_CONCURRENT = 4; MYMCP_TRUST_FORWARDED = true; };
      roShell = { enable = true; groups = [ "adm" "systemd-journal" ]; };
    };
  };
  csvc = custom.out.systemd.services.mymcp;
  tlsOn = eval {
    services.mymcp = {
      enable = true;
      tls = { certificateFile = "/var/lib/acme/x/fullchain.pem"; keyFile = "/var/lib/acme/x/key.pem"; };
    };
  };
  tsvc = tlsOn.out.systemd.services.mymcp;

  checks = {
    disabled-adds-nothing = (eval { }).out == { };
    exec-start = svc.serviceConfig.ExecStart == "/nix/store/fake-mymcp/bin/mymcp serve --env-file /var/lib/mymcp/.env";
    first-start-generates-secrets = has "/nix/store/fake-mymcp-first-start:" (firstStartOf on)
      && has "init --files-only" (firstStartOf on);
    # A failing `mymcp init` must fail the unit, not print "wrote".
    first-start-fails-on-error = has "set -eu" (firstStartOf on);
    type-notify-with-watchdog = svc.serviceConfig.Type == "notify" && svc.serviceConfig.WatchdogSec == 30;
    root-by-default = svc.serviceConfig.User == "root" && on.out.users.users == { };
    loopback-by-default = svc.environment.MYMCP_HOST == "127.0.0.1" && svc.environment.MYMCP_PORT == "8765";
    audit-on-metrics-off = svc.environment.MYMCP_AUDIT_ENABLED == "true" && svc.environment.MYMCP_METRICS_TOKEN == "";
    firewall-closed = on.out.networking.firewall.allowedTCPPorts == [ ];
    wanted-by-multi-user = svc.wantedBy == [ "multi-user.target" ];
    bash-on-path = builtins.elem pkgs.bashInteractive svc.path;
    custom-port-and-firewall = custom.out.networking.firewall.allowedTCPPorts == [ 9000 ]
      && csvc.environment.MYMCP_PORT == "9000" && csvc.environment.MYMCP_HOST == "0.0.0.0";
    custom-user-created = csvc.serviceConfig.User == "mymcp" && custom.out.users.users.mymcp.isSystemUser
      && custom.out.users.groups ? mymcp;
    # Secrets must not reach the process environment (readable in /proc/<pid>/environ).
    no-environment-file = !(svc.serviceConfig ? EnvironmentFile) && !(csvc.serviceConfig ? EnvironmentFile);
    custom-env-file = csvc.serviceConfig.ExecStartPre == [ ]
      && csvc.serviceConfig.ExecStart == "/nix/store/fake-mymcp/bin/mymcp serve --env-file /run/secrets/mymcp.env";
    custom-metrics-and-audit = !(csvc.environment ? MYMCP_METRICS_TOKEN) && csvc.environment.MYMCP_AUDIT_ENABLED == "false";
    ro-shell-off-by-default = svc.environment.MYMCP_RO_SHELL == "false" && !(svc.environment ? MYMCP_RO_SHELL_USER);
    ro-shell-settings = csvc.environment.MYMCP_RO_SHELL == "true" && csvc.environment.MYMCP_RO_SHELL_USER == "nobody"
      && csvc.environment.MYMCP_RO_SHELL_GROUPS == "adm,systemd-journal";
    settings-stringified = csvc.environment.MYMCP_BASH_MAX_CONCURRENT == "4" && csvc.environment.MYMCP_TRUST_FORWARDED == "true";
    recorder-off-by-default = !(on.out.systemd.services ? mymcp-recorder)
      && svc.environment.MYMCP_RECORDER_ENABLED == "false";
    recorder-service = custom.out.systemd.services.mymcp-recorder.serviceConfig.ExecStart
      == "/nix/store/fake-mymcp/bin/mymcp recorder --env-file /run/secrets/mymcp.env"
      && csvc.environment.MYMCP_RECORDER_ENABLED == "true";
    rejects-unknown-option = fails { services.mymcp.enabled = true; };
    rejects-unknown-nested = fails { services.mymcp.audit.enabled = true; };
    rejects-port-string = fails { services.mymcp = { enable = true; port = "80"; }; };
    rejects-port-range = fails { services.mymcp = { enable = true; port = 70000; }; };
    rejects-list-setting = fails { services.mymcp = { enable = true; settings.X = [ 1 ]; }; };
    rejects-relative-env-file = fails { services.mymcp = { enable = true; environmentFile = "secrets.env"; }; };
    # A path literal would be copied into the world-readable store.
    rejects-path-literal-env-file = fails { services.mymcp = { enable = true; environmentFile = ./module-eval.nix; }; };
    rejects-unknown-user = fails { services.mymcp = { enable = true; user = "www-data"; }; };
    rejects-owned-setting = outFails { services.mymcp = { enable = true; settings.MYMCP_PORT = 9; }; };
    rejects-unknown-setting = outFails { services.mymcp = { enable = true; settings.MYMCP_BASH_MAX_CONCURENT = 4; }; };
    rejects-non-mymcp-setting = outFails { services.mymcp = { enable = true; settings.PATH = "/x"; }; };
    host-is-shell-quoted = has "--bind '127.0.0.1; rm -rf /' " (firstStartOf (eval { services.mymcp = { enable = true; host = "127.0.0.1; rm -rf /"; }; }));
    recorder-wants-server = custom.out.systemd.services.mymcp-recorder.wants == [ "network-online.target" "mymcp.service" ];
    recorder-without-audit-warns = builtins.length custom.out.warnings == 1 && on.out.warnings == [ ];
    tls-off-by-default = !(svc.environment ? MYMCP_TLS_CERT) && svc.serviceConfig.LoadCredential == [ ];
    tls-through-credentials = tsvc.serviceConfig.LoadCredential
      == [ "tls-cert:/var/lib/acme/x/fullchain.pem" "tls-key:/var/lib/acme/x/key.pem" ]
      && tsvc.environment.MYMCP_TLS_CERT == "/run/credentials/mymcp.service/tls-cert"
      && tsvc.environment.MYMCP_TLS_KEY == "/run/credentials/mymcp.service/tls-key";
    tls-needs-both = outFails { services.mymcp = { enable = true; tls.certificateFile = "/c.pem"; }; };
    rejects-relative-tls = fails { services.mymcp = { enable = true; tls = { certificateFile = "c.pem"; keyFile = "/k"; }; }; };
    rejects-owned-tls-setting = outFails { services.mymcp = { enable = true; settings.MYMCP_TLS_CERT = "/c"; }; };
    rejects-secret-setting = outFails { services.mymcp = { enable = true; settings.MYMCP_OAUTH_CLIENT_SECRET = "s"; }; };
    accepts-oauth-settings = (eval { services.mymcp = { enable = true; settings = {
      MYMCP_OAUTH_ISSUER = "https://sso.example.com/realms/ops"; MYMCP_OAUTH_SCOPE_RW = "ops:rw"; }; }; })
      .out.systemd.services.mymcp.environment.MYMCP_OAUTH_ISSUER == "https://sso.example.com/realms/ops";
    module-names-its-file = (module { inherit (on) config; inherit pkgs lib; })._file == "nix/module.nix";
  };
  failed = builtins.filter (n: !checks.${n}) (builtins.attrNames checks);
in
if failed == [ ] then builtins.attrNames checks
else throw "module checks failed: ${builtins.concatStringsSep ", " failed}"
