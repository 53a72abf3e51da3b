{
  description = "mymcp: MCP server that lets AI clients operate a Linux host";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      packages = forAllSystems (pkgs: rec {
        mymcp = pkgs.callPackage ./nix/package.nix { };
        default = mymcp;
      });

      overlays.default = final: _prev: {
        mymcp = final.callPackage ./nix/package.nix { };
      };

      nixosModules = rec {
        mymcp = import ./nix/module.nix self;
        default = mymcp;
      };

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.system}.mymcp;
        vm = import ./nix/tests/vm.nix { inherit pkgs self; };
      });
    };
}
