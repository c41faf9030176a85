#!/usr/bin/env bash
# Prints template.yaml as JSON, decoded by cfn-lint's CloudFormation YAML loader (the short
# intrinsic tags become their long forms: !Ref X -> {"Ref": "X"}, !GetAtt A.B ->
# {"Fn::GetAtt": ["A", "B"]}, !Sub -> {"Fn::Sub": ...}). The Lambda runtime test reads the
# functions' environment and triggers from it (tests/src/template.rs).
#
# Usage: infra/test-env/template-json.sh [TEMPLATE] > template.json
# Needs the cfn-lint of <repo>/.venv-sam, which infra/test-env/check-template.sh installs.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TEMPLATE="${1:-$REPO_ROOT/template.yaml}"
PYTHON="$REPO_ROOT/.venv-sam/bin/python"
[[ -x "$PYTHON" ]] || { echo "no $PYTHON: run infra/test-env/check-template.sh first" >&2; exit 1; }
"$PYTHON" - "$TEMPLATE" <<'PY'
import json, sys
from cfnlint.decode import decode
template, problems = decode(sys.argv[1])
if problems or template is None:
    sys.exit("cannot decode %s: %s" % (sys.argv[1], problems))
json.dump(template, sys.stdout, indent=1, default=str)
PY
