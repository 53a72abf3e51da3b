# A small stand-in for nixpkgs' `lib`, enough to evaluate our flake and module offline
# (nixpkgs itself cannot be fetched on the CI machine). Every type has a real `check`;
# mkOption insists on a type and a description.
let
  mkType = name: check: { _type = "type"; inherit name check; };
  isAbsPath = v: builtins.isPath v || (builtins.isString v && builtins.substring 0 1 v == "/");
  types = {
    str = mkType "str" builtins.isString;
    bool = mkType "bool" builtins.isBool;
    int = mkType "int" builtins.isInt;
    port = mkType "port" (v: builtins.isInt v && v >= 0 && v <= 65535);
    path = mkType "path" isAbsPath;
    package = mkType "package" (v: builtins.isAttrs v && v ? outPath);
    enum = vs: mkType "one of ${builtins.concatStringsSep ", " vs}" (v: builtins.elem v vs);
    strMatching = re: mkType "string matching ${re}" (v: builtins.isString v && builtins.match re v != null);
    nullOr = t: mkType "null or ${t.name}" (v: v == null || t.check v);
    listOf = t: mkType "list of ${t.name}" (v: builtins.isList v && builtins.all t.check v);
    attrsOf = t: mkType "attribute set of ${t.name}"
      (v: builtins.isAttrs v && builtins.all t.check (builtins.attrValues v));
    oneOf = ts: mkType "one of ${builtins.concatStringsSep ", " (map (t: t.name) ts)}"
      (v: builtins.any (t: t.check v) ts);
  };
  mkOption = attrs:
    assert attrs ? type || throw "mkOption without a type";
    assert attrs ? description || throw "mkOption without a description";
    attrs // { _type = "option"; };
in
{
  lib = {
    inherit types mkOption;
    mkEnableOption = name: mkOption { type = types.bool; default = false; description = "Whether to enable ${name}."; };
    mkIf = cond: content: { _type = "if"; inherit cond content; };
    literalExpression = text: { _type = "literalExpression"; inherit text; };
    optionalAttrs = c: a: if c then a else { };
    optionals = c: l: if c then l else [ ];
    boolToString = b: if b then "true" else "false";
    escapeShellArg = v: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] (toString v) + "'";
    inherit (builtins) mapAttrs;
    getExe = p: "${p.outPath}/bin/${p.meta.mainProgram}";
    genAttrs = names: f: builtins.listToAttrs (map (n: { name = n; value = f n; }) names);
    importTOML = p: builtins.fromTOML (builtins.readFile p);
    cleanSource = p: p;
    fileset = {
      unions = paths: assert builtins.all builtins.pathExists paths || throw "fileset: a path does not exist"; paths;
      toSource = { root, fileset }: assert builtins.isList fileset; root;
    };
    licenses.mit = { spdxId = "MIT"; };
    platforms.linux = [ "x86_64-linux" "aarch64-linux" ];
  };
}
