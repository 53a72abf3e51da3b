# Stand-in for nixpkgs so `nix flake check --no-build` can evaluate every output of our flake
# offline: `--override-input nixpkgs path:./nix/tests/stub-nixpkgs`. callPackage really calls
# nix/package.nix; buildRustPackage checks its inputs and returns a trivial derivation.
{
  outputs = _:
    let
      inherit ((import ./stub-lib.nix)) lib;
      mkPkgs = system:
        let
          drv = name: derivation {
            inherit name system;
            builder = "/bin/sh";
            args = [ "-c" "echo stub > $out" ];
          };
          pkgs = {
            inherit lib system;
            stdenv.hostPlatform.system = system;
            callPackage = f: args:
              let fn = if builtins.isFunction f then f else import f;
              in fn (builtins.intersectAttrs (builtins.functionArgs fn) pkgs // args);
            rustPlatform.buildRustPackage = a:
              assert builtins.pathExists a.cargoLock.lockFile || throw "cargoLock.lockFile missing";
              assert builtins.isString a.version && a.version != "" || throw "no version";
              assert builtins.isString a.postInstall || throw "no postInstall";
              drv "${a.pname}-${a.version}" // { inherit (a) meta; };
            installShellFiles = drv "installShellFiles";
            testers.runNixOSTest = t:
              assert builtins.isString t.testScript || throw "no testScript";
              drv "vm-test-run-${t.name}";
            writeShellScript = name: _: drv name;
            bashInteractive = drv "bash";
            coreutils = drv "coreutils";
            curl = drv "curl";
          };
        in
        pkgs;
    in
    {
      inherit lib;
      legacyPackages = lib.genAttrs [ "x86_64-linux" "aarch64-linux" ] mkPkgs;
    };
}
