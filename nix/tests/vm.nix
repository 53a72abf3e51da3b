# NixOS VM test (runs in GitHub Actions: needs nixpkgs and KVM): the module's service starts,
# answers /health, a client token lists the tools, doctor passes, and the service stops cleanly.
{ pkgs, self }:

pkgs.testers.runNixOSTest {
  name = "mymcp";
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
        + f"-H 'Authorization: Bearer {token}' -d '{body}' | grep -o inputSchema | wc -l) = 9"
    )
    machine.succeed("mymcp doctor --config-dir /var/lib/mymcp")
    machine.succeed("systemctl stop mymcp.service")
    machine.succeed("test $(systemctl show -p Result --value mymcp.service) = success")
  '';
}
