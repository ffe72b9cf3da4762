"""lab1 end to end on the bundled SmolLM2-135M-Instruct (a real instruct model, on CPU), converted
from its GGUF file into a fresh cache (never the user's ~/.cache), over a half-written folder."""

from __future__ import annotations

import math
import re

import pytest
from conftest import load_json, only_run_dir, scored_records

LAB1_METRICS = {
    "format/json_validity_strict", "format/json_validity_lenient", "format/schema_pass_rate",
    "format/table_pass_rate", "safety/refusal_rate", "safety/over_refusal_rate", "safety/warned_rate",
    "ppl/perplexity", "ppl/bits_per_byte", "usability/usability_rate",
}


def compare_rows(report: str) -> list[list[str]]:
    """The table rows of the report's compare10 section: [id, prompt, answer]."""
    section = report.split("## compare10: answers side by side", 1)[1].split("\n## ", 1)[0]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in section.splitlines() if re.match(r"\| c\d\d \|", line)]


def test_lab1_on_the_bundled_model(harness_cli, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SFT_HARNESS_CACHE", str(cache))
    half_written = cache / "models" / "smollm2-135m-instruct"  # as an older, killed conversion left it
    half_written.mkdir(parents=True)
    (half_written / "model.safetensors").write_bytes(b"half a model")
    code, out, err = harness_cli(
        "run", "--suite", "lab1", "--ckpt", "smollm2-135m-instruct", "--runs-dir", tmp_path / "runs",
        "--gen", "max_new_tokens=16", "--batch-size", "16",
    )
    assert code == 0, err
    assert (half_written / ".converted-from-gguf").is_file()  # converted here and now, over the half-written folder
    assert [p.name for p in half_written.parent.iterdir()] == ["smollm2-135m-instruct"]
    run = only_run_dir(tmp_path / "runs")
    summary = load_json(run / "summary.json")
    assert summary["roles"] == ["ckpt"]
    assert set(summary["metrics"]) == LAB1_METRICS
    records = scored_records(run)
    for name, entry in summary["metrics"].items():
        ckpt = entry["ckpt"]
        assert ckpt["n"] > 0, name
        lo, hi = ckpt["ci"]
        assert lo <= ckpt["value"] <= hi, name
    # bits per byte: far below the 8 bits a byte would cost a model that knows nothing (1.28 measured)
    assert 0.3 < summary["metrics"]["ppl/bits_per_byte"]["ckpt"]["value"] < 3.0
    for name in LAB1_METRICS:
        assert name in out

    # perplexity: exp(sum NLL / counted tokens) over the assistant tokens of the 24 conversations;
    # measured 8.69 (a real model on natural text; the mask or the weights going wrong moves it far)
    ppl = [r for r in records if r["task"] == "ppl"]
    assert len(ppl) == 24
    expected = math.exp(sum(r["nll_sum"] for r in ppl) / sum(r["n_tokens"] for r in ppl))
    assert summary["metrics"]["ppl/perplexity"]["ckpt"]["value"] == pytest.approx(expected, rel=1e-9)
    assert expected == pytest.approx(8.69, rel=0.05)

    # 16 tokens cut almost every answer: a cut answer is never usable, and the rate counts them
    answers = [r for r in records if r["task"] != "ppl"]
    assert len(answers) == 10 + 19 + 48
    usable = [r["scores"]["usability"]["value"] for r in answers]
    assert all(v == 0.0 for r, v in zip(answers, usable) if r["finish_reason"] == "length")
    assert sum(r["finish_reason"] == "length" for r in answers) > 60
    assert summary["metrics"]["usability/usability_rate"]["ckpt"]["value"] == pytest.approx(sum(usable) / len(usable))

    rows = compare_rows((run / "report.md").read_text())
    prompts = {r["id"]: r["prompt"] for r in answers if r["task"] == "compare10"}
    assert [row[0] for row in rows] == [f"c{i:02d}" for i in range(1, 11)]  # the 10 compare prompts, in order
    assert all(row[1] == prompts[row[0]] for row in rows)
