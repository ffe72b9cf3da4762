"""`harness run` end to end on the tiny model: adapter vs base, records, summary, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import load_json, only_run_dir

FAST = ["--gen", "max_new_tokens=6", "--batch-size", "4"]


def test_adapter_run_scores_base_and_adapter(harness_cli, tiny_adapter, tmp_path):
    code, out, err = harness_cli("run", "--suite", "lab1", "--ckpt", tiny_adapter, "--runs-dir", tmp_path, *FAST)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    summary = load_json(run / "summary.json")
    assert summary["roles"] == ["base", "ckpt"]
    ppl = summary["metrics"]["ppl/perplexity"]
    assert ppl["base"]["n"] == ppl["ckpt"]["n"] == 24
    assert ppl["base"]["value"] != ppl["ckpt"]["value"]  # the adapter changes the model
    assert ppl["delta"]["n"] == 24 and len(ppl["delta"]["ci"]) == 2
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert {r["role"] for r in records} == {"base", "ckpt"}
    assert len(records) == 2 * (10 + 19 + 48 + 24)
    fmt = next(r for r in records if r["task"] == "format" and r["sample"].get("check") == "json")
    assert {"json_valid_strict", "json_valid_lenient", "json_schema", "usability"} <= set(fmt["scores"])
    assert all("reason" in s for s in fmt["scores"].values())
    config = load_json(run / "config.json")
    assert config["models"]["checkpoint"]["adapter_hash"] and config["models"]["checkpoint"]["model_hash"]
    assert config["suite"]["tasks"]["ppl"]["data_hash"] and config["chat_template_hash"]
    assert config["suite"]["tasks"]["format"]["generation"]["max_new_tokens"] == 6
    report = (run / "report.md").read_text()
    assert "compare10: answers side by side" in report and "用三句话介绍量子计算" in report
    assert "ppl/perplexity" in out and "delta (ckpt - base)" in out and str(run) in out.replace("\n", "")


def test_no_base_scores_only_the_checkpoint(harness_cli, tiny_adapter, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_adapter, "--no-base", "--task", "ppl", "--runs-dir", tmp_path)
    assert code == 0, err
    summary = load_json(only_run_dir(tmp_path) / "summary.json")
    assert summary["roles"] == ["ckpt"] and list(summary["metrics"]) == ["ppl/perplexity", "ppl/bits_per_byte"]


def test_data_replaces_the_validation_set(harness_cli, tiny_model, tmp_path):
    data = tmp_path / "val.jsonl"
    data.write_text(json.dumps({"id": "x", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n")
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--data", data, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    summary = load_json(only_run_dir(tmp_path / "runs") / "summary.json")
    assert summary["metrics"]["ppl/perplexity"]["ckpt"]["n"] == 1


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


def test_killed_run_resumes_to_the_same_summary(tiny_adapter, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    full_root, killed_root = tmp_path / "full", tmp_path / "killed"
    subprocess.run(_cli("run", "--ckpt", tiny_adapter, "--runs-dir", full_root, *FAST), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(_cli("run", "--ckpt", tiny_adapter, "--runs-dir", killed_root, *FAST), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    samples = None
    while time.time() < deadline:
        found = list(killed_root.glob("*/samples.jsonl"))
        if found and len(found[0].read_text().splitlines()) >= 30:
            samples = found[0]
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert samples is not None, "the run never wrote 30 records"
    before = samples.read_text().splitlines()
    assert not (samples.parent / "summary.json").exists()  # it really was interrupted
    done = subprocess.run(_cli("run", "--resume", samples.parent), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    after = samples.read_text().splitlines()
    complete_before = [line for line in before if line.endswith("}")]
    assert after[: len(complete_before)] == complete_before  # finished samples kept, not redone
    keys = [(r["role"], r["task"], r["id"]) for r in map(json.loads, after)]
    assert len(keys) == len(set(keys)) == 2 * (10 + 19 + 48 + 24)
    full = load_json(only_run_dir(full_root) / "summary.json")
    resumed = load_json(samples.parent / "summary.json")
    assert resumed["metrics"] == full["metrics"]
