#!/usr/bin/env bash
# Start the local Ray head the secure way (token auth on, every listener on loopback); what
# scripts/serve.sh runs. Optional: RAY_NUM_CPUS, RAY_PORT, RAY_DASHBOARD_PORT, RAY_CLIENT_PORT,
# RAY_AGENT_PORT, RAY_TEMP_DIR, RAY_BIN (tests start a second head beside another cluster).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ray_env.sh
RAY="${RAY_BIN:-.venv/bin/ray}"
# Two real cores, but the graph needs more logical CPUs to schedule (engines mostly wait).
exec "$RAY" start --head --node-ip-address 127.0.0.1 --port "${RAY_PORT:-6379}" \
  --num-cpus "${RAY_NUM_CPUS:-8}" --dashboard-host 127.0.0.1 --dashboard-port "${RAY_DASHBOARD_PORT:-8265}" \
  --ray-client-server-port "${RAY_CLIENT_PORT:-10001}" --dashboard-agent-listen-port "${RAY_AGENT_PORT:-52365}" \
  --disable-usage-stats ${RAY_TEMP_DIR:+--temp-dir "$RAY_TEMP_DIR"}
