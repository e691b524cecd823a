#!/usr/bin/env bash
# Set up, start a local Ray head with spare logical CPUs, and `serve run` a config (CPU default).
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG="${1:-deployments/cpu.yaml}"
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" HF_HUB_OFFLINE=1
tier-router check "$CONFIG"
tier-router prepare-model "$CONFIG"
if ! ray status >/dev/null 2>&1; then
  # Two real cores, but the graph needs more logical CPUs to schedule (engines mostly wait).
  ray start --head --num-cpus "${RAY_NUM_CPUS:-8}" --dashboard-host 127.0.0.1 --disable-usage-stats
fi
echo "Dashboard: http://127.0.0.1:8265  API: http://127.0.0.1:8000/v1  (Ctrl-C stops serving; 'ray stop' stops Ray)"
exec serve run "$CONFIG"
