#!/usr/bin/env bash
# Stop serving and the local Ray head started by scripts/serve.sh, including vLLM engine
# processes (they rename themselves VLLM::*, so `ray stop` alone can leave them behind).
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/ray_env.sh
.venv/bin/ray stop --force >/dev/null 2>&1
pkill -f "serve run" 2>/dev/null
pkill -9 -f "^VLLM::" 2>/dev/null
echo "stopped"
