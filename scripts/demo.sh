#!/usr/bin/env bash
# Sets up, starts the demo (demo.MathGame) with the agent on 127.0.0.1:8563, and opens a diagnostic
# session on it: the interactive console on a terminal, otherwise the seed's watch in batch mode.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PORT="${PYARTHAS_PORT:-8563}"
.venv/bin/pyarthas demo --port "$PORT" > demo-output.log 2>&1 &
DEMO_PID=$!
trap 'kill $DEMO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    if grep -q "serving" demo-output.log 2>/dev/null; then break; fi
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then cat demo-output.log; exit 1; fi
    sleep 0.1
done
echo "demo running (pid $DEMO_PID, its output in demo-output.log); agent at http://127.0.0.1:$PORT/api"
if [ -t 0 ] && [ -t 1 ]; then
    .venv/bin/pyarthas console "http://127.0.0.1:$PORT"
else
    .venv/bin/pyarthas console "http://127.0.0.1:$PORT" -c \
        'version; watch demo.MathGame primeFactors "{params, returnObj, throwExp}" -n 3'
fi
