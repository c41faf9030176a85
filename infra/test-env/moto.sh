#!/usr/bin/env bash
# The AWS emulator for tests: moto in server mode (DynamoDB, SQS, EventBridge in one process).
#
# Usage: infra/test-env/moto.sh start|stop|status [--port PORT] [--dir DIR]
#
#   start          install moto into <repo>/.venv-moto if needed, start moto's server on
#                  127.0.0.1:PORT in the background (moto_server_serialized.py: moto_server
#                  with DynamoDB requests serialized, so conditional writes are atomic as in
#                  DynamoDB), wait until it answers, and print
#                  AWS_ENDPOINT_URL=http://127.0.0.1:PORT on stdout (logs go to stderr).
#                  A server already running from DIR on the same port is reused.
#   stop           stop the server started from DIR (only if that pid is moto_server).
#   status         print the endpoint if the server from DIR answers; exit 1 otherwise.
#   --port PORT    port on 127.0.0.1 (default 5055)
#   --dir DIR      where moto.pid, moto.port and moto.log go (default <repo>/.test-work/moto)
#
# Tests find the emulator through PAYOUTS_TEST_AWS_ENDPOINT, e.g.:
#   export PAYOUTS_TEST_AWS_ENDPOINT="$(infra/test-env/moto.sh start | sed -n 's/^AWS_ENDPOINT_URL=//p')"
set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

TEST_ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TEST_ENV_DIR/../.." && pwd)"

# Checked to install from PyPI and pass the store contract suite on Python 3.11.
MOTO_VERSION="5.2.5"
VENV="$REPO_ROOT/.venv-moto"
PORT=5055
DIR="$REPO_ROOT/.test-work/moto"

log() { printf '[moto] %s\n' "$*" >&2; }
die() { printf '[moto] ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

[[ $# -ge 1 ]] || { usage >&2; exit 2; }
COMMAND="$1"; shift
case "$COMMAND" in
  start|stop|status) ;;
  -h|--help) usage; exit 0 ;;
  *) usage >&2; die "unknown command: $COMMAND" ;;
esac

while [[ $# -gt 0 ]]; do
  case "$1" in
    --port)
      [[ $# -ge 2 ]] || die "--port needs a value"
      PORT="$2"; shift 2 ;;
    --port=*) PORT="${1#*=}"; shift ;;
    --dir)
      [[ $# -ge 2 ]] || die "--dir needs a value"
      DIR="$2"; shift 2 ;;
    --dir=*) DIR="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

[[ "$PORT" =~ ^[0-9]+$ ]] && (( PORT >= 1 && PORT <= 65535 )) || die "invalid port: $PORT"
[[ -n "$DIR" ]] || die "--dir must not be empty"

PID_FILE="$DIR/moto.pid"
PORT_FILE="$DIR/moto.port"
LOG_FILE="$DIR/moto.log"

# The pid recorded in DIR, if that process is still a moto_server; empty otherwise.
running_pid() {
  [[ -f "$PID_FILE" ]] || return 0
  local pid args
  pid="$(tr -dc '0-9' <"$PID_FILE")"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  args="$(ps -p "$pid" -o args= 2>/dev/null || true)"
  [[ "$args" == *moto_server* ]] && printf '%s' "$pid"
  return 0
}

# True when moto answers on 127.0.0.1:$1.
answers() {
  "$VENV/bin/python" - "$1" <<'PY' >/dev/null 2>&1
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=2) as response:
    sys.exit(0 if response.status == 200 else 1)
PY
}

install_moto() {
  if [[ -x "$VENV/bin/moto_server" ]] \
      && [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)" == "$MOTO_VERSION" ]]; then
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || die "python3 is required to install moto"
  if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
  fi
  log "installing moto[server]==$MOTO_VERSION into $VENV (about 30 s the first time)..."
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION" \
    || die "pip install moto[server]==$MOTO_VERSION failed"
  [[ -x "$VENV/bin/moto_server" ]] || die "moto_server missing from $VENV after install"
}

start() {
  mkdir -p "$DIR" || die "cannot create $DIR"
  install_moto
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    local old_port
    old_port="$(tr -dc '0-9' <"$PORT_FILE" 2>/dev/null || true)"
    if [[ "$old_port" == "$PORT" ]] && answers "$PORT"; then
      log "already running (pid $pid) on port $PORT; reusing it"
      printf 'AWS_ENDPOINT_URL=http://127.0.0.1:%s\n' "$PORT"
      return 0
    fi
    die "a moto_server (pid $pid, port ${old_port:-?}) is already running from $DIR; run '$0 stop --dir $DIR' first"
  fi
  if answers "$PORT"; then
    die "something already answers on 127.0.0.1:$PORT that this script did not start; pick another --port"
  fi

  rm -f "$PID_FILE" "$PORT_FILE"
  log "starting moto_server on 127.0.0.1:$PORT (log: $LOG_FILE)"
  nohup "$VENV/bin/python" "$TEST_ENV_DIR/moto_server_serialized.py" -H 127.0.0.1 -p "$PORT" \
    >"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  printf '%s\n' "$pid" >"$PID_FILE"
  printf '%s\n' "$PORT" >"$PORT_FILE"

  for _ in $(seq 1 150); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LOG_FILE" >&2 || true
      rm -f "$PID_FILE" "$PORT_FILE"
      die "moto_server exited during start-up (see $LOG_FILE)"
    fi
    if answers "$PORT"; then
      log "ready (pid $pid)"
      printf 'AWS_ENDPOINT_URL=http://127.0.0.1:%s\n' "$PORT"
      return 0
    fi
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$PID_FILE" "$PORT_FILE"
  die "moto_server did not answer on 127.0.0.1:$PORT within 30 s (see $LOG_FILE)"
}

stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    log "no moto_server running from $DIR"
    rm -f "$PID_FILE" "$PORT_FILE"
    return 0
  fi
  log "stopping moto_server (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "moto_server did not exit after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
  fi
  kill -0 "$pid" 2>/dev/null && die "could not stop moto_server (pid $pid)"
  rm -f "$PID_FILE" "$PORT_FILE"
  log "stopped"
}

status() {
  local pid port
  pid="$(running_pid)"
  port="$(tr -dc '0-9' <"$PORT_FILE" 2>/dev/null || true)"
  if [[ -n "$pid" && -n "$port" && -x "$VENV/bin/python" ]] && answers "$port"; then
    printf 'AWS_ENDPOINT_URL=http://127.0.0.1:%s\n' "$port"
    return 0
  fi
  log "not running from $DIR"
  return 1
}

"$COMMAND"
