#!/usr/bin/env bash
# Set up, start a local Ray head (token auth on, loopback only) and `serve run` a config (CPU default).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-deployments/cpu.yaml}"
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1
source scripts/ray_env.sh
tier-router check "$CONFIG"
tier-router prepare-model "$CONFIG"
if ! ray status >/dev/null 2>&1; then
  bash scripts/ray_head.sh
fi
echo "Dashboard: http://127.0.0.1:8265 (token: $RAY_AUTH_TOKEN_PATH)  API: http://127.0.0.1:8000/v1  (Ctrl-C stops serving; scripts/stop.sh stops Ray)"
exec serve run "$CONFIG"
