"""lab1 end to end on the bundled SmolLM2-135M-Instruct (a real instruct model, on CPU)."""

from __future__ import annotations

from conftest import load_json, only_run_dir

LAB1_METRICS = {
    "format/json_validity_strict", "format/json_validity_lenient", "format/schema_pass_rate",
    "format/table_pass_rate", "safety/refusal_rate", "safety/over_refusal_rate", "ppl/perplexity",
    "ppl/bits_per_byte", "usability/usability_rate",
}


def test_lab1_on_the_bundled_model(harness_cli, tmp_path):
    code, out, err = harness_cli(
        "run", "--suite", "lab1", "--ckpt", "smollm2-135m-instruct", "--runs-dir", tmp_path,
        "--gen", "max_new_tokens=16", "--batch-size", "16",
    )
    assert code == 0, err
    run = only_run_dir(tmp_path)
    summary = load_json(run / "summary.json")
    assert summary["roles"] == ["ckpt"]
    assert set(summary["metrics"]) == LAB1_METRICS
    for name, entry in summary["metrics"].items():
        ckpt = entry["ckpt"]
        assert ckpt["n"] > 0, name
        lo, hi = ckpt["ci"]
        assert lo <= ckpt["value"] <= hi, name
    # a real model: perplexity on natural validation text is far below the vocabulary size (49152)
    assert 1.0 < summary["metrics"]["ppl/perplexity"]["ckpt"]["value"] < 100.0
    # ... and far below the 8 bits a byte would cost a model that knows nothing (1.28 measured)
    assert 0.3 < summary["metrics"]["ppl/bits_per_byte"]["ckpt"]["value"] < 3.0
    for name in LAB1_METRICS:
        assert name in out
    assert (run / "report.md").read_text().count("| c") >= 10  # the 10 compare prompts
