"""`harness export`: an adapter (or a model) as one GGUF file for llama.cpp and Ollama.

The adapter is merged as `harness merge` does (into the unquantized base), here in float32 so the
only rounding is the export type's: f16 (half precision, the reference), q8_0 (8-bit blocks, about
half the size), or q4_k_m (llama.cpp's 4-bit mix; made from the f16 file by llama.cpp's
`llama-quantize`, found through $LLAMA_QUANTIZE or on PATH). The file carries the tokenizer, the
chat template and where its weights came from (harness.models.gguf_export).

What the export cost is measured like any checkpoint: `harness run --ckpt model.gguf`, then
`harness compare` with the adapter's run (docs/export.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from harness.app.merge import merged_model, refuse_quantized_base, tokenizer_source
from harness.errors import HarnessError
from harness.models.checkpoint import resolve_checkpoint, weights_hash
from harness.models.gguf_export import GGUF_TYPES, write_gguf

EXPORT_TYPES = (*GGUF_TYPES, "q4_k_m")
QUANTIZER_ENV = "LLAMA_QUANTIZE"


@dataclass(frozen=True)
class Exported:
    path: Path
    gguf_type: str
    n_bytes: int
    tensor_types: dict[str, int]
    source: str  # the adapter (or model) exported


def find_quantizer() -> str:
    """llama.cpp's `llama-quantize`: $LLAMA_QUANTIZE, else on PATH; one error line when neither."""
    configured = os.environ.get(QUANTIZER_ENV)
    if configured:
        if not (Path(configured).is_file() and os.access(configured, os.X_OK)):
            raise HarnessError(f"${QUANTIZER_ENV}={configured}: not an executable file; point it at llama.cpp's llama-quantize")
        return configured
    found = shutil.which("llama-quantize")
    if not found:
        raise HarnessError(
            "--gguf q4_k_m needs llama.cpp's llama-quantize, which is neither on PATH nor named by "
            f"${QUANTIZER_ENV}; build llama.cpp (or export f16 and quantize it there), or use --gguf q8_0")
    return found


def default_out(name: str, gguf_type: str) -> Path:
    return Path(f"{name}-{gguf_type}.gguf")


def export_gguf(ckpt_spec: str, gguf_type: str, out: str | None = None, *, base: str | None = None,
                trust_remote_code: bool = False, console=None) -> Exported:
    import torch
    from transformers import AutoTokenizer

    if gguf_type not in EXPORT_TYPES:
        raise HarnessError(f"--gguf {gguf_type!r}: choose one of {', '.join(EXPORT_TYPES)}")
    quantizer = find_quantizer() if gguf_type == "q4_k_m" else None  # before any work
    if Path(ckpt_spec).is_file() and Path(ckpt_spec).suffix.lower() == ".gguf":
        raise HarnessError(f"--ckpt {ckpt_spec} is a GGUF file already; export the adapter or model it came from")
    ckpt = resolve_checkpoint(ckpt_spec, base=base, trust_remote_code=trust_remote_code)
    out_path = Path(out) if out else default_out(ckpt.name, gguf_type)
    if out_path.suffix.lower() != ".gguf":
        raise HarnessError(f"--out {out_path}: give a file name ending in .gguf")
    if out_path.exists():
        raise HarnessError(f"--out {out_path}: the file exists; give a new file name (nothing was overwritten)")
    if not out_path.parent.exists():
        raise HarnessError(f"--out {out_path}: the folder {out_path.parent} does not exist")
    refuse_quantized_base(ckpt)
    if console:
        what = f"{ckpt.adapter} merged into {ckpt.model}" if ckpt.adapter else ckpt.model
        console.print(f"Exporting {what} (float32) as GGUF {gguf_type}")
    model = merged_model(ckpt, torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(ckpt), trust_remote_code=trust_remote_code)
    info = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "type": gguf_type,
        "adapter": ckpt.adapter, "adapter_hash": weights_hash(ckpt.adapter),
        "base": ckpt.model, "base_hash": weights_hash(ckpt.model), "base_revision": ckpt.model_revision,
        "merged_in": "float32 (peft merge_and_unload into the unquantized base)" if ckpt.adapter else None,
    }
    # written beside the target and renamed at the end: an interrupted export leaves no partial model.gguf
    first_type = "f16" if quantizer else gguf_type
    partial = out_path.with_name(f".{out_path.name}.{first_type}.partial")
    try:
        written = write_gguf(model, tokenizer, partial, first_type, name=ckpt.name, export_info=info)
        counts = written.tensor_types
        if quantizer:
            quantized = out_path.with_name(f".{out_path.name}.partial")
            _quantize(quantizer, partial, quantized)
            partial.unlink()
            partial, counts = quantized, {}
        partial.rename(out_path)
    finally:
        for leftover in out_path.parent.glob(f".{out_path.name}.*partial"):
            leftover.unlink(missing_ok=True)
    return Exported(out_path, gguf_type, out_path.stat().st_size, counts, ckpt.adapter or ckpt.model)


def _quantize(quantizer: str, f16: Path, out: Path) -> None:
    try:
        done = subprocess.run([quantizer, str(f16), str(out), "Q4_K_M"], capture_output=True, text=True)
    except OSError as e:
        raise HarnessError(f"cannot start {quantizer}: {e.strerror}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise HarnessError(f"{quantizer} failed (exit {done.returncode}): {tail[0]}")
