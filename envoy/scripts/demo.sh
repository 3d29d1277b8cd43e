#!/usr/bin/env bash
# The wa-egress-guard demo: a real Envoy 1.40 (V8) running the real module, a
# loopback stand-in for Meta and the training APIs, and a dozen real requests.
#
# Builds nothing (the Makefile builds the module and the venv first). Inputs:
#   ENVOY_BIN  Envoy binary          (default .venv/bin/envoy)
#   WASM       the guard module      (default target/wasm32-wasip1/release/wa_egress_guard.wasm)
#   POLICY     the policy JSON       (default policies/examples/demo.json)
#   PYTHON     python3 for helpers   (default .venv/bin/python, else python3)
# Everything listens on 127.0.0.1 on kernel-chosen ports; every wait is bounded;
# the processes it starts are stopped on exit (trap). Exits 1 if any decision differs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

ENVOY_BIN="${ENVOY_BIN:-.venv/bin/envoy}"
WASM="${WASM:-target/wasm32-wasip1/release/wa_egress_guard.wasm}"
POLICY="${POLICY:-policies/examples/demo.json}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi

die() { echo "demo: $*" >&2; exit 2; }
[[ -x "$ENVOY_BIN" ]] || die "no Envoy at $ENVOY_BIN (run make, or set ENVOY_BIN)"
[[ -f "$WASM" ]] || die "no module at $WASM (run make, or set WASM)"
[[ -f "$POLICY" ]] || die "no policy at $POLICY"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/wa-guard-demo.XXXXXX")"
PIDS=()

stop_pid() {  # SIGTERM, then SIGKILL after 5 s; only processes this script started
  local pid="$1" i
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_for_file() {  # path, seconds
  local i
  for i in $(seq $(( $2 * 20 ))); do [[ -s "$1" ]] && return 0; sleep 0.05; done
  die "timed out waiting for $1"
}

echo "policy: $POLICY"
echo "module: $WASM ($(wc -c <"$WASM") bytes)"
echo "envoy:  $("$ENVOY_BIN" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*/[A-Za-z]*/[A-Z]*' | head -1)"
echo

"$PYTHON" envoy/stand_in.py --ready-file "$WORK/stand-in.json" --record "$WORK/received.jsonl" --max-seconds 120 &
PIDS+=("$!")
wait_for_file "$WORK/stand-in.json" 10
UPSTREAM_PORT="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_port"])' "$WORK/stand-in.json")"

"$PYTHON" envoy/launch.py render --template envoy/egress.yaml --policy "$POLICY" --wasm "$WASM" \
  --upstream-port "$UPSTREAM_PORT" --out "$WORK/envoy.yaml"

"$ENVOY_BIN" -c "$WORK/envoy.yaml" --disable-hot-restart --base-id "$$" --admin-address-path "$WORK/admin.txt" \
  --file-flush-interval-msec 100 -l info --component-log-level wasm:info --concurrency 2 \
  >"$WORK/access.log" 2>"$WORK/envoy.log" </dev/null &
ENVOY_PID="$!"
PIDS+=("$ENVOY_PID")

rc=0
"$PYTHON" envoy/scripts/demo_run.py --work "$WORK" --envoy-pid "$ENVOY_PID" --policy "$POLICY" || rc=$?
if [[ $rc -gt 1 ]]; then  # the demo itself broke (not a decision mismatch): show why
  echo "--- envoy log (tail) ---" >&2
  tail -n 30 "$WORK/envoy.log" >&2 || true
fi
exit "$rc"
