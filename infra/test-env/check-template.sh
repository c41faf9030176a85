#!/usr/bin/env bash
# Static checks of the SAM template, offline: cfn-lint, then the SAM transform (sam validate).
#
# Usage: infra/test-env/check-template.sh [TEMPLATE]     (default: <repo>/template.yaml)
#
# Installs the pinned tools into <repo>/.venv-sam on first use (about 40 s), or when the
# installed versions differ from the pins; later runs take a few seconds. Exits non-zero on
# any cfn-lint error or warning, and on any SAM transform error.
#
# Both are needed: cfn-lint >= 1.54 no longer runs the SAM translator (it checks
# AWS::Serverless::* against schemas), so it passes e.g. an HttpApi event whose ApiId names a
# missing API, or an unknown policy template. `sam validate` (without --lint) runs the
# translator that CloudFormation's transform uses. Neither needs AWS credentials.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

TEST_ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TEST_ENV_DIR/../.." && pwd)"
TEMPLATE="${1:-$REPO_ROOT/template.yaml}"

# Checked to install from PyPI on Python 3.11 and to agree with each other
# (aws-sam-cli 1.170.0 requires cfn-lint >=1.52,<1.59 and brings aws-sam-translator 1.115.0).
CFN_LINT_VERSION="1.58.0"
SAM_CLI_VERSION="1.170.0"
VENV="$REPO_ROOT/.venv-sam"

log() { printf '[check-template] %s\n' "$*" >&2; }
die() { printf '[check-template] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -f "$TEMPLATE" ]] || die "no template at $TEMPLATE"

installed_versions() {
  [[ -x "$VENV/bin/python" ]] || return 0
  "$VENV/bin/python" - <<'EOF' 2>/dev/null || true
import importlib.metadata as m
def v(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return "-"
print(v("cfn-lint"), v("aws-sam-cli"))
EOF
}

ensure_venv() {
  local wanted="$CFN_LINT_VERSION $SAM_CLI_VERSION"
  [[ "$(installed_versions)" == "$wanted" ]] && return 0
  log "installing cfn-lint $CFN_LINT_VERSION and aws-sam-cli $SAM_CLI_VERSION into $VENV"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "aws-sam-cli==$SAM_CLI_VERSION" >&2
  [[ "$(installed_versions)" == "$wanted" ]] || die "installed versions are '$(installed_versions)', expected '$wanted'"
}

# One installer at a time (two checks started together would otherwise both pip install).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$VENV.lock"
  flock 9
fi
ensure_venv

export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 SAM_CLI_TELEMETRY=0

log "cfn-lint $CFN_LINT_VERSION: $TEMPLATE"
# Exit status is a bit mask (2 error, 4 warning, 8 informational); informational findings
# are not reported by default, so any non-zero status is an error or a warning.
"$VENV/bin/cfn-lint" -- "$TEMPLATE" || die "cfn-lint reported findings (above)"

log "sam validate (SAM transform, aws-sam-cli $SAM_CLI_VERSION): $TEMPLATE"
# --config-env names an environment no samconfig.toml defines, so a local samconfig.toml
# cannot change what runs (with `lint = true` there, sam validate would skip the transform).
"$VENV/bin/sam" validate --template-file "$TEMPLATE" --region us-east-1 --config-env check-template-unset >&2 \
  || die "the SAM transform rejected the template (above)"

log "ok: no findings"
