"""Hub checkpoints without a hub: a local Hugging Face cache built in the test, used offline
(HF_HUB_OFFLINE=1, as on every machine of this project). A LoRA adapter repo is resolved like an
adapter directory (its base scored too), and the commit of every hub repo is recorded; adapters
name their base portably (alias or hub id), so they resolve on another machine."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import build_tiny_adapter, load_json, only_run_dir

BASE_SHA = hashlib.sha1(b"tiny-base").hexdigest()
LORA_SHA = hashlib.sha1(b"tiny-lora").hexdigest()


def cache_repo(cache: Path, repo_id: str, src: Path, sha: str, ref: str = "main") -> Path:
    """`src` as the snapshot `sha` of `repo_id` in a hub cache, with `ref` pointing to it."""
    folder = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = folder / "snapshots" / sha
    shutil.copytree(src, snapshot)
    (folder / "refs").mkdir(parents=True, exist_ok=True)
    (folder / "refs" / ref).write_text(sha)
    return snapshot


@pytest.fixture
def hub_cache(tmp_path, monkeypatch, tiny_model):
    """user/tiny-base (the tiny model) and user/tiny-lora (an adapter on it) in an offline cache."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    cache_repo(cache, "user/tiny-base", tiny_model, BASE_SHA)
    adapter = build_tiny_adapter(tiny_model, tmp_path / "adapter-src")
    cfg = load_json(adapter / "adapter_config.json")
    cfg.update(base_model_name_or_path="user/tiny-base", revision=BASE_SHA)
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    cache_repo(cache, "user/tiny-lora", adapter, LORA_SHA)
    return cache


