"""`harness sweep --smoke` stops a variant whose loss does not fall; a killed variant resumes from
its last checkpoint when the same command runs again; the staged plan keeps each stage's winner
(training only: no rescoring, ranked by the trainer's eval loss)."""

from __future__ import annotations

import shutil

import yaml

from conftest import load_json
from test_sweep_report import sweep_config


def test_smoke_test_stops_a_flat_variant_and_a_killed_variant_resumes(tiny_model, tmp_path, harness_cli):
    config = sweep_config(tmp_path, tiny_model, rescore={"suite": None})
    sw = tmp_path / "sw"
    args = ["sweep", "--config", config, "--variant", "learning_rate=1e-2", "--variant", "learning_rate=1e-12",
            "--smoke", "--smoke-steps", "4", "--metric", "eval_loss", "--out", sw]
    code, out, err = harness_cli(*args)
    assert code == 0, err
    assert "smoke test: lr1e-2, 4 steps" in out and "smoke test: lr1e-12, 4 steps" in out
    plan = {v["name"]: v for v in load_json(sw / "sweep.json")["variants"]}
    flat, good = plan["lr1e-12"], plan["lr1e-2"]
    assert flat["status"] == "smoke-failed" and "does not fall" in flat["note"]
    assert (sw / "smoke" / "lr1e-12" / "training_summary.json").is_file() and not (sw / "lr1e-12").exists()
    assert good["status"] == "done" and good["smoke"].startswith("passed")
    summary = load_json(sw / "sweep_summary.json")
    assert [(v["name"], v["status"]) for v in summary["variants"]] == [("lr1e-2", "done"), ("lr1e-12", "smoke-failed")]
    assert summary["variants"][0]["metric"]["value"] == load_json(sw / "lr1e-2" / "training_summary.json")["eval_loss"][-1][1]
    first_curve = load_json(sw / "lr1e-2" / "training_summary.json")["train_loss"]

    # kill lr1e-2 after its checkpoint at step 3: the last checkpoint, the final adapter and the summary are gone
    for gone in ("checkpoint-6", "final"):
        shutil.rmtree(sw / "lr1e-2" / gone)
    (sw / "lr1e-2" / "training_summary.json").unlink()
    code, out, err = harness_cli(*args)
    assert code == 0, err
    assert "resuming from" in out and "checkpoint-3" in out
    assert "smoke test: lr1e-2, 4 steps" not in out and "smoke test: lr1e-12" not in out  # verdicts kept, not rerun
    resumed = load_json(sw / "lr1e-2" / "training_summary.json")
    assert [s for s, _ in resumed["train_loss"]] == [1, 2, 3, 4, 5, 6]
    assert resumed["train_loss"][:3] == first_curve[:3]  # steps 1-3 come from the checkpoint's log
    assert resumed["stats"]["train_steps_timed"] == 3  # and only steps 4-6 were trained again
    assert (sw / "lr1e-2" / "final" / "adapter_config.json").is_file()


def test_staged_plan_keeps_each_winner_and_reuses_a_trained_choice(tiny_model, tmp_path, harness_cli):
    config = sweep_config(tmp_path, tiny_model, rescore={"suite": None}, max_steps=4, save_steps=4, eval_steps=2)
    sw = tmp_path / "staged"
    code, out, err = harness_cli("sweep", "--config", config, "--plan", "staged", "--grid", "learning_rate=1e-12,1e-2",
                                 "--grid", "lora.r=4,8", "--metric", "eval_loss", "--out", sw)
    assert code == 0, err
    plan = load_json(sw / "sweep.json")
    # the eval loss falls only with a real learning rate: stage 1 picks it, and stage 2 keeps it
    assert plan["stages"][0]["winner"] == "s1-lr1e-2" and "eval_loss" in plan["stages"][0]["why"]
    # r=4 is the config's own rank: that choice is stage 1's winner again, reused instead of retrained
    assert [v["name"] for v in plan["variants"]] == ["s1-lr1e-12", "s1-lr1e-2", "s2-lr1e-2_r8"]
    # stage 2 (r=4 vs r=8): the lower last eval loss the trainer logged wins
    last_eval = {name: load_json(sw / name / "training_summary.json")["eval_loss"][-1][1]
                 for name in ("s1-lr1e-2", "s2-lr1e-2_r8")}
    assert last_eval["s1-lr1e-2"] != last_eval["s2-lr1e-2_r8"]
    assert plan["stages"][1]["winner"] == min(last_eval, key=last_eval.get)
    config8 = yaml.safe_load((sw / "s2-lr1e-2_r8" / "train_config.yaml").read_text())
    assert config8["learning_rate"] == 1e-2 and config8["lora"]["r"] == 8
    assert "stage 1 winner" in out and "stage 2 winner" in out
