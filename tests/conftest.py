"""Shared fixtures: a tiny random Qwen3 model with a locally trained tokenizer and a ChatML
template, a LoRA adapter on top of it, and helpers to run the CLI in-process."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
# Set by .ci/run: a test that needs something of the machine (Chromium, a way to make a directory
# read-only for root) fails without it instead of skipping, so CI always runs every check.
REQUIRE_ALL = "SFT_HARNESS_REQUIRE_ALL"


def needs(what: str) -> None:
    """This test cannot run here (`what` is missing): skip, saying why (pytest -rs lists the
    reason), or fail under CI ($SFT_HARNESS_REQUIRE_ALL=1)."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{what} (required: {REQUIRE_ALL}=1)")
    pytest.skip(what)

CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _corpus() -> list[str]:
    texts = []
    for name in ("compare10.jsonl", "format.jsonl", "safety.jsonl", "ppl_val.jsonl"):
        texts += (REPO / "suites" / "data" / name).read_text(encoding="utf-8").splitlines()
    texts += ["The quick brown fox jumps over the lazy dog. {\"name\": \"a\", \"score\": 1} | a | b |"] * 5
    return texts


def build_tiny_tokenizer(out: Path, chat_template: str | None = CHATML_TEMPLATE):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    if chat_template:
        fast.chat_template = chat_template
    fast.save_pretrained(out)
    return fast


def unprintable_tokens(tok) -> list[int]:
    """Ids of tokens that decode to nothing printable alone: lone or partial UTF-8 bytes (U+FFFD),
    whitespace and control characters. A random model's greedy answer of such tokens is empty text,
    which the tests that read answers (chat, streaming, viewer, judged runs) cannot use; giving them
    no weight keeps every random draw of the tiny model and its adapters printable."""
    out = []
    for i in range(len(tok)):
        text = tok.decode([i])
        if "\ufffd" in text or not text.strip() or any(ord(c) < 32 and c not in "\n\t" or ord(c) == 127 for c in text):
            out.append(i)
    return out


def build_tiny_model(out: Path, chat_template: str | None = CHATML_TEMPLATE) -> Path:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = build_tiny_tokenizer(out, chat_template)
    config = Qwen3Config(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=1024,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None, tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config)
    with torch.no_grad():  # rows of 0 (tied: the logit is 0 too), so greedy answers are printable text
        model.model.embed_tokens.weight[unprintable_tokens(tok)] = 0
    model.generation_config.eos_token_id = tok.eos_token_id
    model.generation_config.pad_token_id = tok.pad_token_id
    model.save_pretrained(out)
    return out


def build_tiny_adapter(base: Path, out: Path, seed: int = 1, scale: float = 0.5) -> Path:
    """A LoRA adapter whose B matrices are random (not the zero init), so it changes outputs; the same
    seed gives the same adapter whatever ran before (A and B are both seeded)."""
    sys.path.insert(0, str(REPO / "scripts"))
    from random_adapter import write_random_adapter

    write_random_adapter(str(base), out, rank=4, alpha=8, targets=["q_proj", "v_proj", "down_proj"], std=scale, seed=seed)
    return Path(out)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_adapter(tiny_model, tmp_path_factory) -> Path:
    return build_tiny_adapter(tiny_model, tmp_path_factory.mktemp("tiny-adapter"))


@pytest.fixture
def harness_cli(capsys):
    """Run `harness ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from harness.cli import main

    def run(*args: str):
        capsys.readouterr()  # drop what the test printed before
        code = main([str(a) for a in args])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def only_run_dir(root: Path) -> Path:
    dirs = [p for p in Path(root).iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def load_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def scored_records(run: Path) -> list[dict]:
    """A run's sample records with their scores joined, as plain dicts (samples.jsonl + scores.jsonl)."""
    from harness.rundir import RunDir

    out = []
    for record in RunDir(run).scored():
        row = record.to_dict()
        row["scores"] = {sid: entry.to_dict() for sid, entry in record.scores.items()}
        out.append(row)
    return out


@pytest.fixture(scope="session")
def qwen3_model(tmp_path_factory):
    """qwen3_model(revision) -> a tiny random Qwen3 with the real Qwen3 tokenizer and that chat
    template revision (tests/qwen3_tokenizer.py); built once, copied per revision."""
    from qwen3_tokenizer import build_model, with_revision

    base = build_model(tmp_path_factory.mktemp("qwen3-real-vocab"))
    built = {"first_release": base}

    def get(revision: str = "first_release") -> Path:
        if revision not in built:
            built[revision] = with_revision(base, tmp_path_factory.mktemp(f"qwen3-{revision}"), revision)
        return built[revision]

    return get
