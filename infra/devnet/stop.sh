#!/usr/bin/env bash
# Stops the anvil started by infra/devnet/start.sh.
#
# Usage: infra/devnet/stop.sh [--state-dir DIR]
#
#   --state-dir DIR   the same state dir given to start.sh
#                     (default <repo>/.payouts/devnet)
#
# Kills the pid recorded as DEVNET_ANVIL_PID in $STATE_DIR/devnet.env (only if
# that process is anvil) and removes devnet.env. anvil.log is kept.
set -euo pipefail

DEVNET_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$DEVNET_DIR/../.." && pwd)"
STATE_DIR="$REPO_ROOT/.payouts/devnet"

log() { printf '[devnet] %s\n' "$*" >&2; }
die() { printf '[devnet] ERROR: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --state-dir)
      [[ $# -ge 2 ]] || die "--state-dir needs a value"
      STATE_DIR="$2"; shift 2 ;;
    --state-dir=*) STATE_DIR="${1#*=}"; shift ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (usage: stop.sh [--state-dir DIR])" ;;
  esac
done

ENV_FILE="$STATE_DIR/devnet.env"
if [[ ! -f "$ENV_FILE" ]]; then
  log "no $ENV_FILE: nothing to stop"
  exit 0
fi

PID="$(sed -n 's/^DEVNET_ANVIL_PID=//p' "$ENV_FILE" | tail -n1)"
[[ "$PID" =~ ^[0-9]+$ ]] || die "no valid DEVNET_ANVIL_PID in $ENV_FILE"

if ! kill -0 "$PID" 2>/dev/null; then
  log "anvil (pid $PID) is not running any more"
  rm -f "$ENV_FILE"
  exit 0
fi

comm="$(ps -p "$PID" -o comm= 2>/dev/null || true)"
if [[ "$comm" != anvil* ]]; then
  die "pid $PID is '$comm', not anvil; refusing to kill it (remove $ENV_FILE by hand if stale)"
fi

log "stopping anvil (pid $PID)"
kill -TERM "$PID" 2>/dev/null || true
for _ in $(seq 1 50); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID" 2>/dev/null; then
  log "anvil did not exit after SIGTERM; sending SIGKILL"
  kill -KILL "$PID" 2>/dev/null || true
  sleep 0.2
fi
kill -0 "$PID" 2>/dev/null && die "could not stop anvil (pid $PID)"

rm -f "$ENV_FILE"
log "stopped"
