"""`harness export`: a LoRA adapter as one GGUF file, read back and scored like any checkpoint.

Tiny random models (a Llama, whose q/k rows GGUF permutes, and a Qwen3 whose head size is not
hidden/heads) with random-B adapters; the answers are compared on the lab prompts.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
import torch

from conftest import CHATML_TEMPLATE, REPO, build_tiny_adapter, build_tiny_tokenizer, load_json, only_run_dir

PROMPTS = [json.loads(line)["prompt"] for line in (REPO / "suites/data/compare10.jsonl").read_text().splitlines()[:8]]
MAX_NEW = 16
# GGUF stores the norm epsilon as float32: 1e-6 comes back as 9.99999997e-07, which is enough to
# tip a near-tie of a random model; an epsilon float32 holds exactly keeps these tests about weights
EPS = 2.0 ** -20


def build_tiny_llama(out: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = build_tiny_tokenizer(out)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
                         tie_word_embeddings=True, rope_theta=10000.0, rms_norm_eps=EPS)
    torch.manual_seed(3)
    LlamaForCausalLM(config).save_pretrained(out)
    return out


def build_tiny_qwen3_wide_heads(out: Path) -> Path:
    """Qwen3 with head_dim 32 while hidden/heads is 16 (like Qwen3-0.6B: 128 vs 1024/16)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tok = build_tiny_tokenizer(out)
    config = Qwen3Config(vocab_size=len(tok) + 5, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=32, max_position_embeddings=512,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, bos_token_id=None,
                         tie_word_embeddings=False, rms_norm_eps=EPS)
    torch.manual_seed(4)
    Qwen3ForCausalLM(config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def llama_adapter(tmp_path_factory) -> Path:
    base = build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))
    return build_tiny_adapter(base, tmp_path_factory.mktemp("llama-adapter"), seed=2, scale=0.3)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """Converted GGUFs go to a cache of this module's own."""
    folder = tmp_path_factory.mktemp("cache")
    old = os.environ.get("SFT_HARNESS_CACHE")
    os.environ["SFT_HARNESS_CACHE"] = str(folder)
    yield folder
    if old is None:
        os.environ.pop("SFT_HARNESS_CACHE", None)
    else:
        os.environ["SFT_HARNESS_CACHE"] = old


@pytest.fixture(scope="module")
def exports(llama_adapter, tmp_path_factory, cache) -> dict[str, Path]:
    from harness.app.export import export_gguf

    folder = tmp_path_factory.mktemp("exports")
    return {t: export_gguf(str(llama_adapter), t, str(folder / f"model-{t}.gguf")).path for t in ("f16", "q8_0")}


def load_hf(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def merged_reference(adapter: Path, dtype):
    """The adapter merged as `harness merge --dtype fp32` does, the sum rounded to `dtype`, computing in float32."""
    from harness.app.merge import merged_model
    from harness.models.checkpoint import resolve_checkpoint

    model = merged_model(resolve_checkpoint(str(adapter)), torch.float32).eval()
    with torch.no_grad():
        for p in model.parameters():  # the weights only: buffers such as rotary inv_freq stay float32
            p.copy_(p.to(dtype).float())
    return model


def loaded_gguf(path: Path):
    """What `harness run --ckpt model.gguf` loads."""
    from harness.models.checkpoint import resolve_checkpoint

    return load_hf(resolve_checkpoint(str(path)).model)


def greedy(model, tokenizer, prompt: str) -> list[int]:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        out = model.generate(ids, max_new_tokens=MAX_NEW, do_sample=False, eos_token_id=None, pad_token_id=0)
    return out[0, ids.shape[1]:].tolist()


def nll(model, ids: list[int]) -> float:
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0, :-1]
    return torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()


def test_f16_gives_the_merged_models_greedy_answers_token_for_token(llama_adapter, exports):
    reference = merged_reference(llama_adapter, torch.float16)
    model, tokenizer = loaded_gguf(exports["f16"])
    # the same weights, q/k un-permuted back into place
    ours = reference.state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(value, ours[name]), name
    answers = [(greedy(reference, tokenizer, p), greedy(model, tokenizer, p)) for p in PROMPTS]
    assert all(a == b for a, b in answers)
    assert len({tuple(a) for a, _ in answers}) > 1  # the adapter's answers differ by prompt: a real check


