"""Perplexity and bits per byte over an OpenAI-compatible endpoint (`/v1/completions` with echo), as
the openai and vllm backends compute them: equal to the hf backend's on the bundled model, with
`harness serve` as the server."""

from __future__ import annotations

import pytest

from harness.models.backends import make_backend
from harness.models.bundled import BUNDLED_ALIAS
from harness.models.checkpoint import resolve_checkpoint
from harness.serve.app import build_app, serve_in_background
from conftest import load_json, only_run_dir


@pytest.fixture(scope="module")
def served_bundled():
    """`harness serve` of the bundled model, under the id of its folder (as vLLM names a model it serves)."""
    ckpt = resolve_checkpoint(BUNDLED_ALIAS)
    app = build_app(make_backend(ckpt), ckpt.model, max_batch_size=8)
    with serve_in_background(app) as url:
        yield url, ckpt.model


def test_perplexity_over_an_endpoint_equals_the_hf_backends(harness_cli, served_bundled, tmp_path):
    url, model_id = served_bundled
    code, _, err = harness_cli("run", "--suite", "lab1", "--task", "ppl", "--limit", "6", "--ckpt", url,
                               "--model-name", model_id, "--runs-dir", tmp_path / "api")
    assert code == 0, err
    code, _, err = harness_cli("run", "--suite", "lab1", "--task", "ppl", "--limit", "6", "--ckpt", BUNDLED_ALIAS,
                               "--runs-dir", tmp_path / "hf")
    assert code == 0, err
    api = load_json(only_run_dir(tmp_path / "api") / "summary.json")["metrics"]
    hf = load_json(only_run_dir(tmp_path / "hf") / "summary.json")["metrics"]
    for metric in ("ppl/perplexity", "ppl/bits_per_byte"):
        a, b = api[metric]["ckpt"], hf[metric]["ckpt"]
        assert a["n"] == b["n"] == 6 and a["unscored"] == 0
        assert a["value"] == pytest.approx(b["value"], rel=1e-3), metric


def test_an_endpoint_model_without_a_local_tokenizer_says_why_it_has_no_perplexity(served_bundled):
    from harness.models.backends.openai_backend import NO_LOGLIKELIHOOD, OpenAIBackend
    from harness.models.checkpoint import resolve_endpoint

    url, model_id = served_bundled
    assert OpenAIBackend(resolve_endpoint(url, model_id)).capabilities().loglikelihood
    remote = OpenAIBackend(resolve_endpoint(url, "gpt-4o-mini"), check=False)  # a name with no tokenizer here
    caps = remote.capabilities()
    assert not caps.loglikelihood and caps.loglikelihood_missing == NO_LOGLIKELIHOOD
    assert "--model-name must be a local model folder" in caps.loglikelihood_missing
