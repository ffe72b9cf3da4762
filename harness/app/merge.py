"""`harness merge`: fold a LoRA adapter into its base model, the safe way.

The base is loaded unquantized, in bf16 (default), fp16 or fp32, the adapter is applied with
peft, and `merge_and_unload()` adds B·A·(alpha/r) into the base weights; the result is saved with
the tokenizer as a plain model directory (`harness run --ckpt OUT --no-base`, vLLM, ...).

Never into 4-bit weights: a QLoRA adapter was trained against the de-quantized 4-bit base, but
merging into 4-bit weights re-quantizes the sum, which rounds most of the small LoRA update
away. A base whose config says it is quantized (bitsandbytes / GPTQ / AWQ) is refused; pass the
original full-precision base with --base.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from harness.models.checkpoint import Checkpoint, resolve_checkpoint, weights_hash
from harness.models.model_loading import DTYPES as LOAD_DTYPES
from harness.errors import HarnessError

# the spellings `harness run --dtype` takes (bf16 and bfloat16, ...), less "auto": a merge names its dtype
DTYPES = {k: v for k, v in LOAD_DTYPES.items() if v != "auto"}


def quantization_of(model: str) -> str | None:
    """The quantization method a model's config.json declares, if any."""
    cfg_file = Path(model) / "config.json"
    if cfg_file.is_file():
        cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    else:  # a hub id: ask the cache/hub through transformers
        from transformers import AutoConfig

        cfg = AutoConfig.from_pretrained(model).to_dict()
    q = cfg.get("quantization_config")
    if not q:
        return None
    return str(q.get("quant_method") or ("bitsandbytes" if q.get("load_in_4bit") or q.get("load_in_8bit") else "quantized"))


def merge_adapter(ckpt_spec: str, out: str, *, base: str | None = None, dtype: str = "bf16",
                  trust_remote_code: bool = False, console=None) -> Path:
    import torch
    from transformers import AutoTokenizer

    if dtype not in DTYPES:
        raise HarnessError(f"--dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    dtype = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}[DTYPES[dtype]]  # one name in the record
    out_dir = Path(out)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HarnessError(f"--out {out_dir}: the directory is not empty; give a new or empty directory")
    ckpt = resolve_checkpoint(ckpt_spec, base=base, trust_remote_code=trust_remote_code)
    if not ckpt.adapter:
        raise HarnessError(f"--ckpt {ckpt_spec}: not a LoRA adapter directory (no adapter_config.json); nothing to merge")
    refuse_quantized_base(ckpt)
    torch_dtype = getattr(torch, DTYPES[dtype])
    if console:
        console.print(f"Merging {ckpt.adapter} into {ckpt.model} ({dtype}, unquantized)")
    merged = merged_model(ckpt, torch_dtype)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(ckpt), trust_remote_code=trust_remote_code)
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "merged_from.json").write_text(json.dumps({
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "base": ckpt.model, "adapter": ckpt.adapter,
        "base_hash": weights_hash(ckpt.model), "adapter_hash": weights_hash(ckpt.adapter), "dtype": dtype,
        "base_revision": ckpt.model_revision, "adapter_revision": ckpt.adapter_revision,
        "method": "peft merge_and_unload into the unquantized base",
    }, indent=2) + "\n", encoding="utf-8")
    return out_dir


def refuse_quantized_base(ckpt: Checkpoint) -> None:
    quant = quantization_of(ckpt.model)
    if quant:
        raise HarnessError(
            f"the base {ckpt.model} is quantized ({quant}); merging into quantized weights loses the adapter's update. "
            "Pass the unquantized base model with --base (e.g. Qwen/Qwen3-1.7B)"
        )


def merged_model(ckpt: Checkpoint, torch_dtype):
    """The base in `torch_dtype` with the adapter (if any) added into its weights."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    try:
        model = AutoModelForCausalLM.from_pretrained(ckpt.model, revision=ckpt.model_revision, dtype=torch_dtype,
                                                     trust_remote_code=ckpt.trust_remote_code)
        if ckpt.adapter:
            model = PeftModel.from_pretrained(model, ckpt.adapter)
    except (OSError, ValueError, RuntimeError) as e:
        raise HarnessError(f"cannot load {ckpt.model} with adapter {ckpt.adapter}: {str(e).strip().splitlines()[0]}") from None
    return model.merge_and_unload() if ckpt.adapter else model


def tokenizer_source(ckpt: Checkpoint) -> str:
    """Where the tokenizer comes from: the adapter's own (with the chat template it trained with), else the base's."""
    if ckpt.adapter and any((Path(ckpt.adapter) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")):
        return ckpt.adapter
    return ckpt.model
