"""`harness watch DIR`: every adapter checkpoint that appears is scored once, in step order; a
checkpoint still being written waits for the next scan; the scan loop runs every --interval
until --timeout; --base names the base of adapters whose own config points elsewhere.

The checkpoints are random LoRA adapters on the tiny model (watch does not care how they were
trained). The scan loop's clock is replaced by a fake one (`FakeClock`), so "a checkpoint
appears between two scans" and "the weights grow during the size check" happen at exact points
instead of by timing.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_cli_errors import assert_one_line_error

from conftest import build_tiny_adapter

PPL3 = ["--task", "ppl", "--max-samples", "3"]


@pytest.fixture(scope="module")
def adapters(tiny_model, tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("adapters")
    return [build_tiny_adapter(tiny_model, root / f"a{seed}", seed=seed) for seed in (1, 2, 3)]


def scored(folder: Path) -> list[dict]:
    path = folder / "scores.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


class FakeClock:
    """Stands in for the `time` module inside harness.app.watch: sleeping advances the clock at once
    and runs the hook registered for that sleep (by its 0-based index among sleeps of that length)."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.hooks: dict[tuple[float, int], object] = {}

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        index = sum(1 for s in self.sleeps if s == seconds)
        self.sleeps.append(seconds)
        self.now += seconds
        hook = self.hooks.get((seconds, index))
        if hook:
            hook()


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr("harness.app.watch.time", fake)
    return fake


def test_several_new_checkpoints_are_scored_in_step_order_in_one_pass(harness_cli, adapters, tmp_path):
    for step, adapter in zip((10, 2, 1), adapters):  # written out of order; "10" sorts before "2" as text
        shutil.copytree(adapter, tmp_path / f"checkpoint-{step}")
    code, out, err = harness_cli("watch", tmp_path, *PPL3, "--once")
    assert code == 0, err
    assert "scored 3 new checkpoint(s)" in out
    lines = scored(tmp_path)
    assert [x["step"] for x in lines] == [1, 2, 10]
    assert [Path(x["checkpoint"]).name for x in lines] == ["checkpoint-1", "checkpoint-2", "checkpoint-10"]
    assert all(x["metrics"]["ppl/perplexity"]["n"] == 3 and x["metrics"]["ppl/perplexity"]["delta"] is not None for x in lines)
    assert len({x["metrics"]["ppl/perplexity"]["ckpt"] for x in lines}) == 3  # each its own adapter
    code, out, _ = harness_cli("watch", tmp_path, *PPL3, "--once")
    assert code == 0 and "scored 0 new checkpoint(s)" in out and len(scored(tmp_path)) == 3


def test_a_half_written_checkpoint_waits_for_the_next_scan(harness_cli, adapters, tmp_path, clock):
    """No weights file yet: skipped. Weights that grow during the size check: skipped. Each is
    scored in a later scan, once complete."""
    no_weights = tmp_path / "checkpoint-1"
    shutil.copytree(adapters[0], no_weights)
    weights = (no_weights / "adapter_model.safetensors").read_bytes()
    (no_weights / "adapter_model.safetensors").unlink()
    growing = tmp_path / "checkpoint-2"
    shutil.copytree(adapters[1], growing)
    full = (growing / "adapter_model.safetensors").read_bytes()
    (growing / "adapter_model.safetensors").write_bytes(full[: len(full) // 2])

    def writer_goes_on():  # during the size check of the first scan, the writer adds the rest
        (growing / "adapter_model.safetensors").write_bytes(full)

    clock.hooks[(0.2, 0)] = writer_goes_on
    code, out, err = harness_cli("watch", tmp_path, *PPL3, "--once")
    assert code == 0, err
    assert "scored 0 new checkpoint(s)" in out and scored(tmp_path) == []

    (no_weights / "adapter_model.safetensors").write_bytes(weights)
    code, out, err = harness_cli("watch", tmp_path, *PPL3, "--once")
    assert code == 0, err
    assert [x["step"] for x in scored(tmp_path)] == [1, 2]


def test_the_scan_loop_runs_every_interval_until_the_timeout(harness_cli, adapters, tmp_path, clock):
    shutil.copytree(adapters[0], tmp_path / "checkpoint-1")
    # another trainer saves checkpoint-2 while watch waits for its second scan
    clock.hooks[(5.0, 1)] = lambda: shutil.copytree(adapters[1], tmp_path / "checkpoint-2")
    code, out, err = harness_cli("watch", tmp_path, *PPL3, "--interval", "5", "--timeout", "12")
    assert code == 0, err
    assert "every 5 s" in out and "scored 2 new checkpoint(s)" in out
    assert [x["step"] for x in scored(tmp_path)] == [1, 2]
    # scans at 0, 5, 10 and 15 s (plus the size checks): the one after 15 s > 12 s ends the loop
    assert [s for s in clock.sleeps if s != 0.2] == [5.0, 5.0, 5.0]


def test_base_names_the_base_of_adapters_that_point_elsewhere(harness_cli, adapters, tiny_model, tmp_path):
    ckpt = tmp_path / "checkpoint-7"
    shutil.copytree(adapters[0], ckpt)
    cfg = json.loads((ckpt / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "trained-on-another-machine")
    (ckpt / "adapter_config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("watch", tmp_path, *PPL3, "--once")
    assert_one_line_error(code, err, "base model", "trained-on-another-machine", "--base")
    assert scored(tmp_path) == []
    code, out, err = harness_cli("watch", tmp_path, *PPL3, "--once", "--base", tiny_model)
    assert code == 0, err
    (line,) = scored(tmp_path)
    assert line["step"] == 7
    summary = json.loads((Path(line["run_dir"]) / "config.json").read_text())
    assert summary["models"]["checkpoint"]["model"] == str(tiny_model)


def test_watch_of_a_missing_directory(harness_cli, tmp_path):
    code, _, err = harness_cli("watch", tmp_path / "nope", *PPL3, "--once")
    assert_one_line_error(code, err, "is not a directory")
