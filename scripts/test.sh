#!/usr/bin/env bash
# Set up, lint (ruff check + ruff format --check), then run the whole test suite: unit, MiniLM, and
# real local Ray Serve graphs (echo and vLLM).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m ruff check .
.venv/bin/python -m ruff format --check .
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
