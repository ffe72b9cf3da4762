"""Bad input to the judge, endpoint, serve, chat, merge and judge-agreement commands: one clear
line (what, where, fix) and exit code 2, before any run directory is made."""

from __future__ import annotations

import json
import shutil

import pytest
from test_cli_errors import assert_one_line_error


@pytest.mark.parametrize("judge, fragments", [
    ("htp://127.0.0.1:8000/v1", ["not an http(s) URL", "http://127.0.0.1:8000/v1"]),
    ("http:/127.0.0.1:8000/v1", ["malformed URL", "host"]),
    ("http://127.0.0.1:80x0/v1", ["malformed URL", "numeric port"]),
    ("127.0.0.1:8000", ["expected an http(s) URL", "local:MODEL"]),
    ("local:", ["--judge local: needs a model"]),
])
def test_malformed_judge(harness_cli, tiny_model, tmp_path, judge, fragments):
    model = [] if judge.startswith("local:") else ["--judge-model", "m"]
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge", judge, *model, "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "r").exists()


def test_local_judge_that_does_not_exist(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge", f"local:{tmp_path}/no-judge", "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, f"--judge local:{tmp_path}/no-judge", "checkpoint not found")
    assert not (tmp_path / "r").exists()


def test_judge_url_without_judge_model(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge", "http://127.0.0.1:8000/v1", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--judge http://127.0.0.1:8000/v1 needs --judge-model NAME")


def test_judge_model_without_judge(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge-model", "qwen3-32b", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--judge-model needs --judge URL")


def test_judge_model_with_a_local_judge(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge", f"local:{tiny_model}", "--judge-model", "x", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--judge-model is set by --judge local:MODEL itself")


@pytest.mark.parametrize("flag, value, fragment", [
    ("--judge-concurrency", "0", "--judge-concurrency must be >= 1"),
    ("--judge-retries", "-1", "--judge-retries must be >= 0"),
    ("--judge-timeout", "0", "--judge-timeout must be > 0 seconds"),
    ("--judge-api-key-env", " ", "--judge-api-key-env must name an environment variable"),
])
def test_bad_judge_settings(harness_cli, tiny_model, tmp_path, flag, value, fragment):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--judge", "http://127.0.0.1:8000/v1", "--judge-model", "m",
                               flag, value, "--runs-dir", tmp_path)
    assert_one_line_error(code, err, fragment)


def test_judge_with_no_judged_task_selected(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "format", "--judge", "http://127.0.0.1:8000/v1",
                               "--judge-model", "m", "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, "no selected task of suite lab1 has a judge scorer", "compare10, safety")
    assert not (tmp_path / "r").exists()


def test_bad_judge_section_in_a_suite(harness_cli, tiny_model, tmp_path):
    (tmp_path / "x.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    suite = tmp_path / "s.yaml"
    # the old `judge:` section says what replaced it
    suite.write_text("name: s\ntasks:\n  t:\n    samples: x.jsonl\n    judge:\n      pairwise: true\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, f"{suite}:5", "`judge:` became judge scorers", "judge_pairwise")
    suite.write_text("name: s\ntasks:\n  t:\n    samples: x.jsonl\n    scorers: [{judge_rubric: {config: nope}}]\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, "judge config not found: nope", "rubric")
    suite.write_text("name: s\ntasks:\n  t:\n    samples: x.jsonl\n    scorers: [{judge_rubric: {config: pairwise}}]\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, "scorer 'judge_rubric'", "is a pairwise judge, not a rubric judge")
    assert not (tmp_path / "r").exists()


def test_endpoint_ckpt_without_model_name(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", "http://127.0.0.1:8001/v1", "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, "--ckpt http://127.0.0.1:8001/v1 is an API endpoint", "--model-name NAME")
    assert not (tmp_path / "r").exists()


def test_malformed_endpoint_ckpt(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", "http://:8001/v1", "--model-name", "m", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--ckpt 'http://:8001/v1': malformed URL")


def test_model_name_with_a_local_ckpt(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--model-name", "m", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "--model-name names a model at an endpoint", "is not a URL")


def test_serve_on_a_taken_port(harness_cli, tiny_model):
    import socket

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        code, _, err = harness_cli("serve", "--model", tiny_model, "--port", taken.getsockname()[1])
    finally:
        taken.close()
    assert_one_line_error(code, err, "cannot listen on 127.0.0.1:", "pick another --port")


def test_serve_api_key_env_not_set(harness_cli, tiny_model, monkeypatch):
    monkeypatch.delenv("HARNESS_UNSET_KEY", raising=False)
    code, _, err = harness_cli("serve", "--model", tiny_model, "--api-key-env", "HARNESS_UNSET_KEY")
    assert_one_line_error(code, err, "--api-key-env HARNESS_UNSET_KEY", "not set")


def test_merge_needs_an_adapter(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("merge", "--ckpt", tiny_model, "--out", tmp_path / "m")
    assert_one_line_error(code, err, "not a LoRA adapter directory")


def test_merge_refuses_a_quantized_base(harness_cli, tiny_model, tiny_adapter, tmp_path):
    base = tmp_path / "base-4bit"
    shutil.copytree(tiny_model, base)
    cfg = json.loads((base / "config.json").read_text())
    cfg["quantization_config"] = {"quant_method": "bitsandbytes", "load_in_4bit": True}
    (base / "config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--base", base, "--out", tmp_path / "m")
    assert_one_line_error(code, err, "is quantized (bitsandbytes)", "unquantized base model with --base")
    assert not (tmp_path / "m").exists()


def test_merge_into_a_non_empty_directory(harness_cli, tiny_adapter, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("x")
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", tmp_path / "m")
    assert_one_line_error(code, err, "is not empty")


def test_merge_bad_dtype(harness_cli, tiny_adapter, tmp_path):
    code, _, err = harness_cli("merge", "--ckpt", tiny_adapter, "--out", tmp_path / "m", "--dtype", "int4")
    assert_one_line_error(code, err, "--dtype 'int4'", "choose one of bfloat16, bf16, float16, fp16")


def test_judge_agreement_bad_files(harness_cli, tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_text(json.dumps({"task": "t", "id": "1", "kind": "pairwise", "verdict": "win"}) + "\n")
    bad = tmp_path / "b.jsonl"
    bad.write_text(json.dumps({"task": "t", "id": "1", "kind": "pairwise", "verdict": "win"}) + "\n"
                   + json.dumps({"task": "t", "id": "2", "kind": "pairwise"}) + "\n")
    code, _, err = harness_cli("judge-agreement", good, bad)
    assert_one_line_error(code, err, f"{bad}:2", "missing: verdict")
    code, _, err = harness_cli("judge-agreement", good, tmp_path)
    assert_one_line_error(code, err, "no judge.jsonl")
    other = tmp_path / "c.jsonl"
    other.write_text(json.dumps({"task": "t", "id": "9", "kind": "pairwise", "verdict": "win"}) + "\n")
    code, _, err = harness_cli("judge-agreement", good, other)
    assert_one_line_error(code, err, "share no scored item")
