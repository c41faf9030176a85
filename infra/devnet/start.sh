#!/usr/bin/env bash
# Local EVM devnet for the payout service: anvil + three test stablecoins.
#
# Usage: infra/devnet/start.sh [--port PORT] [--state-dir DIR] [--block-time SECONDS] [--fresh] [--foreground]
#
#   --port PORT       JSON-RPC port on 127.0.0.1 (default 8545)
#   --state-dir DIR   where the chain's state, devnet.env and anvil.log go
#                     (default <repo>/.payouts/devnet)
#   --block-time S    also mine a block every S seconds (default: only on each transaction)
#   --fresh           forget the chain kept in DIR and start from block 0
#   --foreground      keep anvil in the foreground; Ctrl-C stops it
#
# The chain continues where it stopped: anvil keeps its state in DIR/chain-state.json (written
# every second and on exit) and the contracts it deployed in DIR/contracts.env, so a restart
# has the same token contracts, balances, blocks and nonces (a new transfer never repeats an old
# one's hash). --fresh, or deleting DIR, starts a new chain.
#
# Without --foreground anvil is left running in the background; stop it with
# infra/devnet/stop.sh [--state-dir DIR]. The addresses are written to
# $STATE_DIR/devnet.env as shell-sourceable KEY=VALUE lines.
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

DEVNET_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEVNET_DIR/../.." && pwd)"

PORT=8545
STATE_DIR="$REPO_ROOT/.payouts/devnet"
FOREGROUND=0
FRESH=0

# anvil's default mnemonic ("test test test test test test test test test test test junk").
ACCOUNT0_ADDRESS=0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266
ACCOUNT0_KEY=0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80
ACCOUNT1_ADDRESS=0x70997970C51812dc3A010C7d01b50e0d17dc79C8
ACCOUNT1_KEY=0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d
CHAIN_ID=31337
# 1,000,000 tokens with 6 decimals.
MINT_AMOUNT=1000000000000

log() { printf '[devnet] %s\n' "$*" >&2; }
die() { printf '[devnet] ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --port)
      [[ $# -ge 2 ]] || die "--port needs a value"
      PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#*=}"; shift ;;
    --state-dir)
      [[ $# -ge 2 ]] || die "--state-dir needs a value"
      STATE_DIR="$2"; shift 2 ;;
    --state-dir=*) STATE_DIR="${1#*=}"; shift ;;
    --foreground) FOREGROUND=1; shift ;;
    --fresh) FRESH=1; shift ;;
    --block-time)
      [[ $# -ge 2 ]] || die "--block-time needs a value"
      BLOCK_TIME="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT >= 1 && PORT <= 65535 )) || die "invalid port: $PORT"
[[ -n "$STATE_DIR" ]] || die "--state-dir must not be empty"

command -v node >/dev/null 2>&1 || die "node is required (it runs npm and parses JSON)"
command -v npm >/dev/null 2>&1 || die "npm is required to install anvil/cast"

mkdir -p "$STATE_DIR" || die "cannot create state dir $STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
ENV_FILE="$STATE_DIR/devnet.env"
LOG_FILE="$STATE_DIR/anvil.log"
CHAIN_STATE="$STATE_DIR/chain-state.json"
CONTRACTS_FILE="$STATE_DIR/contracts.env"
RPC_URL="http://127.0.0.1:$PORT"

# --- refuse to clobber a devnet that is still running from this state dir ---
if [[ -f "$ENV_FILE" ]]; then
  old_pid="$(sed -n 's/^DEVNET_ANVIL_PID=//p' "$ENV_FILE" | tail -n1)"
  if [[ "$old_pid" =~ ^[0-9]+$ ]] && kill -0 "$old_pid" 2>/dev/null \
      && [[ "$(ps -p "$old_pid" -o comm= 2>/dev/null || true)" == anvil* ]]; then
    die "a devnet is already running from $STATE_DIR (anvil pid $old_pid); run infra/devnet/stop.sh --state-dir '$STATE_DIR' first"
  fi
  rm -f "$ENV_FILE"
fi

# --- tools (npm packages only) ---
if [[ ! -d "$DEVNET_DIR/node_modules" ]]; then
  log "installing anvil/cast/solc from npm (npm ci --prefix infra/devnet)..."
  npm ci --prefix "$DEVNET_DIR" --no-audit --no-fund --loglevel=error >/dev/null \
    || die "npm ci --prefix $DEVNET_DIR failed"
fi

# Prefer the native binary from the platform package so that the recorded pid
# is anvil itself (not the node wrapper in node_modules/.bin).
platform_tag() {
  local os arch
  case "$(uname -s)" in
    Linux) os=linux ;;
    Darwin) os=darwin ;;
    *) return 1 ;;
  esac
  case "$(uname -m)" in
    x86_64|amd64) arch=amd64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) return 1 ;;
  esac
  printf '%s-%s' "$os" "$arch"
}
find_tool() {
  local tool="$1" tag
  if tag="$(platform_tag)" && [[ -x "$DEVNET_DIR/node_modules/@foundry-rs/$tool-$tag/bin/$tool" ]]; then
    printf '%s' "$DEVNET_DIR/node_modules/@foundry-rs/$tool-$tag/bin/$tool"
  elif [[ -x "$DEVNET_DIR/node_modules/.bin/$tool" ]]; then
    printf '%s' "$DEVNET_DIR/node_modules/.bin/$tool"
  else
    return 1
  fi
}
ANVIL="$(find_tool anvil)" || die "anvil not found under $DEVNET_DIR/node_modules (try: rm -rf $DEVNET_DIR/node_modules && npm ci --prefix $DEVNET_DIR)"
CAST="$(find_tool cast)" || die "cast not found under $DEVNET_DIR/node_modules (try: rm -rf $DEVNET_DIR/node_modules && npm ci --prefix $DEVNET_DIR)"

