"""`harness run` end to end on the tiny model: adapter vs base, records, summary, resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import load_json, only_run_dir, scored_records
from test_cli_errors import assert_one_line_error

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
    records = scored_records(run)
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


def test_data_task_equals_file_replaces_that_tasks_samples(harness_cli, tiny_model, tmp_path):
    from conftest import REPO

    rows = [json.loads(line) for line in (REPO / "suites" / "data" / "format.jsonl").read_text(encoding="utf-8").splitlines()]
    mine = tmp_path / "my_format.jsonl"
    mine.write_text("".join(json.dumps(r | {"id": f"mine-{r['id']}"}, ensure_ascii=False) + "\n" for r in rows[:3]), encoding="utf-8")
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "format", "--task", "ppl", "--data", f"format={mine}",
                               "--gen", "max_new_tokens=4", "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    records = [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sorted(r["id"] for r in records if r["task"] == "format") == ["mine-f01", "mine-f02", "mine-f03"]
    assert sum(r["task"] == "ppl" for r in records) == 24  # the other task keeps its own samples
    tasks = load_json(run / "config.json")["suite"]["tasks"]
    assert tasks["format"]["samples_file"] == str(mine) and tasks["format"]["n_samples"] == 3
    assert tasks["ppl"]["samples_file"].endswith("suites/data/ppl_val.jsonl")


def _cli(*args) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


@pytest.fixture(scope="module")
def full_run(tiny_adapter, tmp_path_factory) -> Path:
    """One uninterrupted run, the reference for the interrupted ones below."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("full")
    assert main(["run", "--ckpt", str(tiny_adapter), "--runs-dir", str(root), *FAST]) == 0
    return only_run_dir(root)


def _records(run: Path) -> dict:
    rows = [json.loads(line) for line in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    return {(r["role"], r["task"], r["id"]): r for r in rows}


def test_a_torn_last_line_is_redone_on_resume(harness_cli, full_run, tmp_path):
    """What a writer killed mid-line leaves: config.json, complete records, half a line, no
    summary. --resume keeps the complete lines byte for byte, cuts the torn one with one warning,
    redoes that record and ends with the uninterrupted run's records and summary. (A whole last
    line that only lost its newline is kept: tests/test_jsonl_repair.py.)"""
    killed = tmp_path / full_run.name
    shutil.copytree(full_run, killed)
    (killed / "summary.json").unlink()
    (killed / "report.md").unlink()
    lines = (killed / "samples.jsonl").read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:30])
    torn = lines[30][: len(lines[30]) // 2]  # half of record 31
    (killed / "samples.jsonl").write_bytes(kept + torn)

    code, _, err = harness_cli("run", "--resume", killed)
    assert code == 0, err
    assert err.count("warning:") == 1 and "samples.jsonl" in err
    after = (killed / "samples.jsonl").read_bytes()
    assert after.startswith(kept) and not after.startswith(kept + torn + b"\n")  # the torn bytes are gone
    assert all(json.loads(line) for line in after.splitlines())
    assert _records(killed) == _records(full_run)  # every record once, the same answers and scores
    assert len(after.splitlines()) == len(lines) == 2 * (10 + 19 + 48 + 24)
    assert load_json(killed / "summary.json")["metrics"] == load_json(full_run / "summary.json")["metrics"]


def test_killed_run_resumes_to_the_same_summary(full_run, tiny_adapter, tmp_path):
    """A real SIGKILL at some point after 30 records (where exactly does not matter: the torn
    line itself is tested above)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(_cli("run", "--ckpt", tiny_adapter, "--runs-dir", tmp_path, *FAST), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    samples = None
    while time.time() < deadline:
        found = list(tmp_path.glob("*/samples.jsonl"))
        if found and found[0].read_bytes().count(b"\n") >= 30:
            samples = found[0]
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert samples is not None, "the run never wrote 30 records"
    before = samples.read_bytes()
    assert not (samples.parent / "summary.json").exists()  # it really was interrupted
    done = subprocess.run(_cli("run", "--resume", samples.parent), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    complete_before = before[: before.rfind(b"\n") + 1]  # the product's rule: a line ends with "\n"
    assert samples.read_bytes().startswith(complete_before)  # finished samples kept, not redone
    assert _records(samples.parent) == _records(full_run)
    assert load_json(samples.parent / "summary.json")["metrics"] == load_json(full_run / "summary.json")["metrics"]


SMALL_SUITE = """name: small
tasks:
  ppl:
    kind: loglikelihood
    samples: val.jsonl
"""


def _small_suite(folder: Path) -> Path:
    folder.mkdir()
    rows = [{"id": f"v{i}", "messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}
            for i in range(3)]
    (folder / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "small.yaml").write_text(SMALL_SUITE)
    return folder / "small.yaml"


@pytest.mark.parametrize("edit", ["suite file", "data file"])
def test_resume_is_refused_when_the_suite_changed(harness_cli, tiny_model, tmp_path, edit):
    suite = _small_suite(tmp_path / "suite")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    (run / "summary.json").unlink()  # interrupted before the end ...
    samples = run / "samples.jsonl"
    samples.write_bytes(b"".join(samples.read_bytes().splitlines(keepends=True)[:2]))  # ... after 2 of 3 records
    if edit == "suite file":
        suite.write_text(SMALL_SUITE.replace("name: small", "name: small\ndescription: edited"))
    else:
        data = suite.parent / "val.jsonl"
        data.write_text(data.read_text().replace("hi 2", "hi two"))
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    code, _, err = harness_cli("run", "--resume", run)
    assert_one_line_error(code, err, str(run), "the suite changed since this run started", "start a new run")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before  # nothing touched
