#!/usr/bin/env bash
# Set up and run the whole test suite: unit, MiniLM, and real local Ray Serve graphs (echo and vLLM).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
