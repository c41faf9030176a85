#!/usr/bin/env bash
# Runs the whole service locally: a local EVM devnet (anvil with 6-decimal test USDT and USDC,
# from npm) configured as the sandbox chain of tron, arbitrum and base, and `payouts-local`
# (API + chain-watcher + webhook dispatcher + source-wallet scanner + reconciliation job) on the embedded store in ${PAYOUTS_DATA_DIR:-./.payouts}.
# No AWS account, no Docker. Ctrl-C stops both.
#
# Variables: PAYOUTS_PORT (8080), PAYOUTS_DATA_DIR (./.payouts), PAYOUTS_DEVNET_PORT (8545),
# PAYOUTS_DEVNET_BLOCK_TIME (1 second), PAYOUTS_DEVNET_FRESH (1: forget the kept chain), and any
# PAYOUTS_* variable of the README.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DATA_DIR="${PAYOUTS_DATA_DIR:-./.payouts}"
DEVNET_DIR="$DATA_DIR/devnet"
DEVNET_PORT="${PAYOUTS_DEVNET_PORT:-8545}"

cargo build --quiet -p payouts-functions --bin payouts-local --bin payouts-admin

infra/devnet/stop.sh --state-dir "$DEVNET_DIR" >/dev/null 2>&1 || true
# The devnet continues the chain kept in $DEVNET_DIR; PAYOUTS_DEVNET_FRESH=1 starts a new one.
FRESH_FLAG=()
[[ "${PAYOUTS_DEVNET_FRESH:-0}" == 1 ]] && FRESH_FLAG=(--fresh)
infra/devnet/start.sh --port "$DEVNET_PORT" --state-dir "$DEVNET_DIR" --block-time "${PAYOUTS_DEVNET_BLOCK_TIME:-1}" "${FRESH_FLAG[@]}"
trap 'infra/devnet/stop.sh --state-dir "$DEVNET_DIR" >/dev/null 2>&1 || true' EXIT
set -a
# shellcheck disable=SC1091
. "$DEVNET_DIR/devnet.env"
set +a

# Tron's JSON-RPC is Ethereum-compatible: the devnet stands in for it too. Its token contract is
# configured in tron's own address form (the same 20 bytes as the devnet contract).
tron_form() { python3 -c '
import hashlib, sys
A = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
raw = bytes([0x41]) + bytes.fromhex(sys.argv[1][2:])
raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
n = int.from_bytes(raw, "big"); out = ""
while n: n, r = divmod(n, 58); out = A[r] + out
print(out)' "$1"; }

export PAYOUTS_DATA_DIR="$DATA_DIR"
for chain in TRON ARBITRUM BASE; do
  export "PAYOUTS_SANDBOX_${chain}_RPC_URL=${PAYOUTS_SANDBOX_RPC_URL:-$DEVNET_RPC_URL}"
  # A devnet has no block explorer: the dashboard shows tx hashes without links.
  explorer_var="PAYOUTS_SANDBOX_${chain}_EXPLORER_TX_URL"
  export "$explorer_var=${!explorer_var:-none}"
done
export PAYOUTS_SANDBOX_TRON_USDT_CONTRACT="$(tron_form "$DEVNET_USDT")"
export PAYOUTS_SANDBOX_ARBITRUM_USDT_CONTRACT="$DEVNET_USDT"
export PAYOUTS_SANDBOX_ARBITRUM_USDC_CONTRACT="$DEVNET_USDC"
export PAYOUTS_SANDBOX_BASE_USDC_CONTRACT="$DEVNET_USDC"
export PAYOUTS_WATCH_INTERVAL_SECONDS="${PAYOUTS_WATCH_INTERVAL_SECONDS:-2}"

cat <<INFO

Devnet (sandbox chain of tron, arbitrum and base): $DEVNET_RPC_URL
  test USDT: $DEVNET_USDT   (tron form: $PAYOUTS_SANDBOX_TRON_USDT_CONTRACT)
  test USDC: $DEVNET_USDC
  funded account: $DEVNET_FUNDED_ADDRESS
  its private key: $DEVNET_FUNDED_PRIVATE_KEY
  cast: infra/devnet/node_modules/.bin/cast
Dashboard: http://127.0.0.1:${PAYOUTS_PORT:-8080}/dashboard/   (sign in with a key printed below)
INFO

cargo run --quiet -p payouts-functions --bin payouts-local
