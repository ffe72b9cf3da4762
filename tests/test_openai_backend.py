"""The `openai` backend: a served model (`--ckpt http://.../v1 --model-name NAME`) gives the same
records as the hf backend; perplexity, for a model whose tokenizer is not here, is recorded as
unscored with the reason, not a crash (tests/test_echo_loglikelihood.py: with the tokenizer here)."""

from __future__ import annotations

import json

import pytest
from conftest import scored_records, load_json, only_run_dir
from judge_servers import closed_port

from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.serve.app import build_app, serve_in_background

FIELDS = ("output", "raw", "finish_reason", "prompt_tokens", "completion_tokens", "scores")


@pytest.fixture(scope="module")
def served_tiny(tiny_model):
    app = build_app(HFBackend(resolve_checkpoint(str(tiny_model))), "tiny")
    with serve_in_background(app) as url:
        yield url


def _records(run_root):
    return {(r["task"], r["id"]): r for r in scored_records(only_run_dir(run_root))}


def test_a_served_model_gives_the_records_of_the_hf_backend(harness_cli, tiny_model, served_tiny, tmp_path):
    common = ["--task", "format", "--task", "ppl", "--gen", "max_new_tokens=6", "--batch-size", "8"]
    code, _, err = harness_cli("run", "--ckpt", tiny_model, *common, "--runs-dir", tmp_path / "hf")
    assert code == 0, err
    code, out, err = harness_cli("run", "--ckpt", served_tiny, "--model-name", "tiny", *common, "--runs-dir", tmp_path / "api")
    assert code == 0, err
    hf, api = _records(tmp_path / "hf"), _records(tmp_path / "api")
    assert hf.keys() == api.keys()
    answers = [k for k in hf if k[0] == "format"]
    assert len(answers) == 19
    for key in answers:
        assert {f: api[key][f] for f in FIELDS} == {f: hf[key][f] for f in FIELDS}, key
    assert api[answers[0]]["model"] == "tiny"
    ppl = next(r for k, r in api.items() if k[0] == "ppl")
    assert ppl.get("nll_sum") is None and "needs the served model's tokenizer here" in ppl["scores"]["perplexity"]["reason"]
    summary = load_json(only_run_dir(tmp_path / "api") / "summary.json")
    assert summary["metrics"]["ppl/perplexity"]["ckpt"] == {"value": None, "n": 0, "ci": None, "unscored": 24}
    assert summary["metrics"]["format/json_validity_strict"] == load_json(only_run_dir(tmp_path / "hf") / "summary.json")["metrics"]["format/json_validity_strict"]
    config = load_json(only_run_dir(tmp_path / "api") / "config.json")
    assert config["backend"] == "openai" and config["models"]["checkpoint"]["endpoint"] == served_tiny
    assert "needs the served model's tokenizer here" in (only_run_dir(tmp_path / "api") / "report.md").read_text()


def test_a_model_the_server_does_not_serve(harness_cli, served_tiny, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", served_tiny, "--model-name", "nope", "--task", "format", "--runs-dir", tmp_path)
    assert code == 2 and "--model-name 'nope' is not served" in err and "tiny" in err
    assert not any(tmp_path.iterdir())  # no half-made run directory


def test_an_endpoint_that_is_down(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", f"http://127.0.0.1:{closed_port()}/v1", "--model-name", "m",
                               "--task", "format", "--runs-dir", tmp_path)
    assert code == 2 and "cannot connect" in err and "harness serve" in err
