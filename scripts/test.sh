#!/usr/bin/env bash
# Sets up and runs the whole test suite. Agent tests run their targets under every CPython that pyenv
# has (3.9 up) and CPython 3.14 (scripts/python314.sh installs it); set PYARTHAS_TEST_PYTHONS (paths
# separated by ':') to choose others.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Lint and types first (configured in pyproject.toml): a failure stops the run.
.venv/bin/ruff check src tests bench
.venv/bin/mypy
bash scripts/system-deps.sh
# CPython 3.14 joins the matrix; when it cannot be had the suite says why (tests/conftest.py) and runs the rest
bash scripts/python314.sh >/dev/null || true
# Real Arthas for the golden harness (tests/test_golden.py); when it cannot be had the harness skips and says why
bash scripts/arthas.sh >/dev/null || true
if command -v npm >/dev/null 2>&1; then
    (cd web && npm test --silent)  # Vitest: the web console's data transforms
else
    echo "test: npm not found: skipping the web console's unit tests (Vitest)" >&2
fi
exec .venv/bin/python -m pytest -p xdist -n "${PYARTHAS_TEST_WORKERS:-2}" "$@"