def test_q8_0_agrees_on_most_answers_and_perplexity_within_one_percent(llama_adapter, exports, capsys):
    reference = merged_reference(llama_adapter, torch.float32)
    model, tokenizer = loaded_gguf(exports["q8_0"])
    same = sum(greedy(reference, tokenizer, p) == greedy(model, tokenizer, p) for p in PROMPTS)
    texts = [tokenizer.apply_chat_template(json.loads(line)["messages"], tokenize=False)
             for line in (REPO / "suites/data/ppl_val.jsonl").read_text().splitlines()[:8]]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"][:128] for t in texts]
    n_tokens = sum(len(i) - 1 for i in ids)
    ppl_ref = math.exp(sum(nll(reference, i) for i in ids) / n_tokens)
    ppl_q8 = math.exp(sum(nll(model, i) for i in ids) / n_tokens)
    with capsys.disabled():
        print(f"\nq8_0 vs merged fp32: {same}/{len(PROMPTS)} greedy answers identical; "
              f"perplexity {ppl_ref:.3f} -> {ppl_q8:.3f} ({ppl_q8 / ppl_ref - 1:+.3%})")
    assert same >= len(PROMPTS) * 3 // 4
    assert abs(ppl_q8 / ppl_ref - 1) < 0.01
    assert exports["q8_0"].stat().st_size < 0.75 * exports["f16"].stat().st_size


def test_the_gguf_carries_tokenizer_chat_template_and_provenance(llama_adapter, exports):
    import gguf
    from transformers import AutoTokenizer

    from harness.models.checkpoint import weights_hash

    reader = gguf.GGUFReader(str(exports["q8_0"]))
    assert reader.get_field("tokenizer.chat_template").contents() == CHATML_TEMPLATE
    assert reader.get_field("general.architecture").contents() == "llama"
    assert reader.get_field("tokenizer.ggml.pre").contents() == "gpt-2"
    info = json.loads(reader.get_field("sft_harness.export").contents())
    assert info["type"] == "q8_0" and info["adapter_hash"] == weights_hash(str(llama_adapter))
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == "Q8_0" and types["blk.0.attn_norm.weight"] == "F32"
    assert "output.weight" not in types  # tied embeddings: llama.cpp reuses token_embd
    # the tokenizer transformers (and llama.cpp) build from the file renders and encodes as the adapter's
    original = AutoTokenizer.from_pretrained(_base_of(llama_adapter))
    _, from_gguf = loaded_gguf(exports["f16"])
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        text = original.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        assert from_gguf.apply_chat_template(messages, tokenize=False, add_generation_prompt=True) == text
        assert from_gguf(text, add_special_tokens=False)["input_ids"] == original(text, add_special_tokens=False)["input_ids"]


def _base_of(adapter: Path) -> str:
    return json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]


def test_qwen3_with_its_own_head_size_round_trips(tmp_path, cache):
    from harness.app.export import export_gguf

    base = build_tiny_qwen3_wide_heads(tmp_path / "qwen3")
    adapter = build_tiny_adapter(base, tmp_path / "adapter", seed=5, scale=0.3)
    done = export_gguf(str(adapter), "f16", str(tmp_path / "q.gguf"))
    model, tokenizer = loaded_gguf(done.path)
    assert model.config.head_dim == 32
    reference = merged_reference(adapter, torch.float16)
    ours = reference.state_dict()
    assert set(model.state_dict()) == set(ours)  # lm_head kept: the embeddings are not tied
    for name, value in model.state_dict().items():
        assert torch.equal(value, ours[name]), name
    assert greedy(model, tokenizer, PROMPTS[0]) == greedy(reference, tokenizer, PROMPTS[0])


# ---- the whole loop through the command line ---------------------------------------------------

