#!/usr/bin/env bash
# Sets up the project's virtual environment (.venv) with pyarthas and its test tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# The web console (web/): built into the agent's package data (src/pyarthas/agent/http/static/app/), which
# the agent serves at "/". Without Node.js the agent still runs; "/" then says how to build the console.
APP_INDEX=src/pyarthas/agent/http/static/app/index.html
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    echo "setup: Node.js/npm not found: the web console is not built (the agent's / will say how to build it)" >&2
else
    if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
        (cd web && npm ci --no-audit --no-fund --loglevel=error)
    fi
    if [ ! -f "$APP_INDEX" ] || [ -n "$(find web/src web/index.html web/package-lock.json web/vite.config.ts -newer "$APP_INDEX" 2>/dev/null | head -1)" ]; then
        (cd web && npm run --silent build)
        echo "setup: web console built into $(dirname "$APP_INDEX")"
    fi
fi
