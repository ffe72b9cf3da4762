"""A LoRA adapter with random B matrices on a model: a quick stand-in for a trained adapter when
what is measured is what an export or a merge does to it (docs/export.md), not what training did.

    python scripts/random_adapter.py OUT [--model smollm2-135m-instruct] [--std 0.002] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def write_random_adapter(base: str, out: Path, *, rank: int, alpha: int, targets, std: float, seed: int,
                         base_name: str | None = None, tokenizer: bool = False) -> str:
    """Save a LoRA adapter of `base` (a model folder) at `out` whose B matrices are N(0, std) (so it
    changes answers and logprobs); adapter_config.json names `base_name` (default: `base`) as its base.
    The same seed gives the same adapter (A and B both seeded)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    torch.manual_seed(seed)  # PEFT draws the A matrices from the global generator: same seed, same adapter
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=gen) * std)
    out = Path(out)
    peft_model.save_pretrained(out)
    if tokenizer:
        AutoTokenizer.from_pretrained(base).save_pretrained(out)
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = base_name or base
    (out / "adapter_config.json").write_text(json.dumps(cfg, indent=2))
    return str(out)


def main() -> None:
    from harness.models.checkpoint import resolve_checkpoint

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--model", default="smollm2-135m-instruct", help="the base (alias, model dir or hub id)")
    p.add_argument("--std", type=float, default=0.002, help="standard deviation of the B entries")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    write_random_adapter(resolve_checkpoint(args.model).model, Path(args.out), rank=16, alpha=32, targets="all-linear",
                         std=args.std, seed=args.seed, base_name=args.model, tokenizer=True)


if __name__ == "__main__":
    main()
