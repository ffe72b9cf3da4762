"""Model loading options of `harness run`: dtype, device_map, attention implementation, 4-bit
weights; recorded with the run; bad values are one line."""

from __future__ import annotations

import pytest
import torch
from conftest import load_json, only_run_dir

from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.models.model_loading import LoadOptions


def test_dtype_attention_and_device_map_reach_the_model(tiny_adapter):
    backend = HFBackend(resolve_checkpoint(str(tiny_adapter), load=LoadOptions(
        dtype="bf16", attn_implementation="eager", device_map="cpu")))
    assert backend.model.dtype == torch.bfloat16
    assert backend.model.config._attn_implementation == "eager"
    assert backend.device.type == "cpu"
    default = HFBackend(resolve_checkpoint(str(tiny_adapter)))
    assert default.model.dtype == torch.float32  # auto on a CPU


def test_4bit_evaluation_loads_nf4_weights_and_scores(harness_cli, tiny_adapter, tmp_path):
    from bitsandbytes.nn import Linear4bit

    backend = HFBackend(resolve_checkpoint(str(tiny_adapter), load=LoadOptions(load_in_4bit=True)))
    assert any(isinstance(m, Linear4bit) for m in backend.model.modules())
    code, _, err = harness_cli("run", "--ckpt", tiny_adapter, "--task", "ppl", "--load-in-4bit", "--runs-dir", tmp_path / "q")
    assert code == 0, err
    code, _, err = harness_cli("run", "--ckpt", tiny_adapter, "--task", "ppl", "--runs-dir", tmp_path / "f")
    assert code == 0, err
    quantized = load_json(only_run_dir(tmp_path / "q") / "summary.json")["metrics"]["ppl/perplexity"]["ckpt"]["value"]
    full = load_json(only_run_dir(tmp_path / "f") / "summary.json")["metrics"]["ppl/perplexity"]["ckpt"]["value"]
    assert quantized != full and abs(quantized - full) / full < 0.2  # close, not the same weights
    config = load_json(only_run_dir(tmp_path / "q") / "config.json")
    assert config["models"]["checkpoint"]["load"] == {"load_in_4bit": True}


def test_loading_options_are_recorded_where_resume_reads_them(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--dtype", "bfloat16",
                               "--attn-implementation", "eager", "--runs-dir", tmp_path)
    assert code == 0, err
    config = load_json(only_run_dir(tmp_path) / "config.json")
    assert config["models"]["checkpoint"]["load"] == {"dtype": "bfloat16", "attn_implementation": "eager"}
    assert config["invocation"]["load"] == {"dtype": "bfloat16", "attn_implementation": "eager"}


@pytest.mark.parametrize("args, expected", [
    (["--dtype", "f8"], "--dtype: unknown dtype 'f8'; use one of auto, bfloat16"),
    (["--revision", "v2"], "--revision v2: {model} is local; a revision applies to a hub repo only"),
    (["--attn-implementation", "warp_drive"], "cannot load model {model}:"),
])
def test_bad_loading_options_are_one_line(harness_cli, tiny_model, tmp_path, args, expected):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", *args, "--runs-dir", tmp_path / "runs")
    assert code == 2 and expected.format(model=tiny_model) in " ".join(err.split()), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