def test_export_run_compare_shows_what_each_type_cost(llama_adapter, exports, tmp_path, harness_cli, cache):
    common = ["--suite", "lab1", "--task", "format", "--task", "ppl", "--limit", "6", "--gen", "max_new_tokens=12"]
    runs = {}
    for label, ckpt in (("adapter", llama_adapter), ("f16", exports["f16"]), ("q8_0", exports["q8_0"])):
        code, out, err = harness_cli("run", "--ckpt", ckpt, "--runs-dir", tmp_path / label, *common)
        assert code == 0, err
        runs[label] = only_run_dir(tmp_path / label)
    config = load_json(runs["q8_0"] / "config.json")["models"]["checkpoint"]
    assert config["gguf"] == str(exports["q8_0"].resolve()) and config["exported_from"]["type"] == "q8_0"

    code, out, err = harness_cli("compare", runs["adapter"], runs["f16"], "--out", tmp_path / "f16.md")
    assert code == 0, err
    assert "What the export cost" in out and "GGUF f16 export of A's adapter" in out
    report = (tmp_path / "f16.md").read_text()
    assert report.startswith("# What the export cost") and "No sample flipped" in report
    f16, q8 = cost(runs["adapter"], runs["f16"]), cost(runs["adapter"], runs["q8_0"])
    # f16: the same answers; the perplexity moves by the rounding of the weights to half precision only
    assert all(f16[m] == (0.0, 0.0, 0.0) for m in f16 if m.startswith("format/"))
    assert abs(f16["ppl/perplexity"][0]) < 1e-3 * f16["ppl/perplexity"][3]
    # q8_0: within 1% perplexity, and more than f16 moved it
    assert 0 < abs(q8["ppl/perplexity"][0]) < 0.01 * q8["ppl/perplexity"][3]
    assert abs(q8["ppl/perplexity"][0]) > abs(f16["ppl/perplexity"][0])

    code, out, err = harness_cli("compare", runs["adapter"], runs["q8_0"], "--out", tmp_path / "q8.md")
    assert code == 0, err
    report = (tmp_path / "q8.md").read_text()
    assert "GGUF q8_0 export of A's adapter" in report
    assert next(line for line in report.splitlines() if line.startswith("| ppl/perplexity"))

    code, out, err = harness_cli("compare", runs["f16"], runs["q8_0"])
    assert code == 0, err
    assert "A and B are GGUF exports of the same adapter (f16 and q8_0)" in " ".join(out.split())

    code, out, err = harness_cli("compare", runs["adapter"], runs["f16"], "--out", tmp_path / "f16.md")
    assert code == 2 and "the file exists" in err  # never overwritten


def cost(a: Path, b: Path) -> dict[str, tuple]:
    """metric -> (delta, CI low, CI high, A's value) of `harness compare A B` (role ckpt)."""
    from harness.results.baseline import load_snapshot
    from harness.results.compare import compare

    out = {}
    for m in compare(load_snapshot(a), load_snapshot(b)).metrics:
        if m.delta["value"] is not None:
            out[m.name] = (m.delta["value"], *m.delta["ci"]) if m.name.startswith("format/") else (
                m.delta["value"], *m.delta["ci"], m.a["value"])
    return out


# ---- bad input: one line, exit 2, nothing written --------------------------------------------

def test_q4_k_m_without_llama_quantize_is_one_line(llama_adapter, tmp_path, harness_cli, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("LLAMA_QUANTIZE", raising=False)
    code, out, err = harness_cli("export", "--ckpt", llama_adapter, "--gguf", "q4_k_m", "--out", tmp_path / "m.gguf")
    assert code == 2 and "llama-quantize" in err and "LLAMA_QUANTIZE" in err
    assert not (tmp_path / "m.gguf").exists()
    monkeypatch.setenv("LLAMA_QUANTIZE", str(tmp_path / "nope"))
    code, out, err = harness_cli("export", "--ckpt", llama_adapter, "--gguf", "q4_k_m", "--out", tmp_path / "m.gguf")
    assert code == 2 and "$LLAMA_QUANTIZE" in err and "not an executable" in err


def test_export_never_overwrites(llama_adapter, tmp_path, harness_cli):
    target = tmp_path / "model.gguf"
    target.write_bytes(b"keep me")
    code, out, err = harness_cli("export", "--ckpt", llama_adapter, "--gguf", "f16", "--out", target)
    assert code == 2 and "the file exists" in err
    assert target.read_bytes() == b"keep me"
    code, out, err = harness_cli("export", "--ckpt", llama_adapter, "--gguf", "f16", "--out", tmp_path / "model.bin")
    assert code == 2 and ".gguf" in err
    code, out, err = harness_cli("export", "--ckpt", target, "--gguf", "q8_0", "--out", tmp_path / "again.gguf")
    assert code == 2 and "is a GGUF file already" in err


def test_export_refuses_an_architecture_it_cannot_write(tmp_path, harness_cli):
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = build_tiny_tokenizer(tmp_path / "gpt2")
    GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2)).save_pretrained(tmp_path / "gpt2")
    code, out, err = harness_cli("export", "--ckpt", tmp_path / "gpt2", "--gguf", "f16", "--out", tmp_path / "m.gguf")
    assert code == 2 and "supports llama, qwen3" in err and "'gpt2'" in err
    assert not list(tmp_path.glob("*gguf*"))


def test_run_refuses_a_file_that_is_not_gguf(tmp_path, harness_cli):
    weights = tmp_path / "model.bin"
    weights.write_bytes(b"\0" * 16)
    code, out, err = harness_cli("run", "--ckpt", weights, "--suite", "lab1", "--runs-dir", tmp_path / "runs")
    assert code == 2 and ".gguf file" in err
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf")
    code, out, err = harness_cli("run", "--ckpt", broken, "--suite", "lab1", "--runs-dir", tmp_path / "runs")
    assert code == 2 and "cannot read" in err and "GGUF" in err
