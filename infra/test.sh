#!/usr/bin/env bash
# Installs what the tests need and runs them all: the AWS emulator (moto, in .venv-moto), the
# template checks (cfn-lint + sam validate, in .venv-sam), an OpenAPI validator (.venv-openapi),
# the API fuzzer (schemathesis, in .venv-fuzz), billing.io's Python SDK (in .venv-billingio),
# anvil/cast and TronWeb (npm, in infra/devnet), Debian's chromium (apt) with playwright-core and
# axe-core (npm, in tests/browser) for the dashboard's browser test,
# then every Rust test of the workspace. Everything listens on 127.0.0.1 and is stopped at exit.
#
# Usage: infra/test.sh [extra cargo test args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

WORK="$PWD/.test-work"
mkdir -p "$WORK"
step() { printf '\n==> %s\n' "$*" >&2; }

step "local EVM node (anvil, cast), solc and TronWeb from npm"
if [[ ! -x infra/devnet/node_modules/.bin/anvil || ! -d infra/devnet/node_modules/tronweb ]]; then
  npm ci --prefix infra/devnet --no-audit --no-fund --loglevel=error >&2
fi

step "headless Chromium (Debian's package) and Playwright + axe-core (npm) for the dashboard test"
if [[ -z "${PAYOUTS_TEST_CHROMIUM:-}" ]]; then
  if [[ ! -x /usr/bin/chromium ]]; then
    SUDO=""; [[ "$(id -u)" == 0 ]] || SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends chromium >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y --no-install-recommends chromium >&2; }
  fi
  export PAYOUTS_TEST_CHROMIUM=/usr/bin/chromium
fi
if [[ ! -d tests/browser/node_modules/playwright-core || ! -d tests/browser/node_modules/axe-core ]]; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >&2
fi

step "AWS emulator (moto)"
MOTO_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
MOTO_DIR="$WORK/moto-$MOTO_PORT"
cleanup() { infra/test-env/moto.sh stop --dir "$MOTO_DIR" >/dev/null 2>&1 || true; }
trap cleanup EXIT
infra/test-env/moto.sh start --port "$MOTO_PORT" --dir "$MOTO_DIR" >/dev/null
export PAYOUTS_TEST_AWS_ENDPOINT="http://127.0.0.1:$MOTO_PORT"

step "template.yaml (cfn-lint, sam validate), and decoded for the Lambda runtime test"
infra/test-env/check-template.sh
infra/test-env/template-json.sh > "$WORK/template.json"
export PAYOUTS_TEST_TEMPLATE_JSON="$WORK/template.json"

step "OpenAPI validator (the served document is checked by a test)"
if [[ ! -x .venv-openapi/bin/python ]] || ! .venv-openapi/bin/python -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m venv .venv-openapi
  .venv-openapi/bin/pip install --quiet --disable-pip-version-check 'openapi-spec-validator==0.9.0' >&2
fi
export PAYOUTS_TEST_OPENAPI_PYTHON="$PWD/.venv-openapi/bin/python"

step "API fuzzer (schemathesis, for the fuzz run of the served document)"
if [[ ! -x .venv-fuzz/bin/st ]] || ! .venv-fuzz/bin/st --version 2>/dev/null | grep -q '4.32.5'; then
  python3 -m venv .venv-fuzz
  .venv-fuzz/bin/pip install --quiet --disable-pip-version-check 'schemathesis==4.32.5' >&2
fi
export PAYOUTS_TEST_SCHEMATHESIS="$PWD/.venv-fuzz/bin/st"

step "billing.io's Python SDK (its webhook verification against our signatures)"
if [[ ! -x .venv-billingio/bin/python ]] || ! .venv-billingio/bin/python -c 'import importlib.metadata as m, billingio; assert m.version("billingio") == "2.0.0"' 2>/dev/null; then
  python3 -m venv .venv-billingio
  .venv-billingio/bin/pip install --quiet --disable-pip-version-check 'billingio==2.0.0' >&2
fi
export PAYOUTS_TEST_BILLINGIO_PYTHON="$PWD/.venv-billingio/bin/python"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo test"
# No incremental artefacts: a from-nothing run needs them never, and they are a sixth of the
# target directory's size on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
cargo test --workspace --locked "$@"
