# The mymcp package. Man pages and completions are the committed, generated files
# (packaging/man, completions), so nothing runs the binary at build time and cross builds work.
{ lib, rustPlatform, installShellFiles }:

let
  cargoToml = lib.importTOML ../Cargo.toml;
in
rustPlatform.buildRustPackage {
  pname = "mymcp";
  inherit (cargoToml.package) version;

  # Only what the build reads: not .cargo/config.toml (its cross-compilation overrides are for
  # the musl tarballs), the tests, benches, packaging CI or Nix files.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../Cargo.toml
      ../Cargo.lock
      ../src
      ../packaging
      ../completions
      ../docs
      ../README.md
      ../LICENSE
    ];
  };
  cargoLock.lockFile = ../Cargo.lock;

  # Packaged builds carry the OpenTelemetry exporter (inert unless OTEL_* is set).
  buildFeatures = [ "otlp" ];

  nativeBuildInputs = [ installShellFiles ];

  # The integration tests start servers, shells and a Python client: they run in CI, not in
  # the sandbox.
  doCheck = false;

  postInstall = ''
    installManPage packaging/man/*.1
    installShellCompletion --cmd mymcp \
      --bash completions/mymcp.bash \
      --zsh completions/_mymcp \
      --fish completions/mymcp.fish
    install -Dm644 packaging/systemd/mymcp.service $out/share/mymcp/mymcp.service
    install -Dm644 packaging/systemd/mymcp-recorder.service $out/share/mymcp/mymcp-recorder.service
    install -Dm644 packaging/mymcp.env.example $out/share/mymcp/mymcp.env.example
    install -Dm644 -t $out/share/doc/mymcp README.md docs/*.md
  '';

  meta = {
    description = cargoToml.package.description;
    homepage = cargoToml.package.repository;
    license = lib.licenses.mit;
    mainProgram = "mymcp";
    platforms = lib.platforms.linux;
  };
}
