"""`harness train` (QLoRA via TRL on the tiny model), every checkpoint rescored; `harness watch`;
config and data errors."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from conftest import build_tiny_model, load_json
from test_mask_audit import TRAINS_USER

CONVS = [
    [{"role": "user", "content": f"Only output a JSON object with keys name and score for student {i}."},
     {"role": "assistant", "content": json.dumps({"name": f"s{i}", "score": i})}]
    for i in range(12)
]


def write_config(tmp_path, model, **overrides) -> str:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    config = {
        "model": str(model), "output_dir": str(tmp_path / "out"),
        "data": {"train": str(data), "val_split": 0.25},
        "lora": {"r": 4, "alpha": 8},
        "per_device_batch_size": 2, "gradient_accumulation_steps": 2, "max_steps": 2, "max_length": 128,
        "learning_rate": 1e-3, "logging_steps": 1, "save_steps": 1, "eval_steps": 1, "gradient_checkpointing": False,
        "rescore": {"suite": "lab1", "tasks": ["format", "ppl"], "max_samples": 2, "gen": {"max_new_tokens": 4},
                    "final_gen": {"max_new_tokens": 4}},
    }
    config.update(overrides)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory):
    """One QLoRA run on the tiny model, shared by the tests below."""
    from harness.cli import main

    tmp = tmp_path_factory.mktemp("train")
    assert main(["train", "--config", write_config(tmp, tiny_model)]) == 0
    return tmp / "out"


def test_training_writes_checkpoints_each_rescored(trained):
    assert (trained / "checkpoint-1" / "adapter_config.json").is_file()
    assert (trained / "checkpoint-2" / "adapter_config.json").is_file()
    assert (trained / "final" / "adapter_model.safetensors").is_file()
    lines = [json.loads(x) for x in (trained / "scores.jsonl").read_text().splitlines()]
    assert [(x["step"], x["profile"]) for x in lines] == [(1, "checkpoint"), (2, "checkpoint"), (None, "final")]
    first = lines[0]["metrics"]
    assert set(first) == {"format/json_validity_strict", "format/json_validity_lenient", "format/schema_pass_rate",
                          "format/table_pass_rate", "ppl/perplexity", "ppl/bits_per_byte",
                          "usability/usability_rate"}
    assert first["ppl/perplexity"]["n"] == 2 and first["ppl/perplexity"]["delta"] is not None
    # training moved the adapter: perplexity differs from the base's
    assert lines[1]["metrics"]["ppl/perplexity"]["ckpt"] != lines[1]["metrics"]["ppl/perplexity"]["base"]
    # the base is scored once per profile and reused
    base = [json.loads(x) for x in (trained / "evals" / "base-checkpoint" / "samples.jsonl").read_text().splitlines()]
    assert len(base) == len({(r["task"], r["id"]) for r in base})
    final = lines[2]["metrics"]
    assert "safety/over_refusal_rate" in final and final["ppl/perplexity"]["n"] == 24


def test_4bit_weights_stay_in_the_trainable_layout_after_evaluation(tiny_model, tmp_path):
    """Evaluation and rescoring switch the model to eval mode between training steps; on a CPU,
    bitsandbytes would then repack 4-bit weights for inference and later backward passes would
    lose their gradients. The trainer must prevent that."""
    import torch
    from bitsandbytes.nn import Linear4bit
    from rich.console import Console

    from trainers.config import load_train_config
    from trainers.qlora import QLoRATrainer

    class Hooks:
        def on_start(self, model, tokenizer): ...
        def on_checkpoint(self, step, path, model, tokenizer): ...

    config = load_train_config(write_config(tmp_path, tiny_model), ["rescore.suite=null"])
    result = QLoRATrainer().train(config, Hooks(), Console(quiet=True))
    layers = [m for m in result.model.modules() if isinstance(m, Linear4bit)]
    assert layers and not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
    result.model.eval()
    with torch.no_grad():  # an inference pass, as rescoring does
        result.model(input_ids=torch.tensor([[1, 2, 3]]))
    assert not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)


def test_training_outputs_curve_diagnosis_config_and_audit(trained):
    assert (trained / "training_loss.png").stat().st_size > 1000
    summary = load_json(trained / "training_summary.json")
    assert summary["diagnosis"]["kind"] in {"healthy", "overfitting", "unstable", "flat", "too_short"}
    assert len(summary["train_loss"]) >= 2 and summary["final_report"].endswith("report.md")
    saved = yaml.safe_load((trained / "train_config.yaml").read_text())
    assert saved["lora"]["r"] == 4 and saved["max_length"] == 128
    audit = load_json(trained / "mask_audit.json")
    assert audit["ok"] and audit["trained_user_tokens"] == 0 and audit["end_of_turn_trained"] == audit["assistant_turns"]


def test_watch_rescores_each_new_checkpoint_once(harness_cli, trained, tmp_path):
    watched = tmp_path / "external"
    watched.mkdir()
    shutil.copytree(trained / "checkpoint-1", watched / "checkpoint-1")
    code, _, err = harness_cli("watch", watched, "--task", "ppl", "--max-samples", "3", "--once")
    assert code == 0, err
    shutil.copytree(trained / "checkpoint-2", watched / "checkpoint-2")
    code, out, err = harness_cli("watch", watched, "--task", "ppl", "--max-samples", "3", "--once")
    assert code == 0, err
    assert "scored 1 new checkpoint" in out
    lines = [json.loads(x) for x in (watched / "scores.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [1, 2]
    assert lines[0]["metrics"]["ppl/perplexity"]["ckpt"] != lines[1]["metrics"]["ppl/perplexity"]["ckpt"]


def test_unknown_config_key_names_the_valid_ones(harness_cli, tiny_model, tmp_path):
    path = write_config(tmp_path, tiny_model, learning_rte=1e-4)
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and "unknown config key 'learning_rte'" in err and "learning_rate" in err


def test_unknown_override_key(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, tiny_model), "--set", "lora.rank=8")
    assert code == 2 and "lora.rank" in err and "r, alpha" in err


def test_bad_training_data_names_file_and_line(harness_cli, tiny_model, tmp_path):
    path = write_config(tmp_path, tiny_model)
    data = tmp_path / "train.jsonl"
    lines = data.read_text().splitlines()
    lines[3] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})  # no assistant turn
    data.write_text("\n".join(lines) + "\n")
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and f"{data}:4" in err and "assistant" in err
    lines[3] = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "  "}]})
    data.write_text("\n".join(lines) + "\n")
    code, _, err = harness_cli("train", "--config", path)
    assert code == 2 and f"{data}:4" in err and "empty content" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()


def test_training_refuses_a_mask_that_trains_user_text(harness_cli, tmp_path):
    model = build_tiny_model(tmp_path / "bad-template-model", chat_template=TRAINS_USER)
    code, _, err = harness_cli("train", "--config", write_config(tmp_path, model))
    assert code == 2 and "mask audit failed" in err and "user" in err
    assert not (tmp_path / "out" / "checkpoint-1").exists()