ARTIFACT="$DEVNET_DIR/contracts/TestStablecoin.json"
[[ -f "$ARTIFACT" ]] || die "missing $ARTIFACT (run: node $DEVNET_DIR/compile.js)"
BYTECODE="$(node -e 'const a=require(process.argv[1]); if(!/^0x[0-9a-fA-F]+$/.test(a.bytecode)) process.exit(1); process.stdout.write(a.bytecode)' "$ARTIFACT")" \
  || die "cannot read bytecode from $ARTIFACT"

# --- port must be free ---
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "127.0.0.1:$PORT is already in use (pick another with --port)"
fi

# --- start anvil ---
ANVIL_PID=""
READY=0
cleanup() {
  local rc=$?
  if [[ -n "$ANVIL_PID" ]] && { (( rc != 0 )) || (( FOREGROUND == 1 )) || (( READY == 0 )); }; then
    if kill -0 "$ANVIL_PID" 2>/dev/null; then
      log "stopping anvil (pid $ANVIL_PID)"
      kill "$ANVIL_PID" 2>/dev/null || true
      wait "$ANVIL_PID" 2>/dev/null || true
    fi
    rm -f "$ENV_FILE"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if (( FRESH == 1 )); then
  rm -f "$CHAIN_STATE" "$CONTRACTS_FILE"
fi
# A kept chain needs both its state and the addresses of its contracts.
if [[ ! -f "$CHAIN_STATE" || ! -f "$CONTRACTS_FILE" ]]; then
  rm -f "$CHAIN_STATE" "$CONTRACTS_FILE"
fi
log "starting anvil on $RPC_URL (chain id $CHAIN_ID), log: $LOG_FILE"
: >"$LOG_FILE"
# --state loads the file when it exists and writes it on exit; --state-interval every second
# too, so even a killed devnet loses at most the last second.
EXTRA_ARGS=(--state "$CHAIN_STATE" --state-interval 1)
if [[ -n "${BLOCK_TIME:-}" ]]; then
  [[ "$BLOCK_TIME" =~ ^[0-9]+$ ]] || die "invalid --block-time: $BLOCK_TIME"
  EXTRA_ARGS+=(--block-time "$BLOCK_TIME")
fi
nohup "$ANVIL" --host 127.0.0.1 --port "$PORT" --chain-id "$CHAIN_ID" "${EXTRA_ARGS[@]}" \
  </dev/null >>"$LOG_FILE" 2>&1 &
ANVIL_PID=$!

ready=0
for _ in $(seq 1 300); do
  if ! kill -0 "$ANVIL_PID" 2>/dev/null; then
    tail -n 20 "$LOG_FILE" >&2 || true
    die "anvil exited during startup (see $LOG_FILE)"
  fi
  if "$CAST" block-number --rpc-url "$RPC_URL" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
(( ready == 1 )) || { tail -n 20 "$LOG_FILE" >&2 || true; die "anvil did not answer eth_blockNumber on $RPC_URL within 30s"; }

# --- deploy + mint ---
# Runs `cast send ... --json`, checks the receipt status, prints one receipt field.
send_tx() {
  local what="$1" field="$2"; shift 2
  local out
  if ! out="$("$CAST" send --json --private-key "$ACCOUNT0_KEY" --rpc-url "$RPC_URL" "$@" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "$what failed"
  fi
  node -e '
    const [what, field, raw] = process.argv.slice(1);
    let r;
    try { r = JSON.parse(raw.trim().split("\n").filter(l => l.startsWith("{")).pop()); }
    catch (e) { console.error(raw); console.error(`${what}: cannot parse receipt`); process.exit(1); }
    if (r.status !== "0x1" && r.status !== 1 && r.status !== "1") {
      console.error(JSON.stringify(r)); console.error(`${what}: transaction reverted`); process.exit(1);
    }
    process.stdout.write(String(r[field] ?? ""));
  ' "$what" "$field" "$out" || die "$what failed"
}

deploy() {
  local name="$1" symbol="$2" addr
  addr="$(send_tx "deploy $symbol ($name)" contractAddress --create "$BYTECODE" "constructor(string,string)" "$name" "$symbol")"
  [[ "$addr" =~ ^0x[0-9a-fA-F]{40}$ ]] || die "deploy $symbol: no contract address in receipt"
  "$CAST" to-check-sum-address "$addr"
}

kept=0
if [[ -f "$CONTRACTS_FILE" ]]; then
  # shellcheck disable=SC1090
  . "$CONTRACTS_FILE"
  if [[ "$("$CAST" code "$USDT" --rpc-url "$RPC_URL" 2>/dev/null || true)" =~ ^0x[0-9a-fA-F]{2,} ]]; then
    kept=1
    log "continuing the kept chain at block $("$CAST" block-number --rpc-url "$RPC_URL") (--fresh starts a new one)"
  else
    log "the kept chain state has no contracts; deploying them again"
  fi
fi

if (( kept == 0 )); then
  log "deploying TestStablecoin x3 from $ACCOUNT0_ADDRESS"
  USDT="$(deploy "Tether USD" "USDT")"
  USDC="$(deploy "USD Coin" "USDC")"
  LOOKALIKE_USDC="$(deploy "USD Coin" "USDC")"

  log "minting 1,000,000 USDT and USDC to accounts 0 and 1"
  for token in "$USDT" "$USDC"; do
    for acct in "$ACCOUNT0_ADDRESS" "$ACCOUNT1_ADDRESS"; do
      send_tx "mint on $token to $acct" transactionHash "$token" "mint(address,uint256)" "$acct" "$MINT_AMOUNT" >/dev/null
    done
  done

  bal="$("$CAST" call "$USDT" "balanceOf(address)(uint256)" "$ACCOUNT0_ADDRESS" --rpc-url "$RPC_URL" | awk '{print $1}')" \
    || die "balanceOf check failed"
  [[ "$bal" == "$MINT_AMOUNT" ]] || die "unexpected USDT balance for account 0: $bal"
  printf 'USDT=%s\nUSDC=%s\nLOOKALIKE_USDC=%s\n' "$USDT" "$USDC" "$LOOKALIKE_USDC" >"$CONTRACTS_FILE.tmp.$$"
  mv "$CONTRACTS_FILE.tmp.$$" "$CONTRACTS_FILE"
fi

# --- env file ---
tmp="$ENV_FILE.tmp.$$"
cat >"$tmp" <<EOF
DEVNET_RPC_URL=$RPC_URL
DEVNET_CHAIN_ID=$CHAIN_ID
DEVNET_USDT=$USDT
DEVNET_USDC=$USDC
DEVNET_LOOKALIKE_USDC=$LOOKALIKE_USDC
DEVNET_FUNDED_ADDRESS=$ACCOUNT0_ADDRESS
DEVNET_FUNDED_PRIVATE_KEY=$ACCOUNT0_KEY
DEVNET_SECOND_ADDRESS=$ACCOUNT1_ADDRESS
DEVNET_SECOND_PRIVATE_KEY=$ACCOUNT1_KEY
DEVNET_ANVIL_PID=$ANVIL_PID
EOF
mv "$tmp" "$ENV_FILE"
READY=1

cat <<EOF

==================== payouts devnet is up ====================
  RPC URL            $RPC_URL   (chain id $CHAIN_ID)
  USDT               $USDT   (Tether USD, 6 decimals)
  USDC               $USDC   (USD Coin, 6 decimals)
  lookalike USDC     $LOOKALIKE_USDC   (also "USD Coin"/"USDC" - NOT the real one)
  funded account 0   $ACCOUNT0_ADDRESS
     private key     $ACCOUNT0_KEY
  funded account 1   $ACCOUNT1_ADDRESS
     private key     $ACCOUNT1_KEY
  balances           1,000,000 USDT + 1,000,000 USDC each at first (plus 10000 ETH)
  chain state        $CHAIN_STATE   (kept across restarts; --fresh forgets it)
  anvil pid          $ANVIL_PID
  anvil log          $LOG_FILE
  env file           $ENV_FILE
                     (source it: set -a; . '$ENV_FILE'; set +a)
==============================================================
EOF

if (( FOREGROUND == 1 )); then
  log "running in the foreground; press Ctrl-C to stop"
  wait "$ANVIL_PID" || true
  die "anvil exited (see $LOG_FILE)"
else
  log "anvil left running in the background; stop it with: $DEVNET_DIR/stop.sh --state-dir '$STATE_DIR'"
fi
