"""Lab 1's path end to end on CPU with Qwen3's real tokenizer and chat templates, one test per step:
`harness data check` on UltraChat-shaped multi-turn data, `harness mask-audit`, `harness train
--config configs/lab1-qlora.yaml` (4-bit NF4 as the config says; a tiny random Qwen3 with the real
vocabulary), every checkpoint rescored with thinking off, `harness report --lab lab1`; and each
Qwen3 template revision trains with the lab config."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from conftest import load_json
from qwen3_tokenizer import template

REPO = Path(__file__).resolve().parent.parent
LAB_CONFIG = REPO / "configs" / "lab1-qlora.yaml"

_TOPICS = ["QLoRA", "LoRA rank", "a learning rate", "gradient accumulation", "a chat template", "perplexity",
           "a loss mask", "NF4 quantization", "warmup", "a validation split", "overfitting", "packing"]


def ultrachat_rows() -> list[dict]:
    """Rows shaped like HuggingFaceH4/ultrachat_200k's train_sft: prompt, prompt_id, multi-turn messages."""
    rows = []
    for i, topic in enumerate(_TOPICS):
        messages = [
            {"role": "user", "content": f"What is {topic}?"},
            {"role": "assistant", "content": f"{topic[0].upper()}{topic[1:]} is one of the settings of fine-tuning run {i}."},
            {"role": "user", "content": "Give me one reason it matters."},
            {"role": "assistant", "content": f"It changes how run {i} learns."},
        ]
        if i % 3 == 0:
            messages += [{"role": "user", "content": "Thanks!"}, {"role": "assistant", "content": "You're welcome."}]
        rows.append({"prompt": messages[0]["content"], "prompt_id": f"{i:064x}", "messages": messages})
    return rows


ASSISTANT_TURNS = sum(sum(m["role"] == "assistant" for m in r["messages"]) for r in ultrachat_rows())


@pytest.fixture(scope="module")
def lab_data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ultrachat") / "train_sft.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ultrachat_rows()), encoding="utf-8")
    return path


def lab_train_args(model, data: Path, out: Path, max_steps: int = 4, rescore: bool = True) -> list[str]:
    """The lab's config with the CPU-sized changes only: the tiny model, a local copy of the data,
    fewer steps, short sequences and a small rescoring profile."""
    sets = [f"model={model}", f"data.train={data}", f"output_dir={out}", f"max_steps={max_steps}",
            "per_device_batch_size=2", "gradient_accumulation_steps=1", "max_length=256", "save_steps=2",
            "eval_steps=2", "logging_steps=1", "lora.r=4", "lora.alpha=8", "learning_rate=1e-3",
            "rescore.max_samples=2", "rescore.gen.max_new_tokens=4", "rescore.final_gen.max_new_tokens=4",
            "rescore.final_tasks=[compare10,format]"]
    args = ["train", "--config", LAB_CONFIG, *[f"--set={s}" for s in sets]]
    return args + ([] if rescore else ["--rescore", "none"])


def test_the_lab_config_is_what_these_tests_train():
    config = yaml.safe_load(LAB_CONFIG.read_text())
    assert config["model"] == "Qwen/Qwen3-1.7B" and config["quantization"] == "nf4"
    assert config["data"]["train"] == "HuggingFaceH4/ultrachat_200k" and config["rescore"]["suite"] == "lab1"
    suite = yaml.safe_load((REPO / "suites" / "lab1.yaml").read_text())
    assert suite["generation"]["enable_thinking"] is False  # lab 1 scores answers with thinking off


def test_step1_data_check(harness_cli, qwen3_model, lab_data):
    code, out, err = harness_cli("data", "check", lab_data, "--model", qwen3_model("first_release"), "--max-length", "256")
    assert code == 0, err
    assert f"checked {len(ultrachat_rows())} rows" in out and "with problems" not in out
    assert f"end-of-turn trained: {ASSISTANT_TURNS}/{ASSISTANT_TURNS}" in out
    assert "system/user tokens trained: 0/0" in out
    assert f"empty <think></think> blocks: {ASSISTANT_TURNS} rendered, 0 tokens trained" in out


