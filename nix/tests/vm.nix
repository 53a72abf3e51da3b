# NixOS VM test (runs in GitHub Actions: needs nixpkgs and KVM): the module's service starts,
# answers /health, a client token lists the tools, doctor passes, and the service stops cleanly.
# A second node runs it the other way round: as the unprivileged `mymcp` user, with its own
# environmentFile, a non-default port and an open firewall, and a token added with the CLI as
# root must work without a restart.
{ pkgs, self }:

pkgs.testers.runNixOSTest {
  name = "mymcp";
  nodes.unprivileged = { ... }: {
    imports = [ self.nixosModules.default ];
    services.mymcp = {
      enable = true;
      user = "mymcp";
      host = "0.0.0.0";
      port = 9000;
      openFirewall = true;
      environmentFile = "/etc/mymcp-secrets.env";
    };
    # Test-only secret (it lands in the store here; real hosts use agenix/sops).
    environment.etc."mymcp-secrets.env" = {
      text = "MYMCP_ADMIN_TOKEN=tok_vmtest_admin_0123456789abcdef0123\n";
      mode = "0600";
      user = "mymcp";
    };
    environment.systemPackages = [ pkgs.curl ];
  };
  nodes.machine = { ... }: {
    imports = [ self.nixosModules.default ];
    services.mymcp = {
      enable = true;
      settings.MYMCP_PROTECTED_PATHS = "/root/.ssh";
    };
    environment.systemPackages = [ pkgs.curl ];
  };
  testScript = ''
    machine.wait_for_unit("mymcp.service")
    machine.wait_until_succeeds("curl -sf http://127.0.0.1:8765/health")
    machine.succeed("test $(stat -c %a /var/lib/mymcp/.env) = 600")
    token = machine.succeed(
        "mymcp token add --env-file /var/lib/mymcp/.env --role rw vmtest 2>/dev/null"
    ).strip()
    body = '{"jsonrpc":"2.0","id":1,"method":"tools/list"}'
    machine.wait_until_succeeds(
        "test $(curl -s http://127.0.0.1:8765/mcp -H 'Content-Type: application/json' "
        + f"-H 'Authorization: Bearer {token}' -d '{body}' | grep -o inputSchema | wc -l) = 12"
    )
    machine.succeed("mymcp doctor --config-dir /var/lib/mymcp")
    machine.succeed("systemctl stop mymcp.service")
    machine.succeed("test $(systemctl show -p Result --value mymcp.service) = success")

    unprivileged.wait_for_unit("mymcp.service")
    unprivileged.wait_until_succeeds("curl -sf http://127.0.0.1:9000/health")
    unprivileged.succeed("test $(ps -o user= -p $(systemctl show -p MainPID --value mymcp)) = mymcp")
    token = unprivileged.succeed(
        "mymcp token add --env-file /etc/mymcp-secrets.env --role rw vmuser 2>/dev/null"
    ).strip()
    unprivileged.succeed("test $(stat -c %U /var/lib/mymcp/tokens.json) = mymcp")
    unprivileged.wait_until_succeeds(
        "test $(curl -s http://127.0.0.1:9000/mcp -H 'Content-Type: application/json' "
        + f"-H 'Authorization: Bearer {token}' -d '{body}' | grep -o inputSchema | wc -l) = 12"
    )
  '';
}