def test_a_hub_adapter_repo_is_scored_with_its_base_and_both_commits_recorded(harness_cli, hub_cache, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", "user/tiny-lora", "--task", "ppl", "--runs-dir", tmp_path / "hub")
    assert code == 0, err
    run = only_run_dir(tmp_path / "hub")
    ckpt = load_json(run / "config.json")["models"]["checkpoint"]
    assert ckpt["spec"] == "user/tiny-lora" and ckpt["model"] == "user/tiny-base"
    assert ckpt["adapter_revision"] == LORA_SHA and ckpt["model_revision"] == BASE_SHA
    summary = load_json(run / "summary.json")
    assert summary["roles"] == ["base", "ckpt"]
    # the same numbers as the same adapter and base from local directories
    local = tmp_path / "local-adapter"
    shutil.copytree(hub_cache / "models--user--tiny-lora" / "snapshots" / LORA_SHA, local)
    cfg = load_json(local / "adapter_config.json")
    cfg.update(base_model_name_or_path=str(tiny_model), revision=None)
    (local / "adapter_config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("run", "--ckpt", local, "--task", "ppl", "--runs-dir", tmp_path / "local")
    assert code == 0, err
    expected = load_json(only_run_dir(tmp_path / "local") / "summary.json")["metrics"]["ppl/perplexity"]
    got = summary["metrics"]["ppl/perplexity"]
    assert got["base"]["value"] == pytest.approx(expected["base"]["value"])
    assert got["ckpt"]["value"] == pytest.approx(expected["ckpt"]["value"])
    assert got["ckpt"]["value"] != pytest.approx(got["base"]["value"])


def test_a_hub_model_records_its_commit(harness_cli, hub_cache, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", "user/tiny-base", "--task", "ppl", "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    ckpt = load_json(only_run_dir(tmp_path / "runs") / "config.json")["models"]["checkpoint"]
    assert ckpt["model"] == "user/tiny-base" and ckpt["model_revision"] == BASE_SHA and ckpt["adapter"] is None


def test_a_revision_is_resolved_to_its_commit(hub_cache, tiny_model):
    from harness.models.checkpoint import resolve_checkpoint
    from harness.models.model_loading import LoadOptions

    other = hashlib.sha1(b"v2").hexdigest()
    cache_repo(hub_cache, "user/tiny-base", tiny_model, other, ref="v2")
    assert resolve_checkpoint("user/tiny-base", load=LoadOptions(revision="v2")).model_revision == other
    assert resolve_checkpoint("user/tiny-base").model_revision == BASE_SHA
    assert resolve_checkpoint("user/tiny-base", load=LoadOptions(revision=other)).model_revision == other


@pytest.mark.parametrize("args, expected", [
    (["--ckpt", "user/not-cached"], "user/not-cached is not a local directory, and as a hub id: not in the local Hugging Face cache and HF_HUB_OFFLINE is set"),
    (["--ckpt", "user/tiny-base", "--revision", "v9"], "not in the local Hugging Face cache at revision v9"),
])
def test_offline_and_not_cached_is_one_line(harness_cli, hub_cache, tmp_path, args, expected):
    code, _, err = harness_cli("run", *args, "--task", "ppl", "--runs-dir", tmp_path / "runs")
    assert code == 2 and expected in " ".join(err.split()) and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "runs").exists()


def test_an_adapter_whose_base_revision_is_not_cached(harness_cli, hub_cache, tmp_path):
    cfg_file = hub_cache / "models--user--tiny-lora" / "snapshots" / LORA_SHA / "adapter_config.json"
    cfg = load_json(cfg_file)
    cfg["revision"] = hashlib.sha1(b"gone").hexdigest()
    cfg_file.write_text(json.dumps(cfg))
    code, _, err = harness_cli("run", "--ckpt", "user/tiny-lora", "--task", "ppl", "--runs-dir", tmp_path / "runs")
    assert code == 2 and "the adapter's base model 'user/tiny-base' cannot be found" in " ".join(err.split())


def test_an_adapter_names_its_base_portably_and_resolves_on_another_machine(tmp_path, tiny_model, monkeypatch):
    """The bundled model's folder differs per machine; an adapter records the alias, and one that
    recorded another machine's folder still resolves through it."""
    import harness.models.checkpoint as checkpoint
    from harness.models.bundled import BUNDLED_ALIAS
    from harness.models.checkpoint import Checkpoint, resolve_checkpoint

    monkeypatch.setattr(checkpoint, "bundled_model_dir", lambda: tiny_model)  # "this machine's" bundled model
    adapter = build_tiny_adapter(tiny_model, tmp_path / "adapter")
    for recorded in (BUNDLED_ALIAS, "/home/someone-else/.cache/sft-harness/models/smollm2-135m-instruct"):
        cfg = load_json(adapter / "adapter_config.json")
        cfg["base_model_name_or_path"] = recorded
        (adapter / "adapter_config.json").write_text(json.dumps(cfg))
        assert resolve_checkpoint(str(adapter)).model == str(tiny_model), recorded
    assert Checkpoint(BUNDLED_ALIAS, str(tiny_model)).portable_name == BUNDLED_ALIAS
    assert Checkpoint("Qwen/Qwen3-1.7B", "Qwen/Qwen3-1.7B").portable_name == "Qwen/Qwen3-1.7B"
    assert Checkpoint(str(tiny_model), str(tiny_model)).portable_name == str(tiny_model.resolve())


def test_training_on_a_hub_model_records_its_id_and_commit(harness_cli, hub_cache, tmp_path):
    import yaml

    from test_train import CONVS

    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"messages": c}) + "\n" for c in CONVS))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "model": "user/tiny-base", "output_dir": str(tmp_path / "out"), "data": {"train": str(data), "val_split": 0.25},
        "lora": {"r": 4, "alpha": 8}, "per_device_batch_size": 2, "gradient_accumulation_steps": 1, "max_steps": 1,
        "max_length": 128, "save_steps": 1, "eval_steps": 1, "activation_checkpointing": False,
        "rescore": {"suite": None}}))
    code, _, err = harness_cli("train", "--config", config)
    assert code == 0, err
    for name in ("checkpoint-1", "final"):
        cfg = load_json(tmp_path / "out" / name / "adapter_config.json")
        assert cfg["base_model_name_or_path"] == "user/tiny-base" and cfg["revision"] == BASE_SHA, name
    from harness.models.checkpoint import resolve_checkpoint

    ckpt = resolve_checkpoint(str(tmp_path / "out" / "final"))
    assert ckpt.model == "user/tiny-base" and ckpt.model_revision == BASE_SHA


def test_a_saved_adapter_names_the_bundled_model_by_its_alias(tmp_path, tiny_model):
    from harness.models.bundled import BUNDLED_ALIAS
    from harness.models.checkpoint import Checkpoint
    from trainers.qlora import name_base_portably

    adapter = build_tiny_adapter(tiny_model, tmp_path / "adapter")  # PEFT wrote the local path
    bundled = Checkpoint(BUNDLED_ALIAS, "/root/.cache/sft-harness/models/smollm2-135m-instruct")
    name_base_portably(adapter, bundled)
    cfg = load_json(adapter / "adapter_config.json")
    assert cfg["base_model_name_or_path"] == BUNDLED_ALIAS and cfg["revision"] is None
    assert cfg["r"] == 4  # the rest of PEFT's config is kept
