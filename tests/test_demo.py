"""`harness demo`, the README's main command: its config loads and validates as shipped, and a
shortened run (the tiny model, 2 steps, few samples) goes through train -> rescore at every
checkpoint -> the full suite on the final adapter -> the final report."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_json

SHORT = [
    "max_steps=2", "save_steps=1", "eval_steps=1", "logging_steps=1", "per_device_batch_size=4",
    "rescore.max_samples=2", "rescore.gen={max_new_tokens: 4}", "rescore.final_gen={max_new_tokens: 4}",
]


def test_the_demo_config_loads_and_names_real_data_and_tasks():
    from harness.app.checkpoint_scores import Rescorer
    from trainers.config import load_train_config
    from trainers.conversations import train_validation
    from trainers.demo import DEMO_CONFIG

    config = load_train_config(str(DEMO_CONFIG))
    assert config.model == "smollm2-135m-instruct" and config.trainer == "qlora" and config.quantization == "nf4"
    assert config.max_steps == 20 and config.save_steps == 10 and config.rescore.final
    train, val = train_validation(config.data, config.seed)  # the files exist and every row is valid
    assert len(train) == 320 and len(val) == 40  # the built mix: its train and validation splits
    assert (Path(config.data.train) / "train.jsonl").is_file() and config.data.validation is None
    rescorer = Rescorer(Path("unused"), config.rescore.suite, tasks=config.rescore.tasks,
                        max_samples=config.rescore.max_samples, gen=config.rescore.gen, final_gen=config.rescore.final_gen)
    fast = rescorer.load(full=False)
    assert list(fast.tasks) == ["format", "ppl"] and all(len(t.samples) == 8 for t in fast.tasks.values())
    assert fast.tasks["format"].generation.max_new_tokens == 40
    assert rescorer.load(full=True).tasks["safety"].generation.max_new_tokens == 64


def test_a_shortened_demo_trains_rescores_and_reports(harness_cli, tiny_model, tmp_path):
    out = tmp_path / "demo"
    sets = [f"--set={s}" for s in [f"model={tiny_model}", *SHORT]]
    code, stdout, err = harness_cli("demo", "--output-dir", out, *sets)
    assert code == 0, err
    lines = [json.loads(x) for x in (out / "scores.jsonl").read_text().splitlines()]
    assert [(x["step"], x["profile"]) for x in lines] == [(1, "checkpoint"), (2, "checkpoint"), (None, "final")]
    assert set(lines[0]["metrics"]) == {"format/json_validity_strict", "format/json_validity_lenient", "format/schema_pass_rate",
                                        "format/table_pass_rate", "ppl/perplexity", "ppl/bits_per_byte",
                                        "usability/usability_rate"}
    final = lines[2]["metrics"]
    assert final["ppl/perplexity"]["n"] == 24 and {"safety/refusal_rate", "safety/over_refusal_rate"} <= set(final)
    summary = load_json(out / "training_summary.json")
    report = Path(summary["final_report"])
    assert report.is_file() and report.parent == Path(lines[2]["run_dir"])
    assert "compare10: answers side by side" in report.read_text()
    assert (out / "final" / "adapter_model.safetensors").is_file() and (out / "training_loss.png").stat().st_size > 1000
    assert summary["diagnosis"]["kind"] == "too_short"
    saved = (out / "train_config.yaml").read_text()
    assert "/data/demo" in saved and "max_steps: 2" in saved
    assert f"Report of the final adapter: {report}" in stdout.replace("\n", "")
