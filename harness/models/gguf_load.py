"""Loading a GGUF file as a Hugging Face model: `harness run --ckpt model.gguf`, and the bundled model.

transformers reads GGUF (`from_pretrained(folder, gguf_file=name)`), de-quantizing every tensor
to float32: an F16 or Q8_0 weight becomes exactly the value llama.cpp stores (Q8_0: scale x int8,
exact in float32), so a run scores the exported weights. What it does not reproduce is
llama.cpp's arithmetic (its Q8_0 matmul also rounds the activations to 8 bits).

De-quantizing takes a while (about 20 s for 135M parameters), so a file is converted once into a
normal model folder in the cache, named by the file's content hash, and loaded from there after.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

from harness.errors import HarnessError

DONE_MARKER = ".converted-from-gguf"


def file_hash(path: str | Path) -> str:
    """sha256 of a file's bytes (first 16 hex digits)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def gguf_model_dir(path: Path, cache: Path) -> Path:
    """The converted folder of a GGUF file under `cache`, converting on first use."""
    target = cache / f"gguf-{path.stem[:40]}-{file_hash(path)}"
    if (target / DONE_MARKER).exists():
        return target
    from rich.console import Console

    Console(stderr=True).print(f"[dim]Converting {path} from GGUF once into {target}[/dim]")
    convert_gguf(path.parent, path.name, target)
    return target


def convert_gguf(folder: Path, filename: str, target: Path) -> None:
    """Write the model and tokenizer of `folder/filename` as a Hugging Face folder at `target`
    (all or nothing: a half-written folder is removed)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=filename)
        config = AutoConfig.from_pretrained(folder, gguf_file=filename)
        _fix_head_dim(config, folder / filename)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=filename, config=config, dtype=torch.float32)
    except (OSError, ValueError, KeyError, NotImplementedError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HarnessError(f"cannot read {folder / filename} as a GGUF model: {first}") from None
    # The de-quantized weights are plain tensors now; without this the saved config would claim
    # GGUF quantization and every later load would try to de-quantize again.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / DONE_MARKER).write_text(f"{folder / filename}\n")
        if target.exists():  # a half-written folder from an interrupted conversion
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:  # Ctrl-C or a full disk mid-way: leave no half-written copy behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fix_head_dim(config, path: Path) -> None:
    """transformers reads no head size for qwen3 GGUFs and derives hidden/heads, wrong for a model
    whose head size is its own (Qwen3-0.6B); `<arch>.attention.key_length` has it."""
    if getattr(config, "model_type", None) != "qwen3":
        return
    import gguf

    field = gguf.GGUFReader(str(path)).get_field("qwen3.attention.key_length")
    if field is not None:
        config.head_dim = int(field.contents())
