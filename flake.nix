{
  description = "mymcp: MCP server that lets AI clients operate a Linux host";

  # nixos-25.11 ships rustc 1.91; the crate needs rust-version (Cargo.toml) and edition 2024.
  # nix/channels.txt records each channel's rustc; packaging/ci/nix.sh checks the pin.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

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
        mymcp = import ./nix/module.nix;
        default = mymcp;
      };

      checks = forAllSystems (pkgs: {
        package = self.packages.${pkgs.system}.mymcp;
        vm = import ./nix/tests/vm.nix { inherit pkgs self; };
      });
    };
}
