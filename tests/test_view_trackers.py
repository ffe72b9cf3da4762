"""`--report-to`: a run's metrics (with CIs and deltas) and its samples table, sent through each
tracker's own library and read back the way that tracker stores them: MLflow's file store, a W&B
offline run (its .wandb record log and the table file), TensorBoard event files."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

from conftest import load_json
from view_runs import write_run

ANSWERS = {"a": ("I will not help.", "Sure, here is how", True, 1.0, 0.0), "b": ("ok", "ok", False, 0.0, 0.0)}


@pytest.fixture
def tracker_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "mlruns").as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 wants an explicit yes for its file store
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "view-test")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_PROJECT", "view-test")
    return tmp_path


def wandb_records(path: Path) -> list:
    """The records of a W&B run file: a 7-byte header, then LevelDB-log blocks of 32 KiB."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, out, buf = path.read_bytes(), 7, [], b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if kind == 0:
            pos += left
            continue
        buf = (b"" if kind in (1, 2) else buf) + data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last piece of one
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
    return out


def test_a_run_goes_to_mlflow_and_wandb_with_metrics_and_samples(tracker_env):
    from harness.view.trackers import send_run

    run = write_run(tracker_env / "runs", ANSWERS)
    summary = load_json(run / "summary.json")
    lines = send_run(run, ["mlflow", "wandb"])
    assert lines[0].startswith("mlflow: run ") and lines[1].startswith("wandb: run ")

    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    (found,) = client.search_runs([client.get_experiment_by_name("view-test").experiment_id])
    m = found.data.metrics
    rate = summary["metrics"]["safety/refusal_rate"]
    assert m["safety/refusal_rate/base"] == rate["base"]["value"] == 1.0
    assert m["safety/refusal_rate/ckpt_ci_low"] == rate["ckpt"]["ci"][0]
    assert m["safety/refusal_rate/delta"] == rate["delta"]["value"] == -1.0
    assert found.data.params["suite"] == "mini" and found.data.params["adapter"] == "adapter"
    assert found.info.run_name == run.name
    table = mlflow.load_table("samples.json", run_ids=[found.info.run_id])
    assert list(table["id"]) == ["a", "b"] and table["ckpt_answer"][0] == "Sure, here is how"
    assert table["ckpt_verdicts"][0] == "refusal: compliance fail" and table["flipped"][0] == "refusal"

    (offline,) = (tracker_env / "wandb").glob("offline-run-*")
    records = wandb_records(next(offline.glob("run-*.wandb")))
    (history,) = [r.history for r in records if r.WhichOneof("record_type") == "history"]
    items = {i.key or "/".join(i.nested_key): i.value_json for i in history.item}
    assert json.loads(items["safety/refusal_rate/delta"]) == -1.0
    assert json.loads(items["safety/over_refusal_rate/ckpt"]) == 0.0
    assert items["samples/_type"] == '"table-file"' and json.loads(items["samples/nrows"]) == 2
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run_record.display_name == run.name and run_record.project == "view-test"
    table = json.loads((offline / "files" / json.loads(items["samples/path"])).read_text())
    assert table["columns"][:4] == ["task", "id", "prompt", "base_answer"]
    assert table["data"][0][:4] == ["safety", "a", "prompt a", "I will not help."]


def test_a_run_goes_to_tensorboard(tracker_env):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from harness.view.trackers import send_run

    run = write_run(tracker_env / "runs", ANSWERS)
    send_run(run, ["tensorboard"])
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"tensors": 0})
    events.Reload()
    tags = events.Tags()
    assert "safety/refusal_rate/delta" in tags["scalars"]
    assert events.Scalars("safety/refusal_rate/delta")[0].value == -1.0
    text = events.Tensors("samples/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "| safety | a | prompt a | I will not help. |" in text


def test_report_to_a_missing_tracker_is_refused_before_the_run(harness_cli, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    code, _, err = harness_cli("run", "--ckpt", "nowhere", "--report-to", "wandb", "--runs-dir", tmp_path)
    assert code == 2 and "--report-to wandb: the wandb package is not installed (pip install wandb); nothing was run" in err
    assert list(tmp_path.iterdir()) == []


def test_harness_run_reports_to_mlflow(harness_cli, tiny_model, tracker_env):
    code, out, err = harness_cli("run", "--ckpt", tiny_model, "--task", "format", "--limit", "3", "--gen", "max_new_tokens=4",
                                 "--runs-dir", tracker_env / "runs", "--report-to", "mlflow")
    assert code == 0, err
    assert "mlflow: run " in out
    from mlflow import MlflowClient

    client = MlflowClient()
    (found,) = client.search_runs([client.get_experiment_by_name("view-test").experiment_id])
    assert found.data.metrics["format/json_validity_strict/ckpt"] >= 0.0
    assert "format/json_validity_strict/ckpt_ci_high" in found.data.metrics
