"""`harness baseline save`, `gate` and `compare` end to end on the tiny model's `ppl` task.

A good adapter, the same adapter run twice (no false alarm) and a degraded copy of it (noise
added to its LoRA weights), each scored on the ppl task and gated against a baseline.
"""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import load_json, only_run_dir
from test_cli_errors import assert_one_line_error

PPL_POLICY = "suite: lab1\nmetrics:\n  ppl/perplexity: {max_drop: 5.0}\n"


def fit_adapter(base: Path, out: Path, steps: int = 30, lr: float = 2e-2) -> Path:
    """A LoRA adapter fitted for a few steps to the ppl conversations (their first 64 tokens).

    On a random model, random LoRA weights move perplexity by chance only, in either direction; a
    fitted adapter gives the noise something to destroy, so the degradation is systematic.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.suite import load_suite

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 64-wide model: threads only contend, on a busy machine badly
    try:
        torch.manual_seed(0)
        tok = AutoTokenizer.from_pretrained(base)
        lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], task_type="CAUSAL_LM")
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), lora)
        conversations = [s["messages"] for s in load_suite("lab1", tasks=["ppl"]).tasks["ppl"].samples]
        texts = [tok.apply_chat_template(c, tokenize=False) for c in conversations]
        batch = tok(texts, return_tensors="pt", padding=True, truncation=True, max_length=64)
        labels = batch.input_ids.masked_fill(batch.attention_mask == 0, -100)
        opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
        for _ in range(steps):
            loss = model(**batch, labels=labels).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.save_pretrained(out)
    finally:
        torch.set_num_threads(threads)
    cfg = json.loads((out / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(base)
    (out / "adapter_config.json").write_text(json.dumps(cfg))
    return out


def add_noise(adapter: Path, out: Path, std: float = 0.5, seed: int = 7) -> Path:
    """A copy of `adapter` with Gaussian noise added to every LoRA weight."""
    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(adapter, out)
    weights = load_file(out / "adapter_model.safetensors")
    gen = torch.Generator().manual_seed(seed)
    save_file({k: v + torch.randn(v.shape, generator=gen) * std for k, v in weights.items()}, out / "adapter_model.safetensors")
    return out


def _run(root: Path, *args) -> Path:
    from harness.cli import main

    assert main(["run", "--task", "ppl", "--runs-dir", str(root), *map(str, args)]) == 0
    return only_run_dir(root)


@pytest.fixture(scope="module")
def runs(tiny_model, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gate")
    good = fit_adapter(tiny_model, tmp / "good-adapter")
    bad = add_noise(good, tmp / "degraded-adapter")
    out = {
        "good": _run(tmp / "good", "--ckpt", good),
        "again": _run(tmp / "again", "--ckpt", good),
        "bad": _run(tmp / "bad", "--ckpt", bad, "--no-base"),
    }
    from harness.cli import main

    out["baseline"] = tmp / "baselines" / "lab1.json"
    assert main(["baseline", "save", str(out["good"]), "--out", str(out["baseline"])]) == 0
    out["policy"] = tmp / "gate.yaml"
    out["policy"].write_text(PPL_POLICY)
    return out


def junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.get("name"): case for case in root.iter("testcase")}


def test_the_same_checkpoint_twice_scores_identically_and_passes(harness_cli, runs, tmp_path):
    def nlls(run):
        return [(r["role"], r["id"], r["nll_sum"], r["n_tokens"]) for r in map(json.loads, (run / "samples.jsonl").read_text().splitlines())]

    assert sorted(nlls(runs["good"])) == sorted(nlls(runs["again"]))
    assert load_json(runs["good"] / "summary.json")["metrics"] == load_json(runs["again"] / "summary.json")["metrics"]
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.md"
    code, out, err = harness_cli("gate", runs["again"], "--baseline", runs["baseline"], "--policy", runs["policy"],
                                 "--junit", junit, "--summary", summary)
    assert code == 0, err
    assert "PASS ppl/perplexity" in out and "drop 0 <= max_drop 5" in out and "gate passed" in out
    cases = junit_cases(junit)
    assert list(cases) == ["ppl/perplexity"] and cases["ppl/perplexity"].find("failure") is None
    assert "Gate passed" in summary.read_text()


def test_the_degraded_adapter_fails_the_gate_on_perplexity(harness_cli, runs, tmp_path):
    code, out, err = harness_cli("gate", runs["bad"], "--baseline", runs["baseline"], "--policy", runs["policy"],
                                 "--junit", tmp_path / "junit.xml", "--summary", tmp_path / "summary.md")
    assert code == 1, err
    assert "FAIL ppl/perplexity" in out and "> max_drop 5, significant" in out and "gate failed" in out
    failure = junit_cases(tmp_path / "junit.xml")["ppl/perplexity"].find("failure")
    assert failure is not None and "significant" in failure.get("message")
    summary = (tmp_path / "summary.md").read_text()
    assert "Gate failed: 1 of 1 metric\n" in summary and "| ❌ | ppl/perplexity ↓ |" in summary


def test_the_gate_writes_its_reports_into_the_run_directory_by_default(harness_cli, runs, tmp_path):
    run = tmp_path / "again"  # a private copy: the module's shared runs stay as the other tests expect them
    shutil.copytree(runs["again"], run)
    assert not (run / "gate-junit.xml").exists() and not (run / "gate-summary.md").exists()
    code, out, _ = harness_cli("gate", run, "--baseline", runs["baseline"], "--policy", runs["policy"])
    assert code == 0
    assert ET.parse(run / "gate-junit.xml").getroot().tag == "testsuites"
    assert (run / "gate-summary.md").read_text().startswith("## ✅ Gate passed")


def test_the_default_lab1_policy_gates_only_the_tasks_the_run_ran(harness_cli, runs, tmp_path):
    """A ppl-only run (--task ppl) against lab1's policy: its two ppl metrics are gated, the eight
    of tasks it did not run are listed as not gated (JUnit: skipped), not failed."""
    junit = tmp_path / "junit.xml"
    code, out, _ = harness_cli("gate", runs["again"], "--baseline", runs["baseline"], "--junit", junit,
                               "--summary", tmp_path / "s.md")
    assert code == 0, out
    assert "suites/policies/lab1.yaml" in out
    assert "not gated: 8 metrics of tasks this run did not run (" in out and "safety/refusal_rate" in out
    assert "gate passed: 2 metrics" in out
    cases = junit_cases(junit)
    assert len(cases) == 10 and cases["ppl/perplexity"].find("failure") is None
    assert cases["ppl/bits_per_byte"].find("failure") is None
    skipped = cases["safety/refusal_rate"].find("skipped")
    assert skipped is not None and "not run" in skipped.get("message")
    assert sum(c.find("failure") is not None for c in cases.values()) == 0
    assert sum(c.find("skipped") is not None for c in cases.values()) == 8
    assert "not gated: 8 metrics" in (tmp_path / "s.md").read_text()


def test_a_policy_none_of_whose_tasks_ran_is_refused(harness_cli, runs, tmp_path):
    policy = tmp_path / "safety.yaml"
    policy.write_text("suite: lab1\nmetrics:\n  safety/refusal_rate: {min: 0.8}\n")
    code, _, err = harness_cli("gate", runs["again"], "--policy", policy)
    assert_one_line_error(code, err, str(policy), "none of its metrics belongs to a task", "its tasks: ppl")


def test_gate_help_lists_every_exit_code(harness_cli, capsys):
    import pytest as _pytest

    with _pytest.raises(SystemExit):
        harness_cli("gate", "--help")
    text = " ".join(capsys.readouterr().out.split())
    assert "0 every gated metric passed" in text and "1 a regression" in text
    assert "2 usage error" in text and "3 internal error" in text


def test_gating_the_base_model(harness_cli, runs, tmp_path):
    code, out, err = harness_cli("gate", runs["again"], "--role", "base", "--baseline", runs["baseline"],
                                 "--policy", runs["policy"], "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
    assert code == 0, err
    assert "(base)" in out
    code, _, err = harness_cli("gate", runs["bad"], "--role", "base", "--baseline", runs["baseline"], "--policy", runs["policy"])
    assert_one_line_error(code, err, str(runs["bad"]), "no 'base' model", "--role")


def test_the_baseline_file_stands_alone(harness_cli, runs, tmp_path):
    doc = load_json(runs["baseline"])
    assert doc["suite"]["name"] == "lab1" and doc["suite"]["tasks"]["ppl"]["data_hash"]
    assert doc["metrics"]["ppl/perplexity"]["ckpt"]["n"] == 24
    sample = doc["samples"][0]
    assert {"role", "task", "id", "prompt", "nll_sum", "n_tokens"} <= set(sample) and "output" not in sample
    # a baseline saved from a private copy of the good run, which is then deleted: the gate and
    # compare need nothing of the run a baseline came from (the shared runs stay untouched)
    source = tmp_path / "good-copy"
    shutil.copytree(runs["good"], source)
    moved = tmp_path / "lab1.json"
    code, _, err = harness_cli("baseline", "save", source, "--out", moved)
    assert code == 0, err
    shutil.rmtree(source)
    code, _, err = harness_cli("gate", runs["bad"], "--baseline", moved, "--policy", runs["policy"],
                               "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
    assert code == 1, err
    code, out, err = harness_cli("compare", moved, runs["bad"])
    assert code == 0, err
    assert "ppl/perplexity" in out and "yes, worse" in out


def test_compare_shows_the_degradation_and_no_change_for_a_rerun(harness_cli, runs):
    code, out, err = harness_cli("compare", runs["good"], runs["bad"])
    assert code == 0, err
    row = next(line for line in out.splitlines() if "ppl/perplexity" in line)
    assert "yes, worse" in row and "n=24" in row
    code, out, _ = harness_cli("compare", runs["good"], runs["again"])
    row = next(line for line in out.splitlines() if "ppl/perplexity" in line)
    assert "+0.000 [+0.000, +0.000]" in row and row.rstrip(" │").endswith("no")


def test_a_run_on_different_data_is_not_comparable(harness_cli, runs, tiny_adapter, tmp_path):
    data = tmp_path / "val.jsonl"
    data.write_text(json.dumps({"id": "v01", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    other = _run(tmp_path / "runs", "--ckpt", tiny_adapter, "--no-base", "--data", data)
    code, _, err = harness_cli("gate", other, "--baseline", runs["baseline"], "--policy", runs["policy"])
    assert_one_line_error(code, err, "not comparable", "a different data hash for task ppl")
    code, _, err = harness_cli("compare", runs["good"], other)
    assert_one_line_error(code, err, "not comparable", "data hash for task ppl")