def test_step2_mask_audit(harness_cli, qwen3_model, lab_data):
    code, out, err = harness_cli("mask-audit", "--data", lab_data, "--model", qwen3_model("first_release"))
    assert code == 0, err
    assert f"end-of-turn trained: {ASSISTANT_TURNS}/{ASSISTANT_TURNS}" in out and "system/user tokens trained: 0/0" in out
    assert f"empty <think></think> blocks: {ASSISTANT_TURNS} rendered, 0 tokens trained" in out


@pytest.fixture(scope="module")
def lab_run(qwen3_model, lab_data, tmp_path_factory):
    from harness.cli import main

    out = tmp_path_factory.mktemp("lab1") / "out"
    assert main([str(a) for a in lab_train_args(qwen3_model("first_release"), lab_data, out)]) == 0
    return out


def test_step3_train_with_the_lab_config_in_4bit(lab_run):
    config = yaml.safe_load((lab_run / "train_config.yaml").read_text())
    assert config["quantization"] == "nf4" and config["lora"]["target_modules"] == "all-linear"
    audit = load_json(lab_run / "mask_audit.json")
    assert audit["ok"] and audit["assistant_turns"] == audit["end_of_turn_trained"] > 0
    assert audit["trained_user_tokens"] == audit["trained_system_tokens"] == audit["empty_think_tokens_trained"] == 0
    summary = load_json(lab_run / "training_summary.json")
    assert [step for step, _loss in summary["train_loss"]][-1] == 4
    assert (lab_run / "checkpoint-2" / "adapter_model.safetensors").is_file()
    assert (lab_run / "checkpoint-4" / "adapter_model.safetensors").is_file()
    # the checkpoints carry the model's own (first-release) template, not the training variant
    saved = json.loads((lab_run / "final" / "tokenizer_config.json").read_text())
    saved_template = saved.get("chat_template") or (lab_run / "final" / "chat_template.jinja").read_text()
    assert saved_template.strip() == template("first_release").strip()


def test_step4_every_checkpoint_rescored_with_thinking_off(lab_run):
    lines = [json.loads(x) for x in (lab_run / "scores.jsonl").read_text().splitlines()]
    assert [(x["step"], x["profile"]) for x in lines] == [(2, "checkpoint"), (4, "checkpoint"), (None, "final")]
    assert {"format/json_validity_strict", "safety/refusal_rate", "ppl/perplexity"} <= set(lines[0]["metrics"])
    own_template = hashlib.sha256(template("first_release").encode()).hexdigest()[:16]
    for line in lines:
        config = load_json(Path(line["run_dir"]) / "config.json")
        generated = {name: t["generation"] for name, t in config["suite"]["tasks"].items() if t["kind"] == "generate"}
        assert generated and all(g["enable_thinking"] is False for g in generated.values()), line["run_dir"]
        assert config["chat_template_hash"] == own_template  # prompts rendered with the model's own template
    # what thinking off means for this tokenizer: the prompt ends in the empty thinking block
    from harness.models.backends.hf import load_tokenizer
    from harness.models.checkpoint import resolve_checkpoint

    tok = load_tokenizer(resolve_checkpoint(str(lab_run / "checkpoint-2")))
    prompt = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True,
                                     enable_thinking=False)
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


def test_step5_lab_report(harness_cli, lab_run, tmp_path):
    code, out, err = harness_cli("report", "--lab", "lab1", "--train", lab_run, "--out", tmp_path / "report")
    assert code == 0, err
    report = (tmp_path / "report" / "report.md").read_text()
    assert "Qwen3" in report or "lab" in report.lower()
    assert (tmp_path / "report" / "report.html").is_file() and (tmp_path / "report" / "grade.json").is_file()


@pytest.mark.parametrize("revision", ["later", "instruct_2507"])
def test_the_other_revisions_train_with_the_lab_config(harness_cli, qwen3_model, lab_data, tmp_path, revision):
    out = tmp_path / "out"
    code, stdout, err = harness_cli(*lab_train_args(qwen3_model(revision), lab_data, out, max_steps=1, rescore=False))
    assert code == 0, err
    audit = load_json(out / "mask_audit.json")
    assert audit["ok"] and audit["assistant_turns"] == audit["end_of_turn_trained"] > 0
    assert audit["empty_think_tokens_trained"] == 0
    assert audit["empty_think_blocks"] == (0 if revision == "instruct_2507" else audit["assistant_turns"])
    assert (out / "final" / "adapter_model.safetensors").is_file()
    assert "4-bit NF4" in stdout
