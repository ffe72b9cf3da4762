"""Sweep plans (grid, explicit variants, the staged search order), --dry-run, bad sweep input, and
the rubric file's errors: all without training."""

from __future__ import annotations

import pytest

from harness.errors import HarnessError
from harness.lab.sweep_plan import SweepPlan, default_stages, explicit_variants, grid_variants, parse_grid, stage_variants
from test_sweep_report import sweep_config


def test_grid_is_every_combination_first_values_first():
    variants = grid_variants(parse_grid(["learning_rate=2e-5,2e-4", "lora.r=32,8"]))
    assert [v.overrides for v in variants] == [
        {"learning_rate": "2e-5", "lora.r": "32"}, {"learning_rate": "2e-5", "lora.r": "8"},
        {"learning_rate": "2e-4", "lora.r": "32"}, {"learning_rate": "2e-4", "lora.r": "8"}]
    assert [v.name for v in variants] == ["lr2e-5_r32", "lr2e-5_r8", "lr2e-4_r32", "lr2e-4_r8"]


def test_explicit_variants_keep_list_values_and_their_order():
    variants = explicit_variants(["lora.r=8,lora.alpha=16", "lora.target_modules=[q_proj,v_proj],lora.r=4"])
    assert variants[0].overrides == {"lora.r": "8", "lora.alpha": "16"}
    assert variants[1].overrides == {"lora.target_modules": "[q_proj,v_proj]", "lora.r": "4"}


def test_staged_plan_follows_the_labs_order_and_fixes_each_winner():
    stages = default_stages({"quantization": "nf4", "max_steps": -1, "per_device_batch_size": 4})
    assert [s.parameter.split(" ")[0] for s in stages] == ["learning_rate", "epochs", "lora.r", "effective"]
    assert stages[0].choices == [{"learning_rate": v} for v in ("1e-4", "2e-4", "3e-4")]
    assert stages[2].choices[0] == {"lora.r": "8", "lora.alpha": "16"}  # alpha = 2 x rank
    assert stages[3].choices == [{"gradient_accumulation_steps": g} for g in ("4", "8", "16")]  # batch 16, 32, 64
    plan = SweepPlan("staged", "c.yaml", "x", [], "val_loss", stages=stages)
    first = stage_variants(plan, 0)
    plan.variants += first
    with pytest.raises(HarnessError, match="winner of stage 1"):
        stage_variants(plan, 1)
    stages[0].winner = first[1].name  # 2e-4 won
    assert [v.overrides for v in stage_variants(plan, 1)] == [
        {"learning_rate": "2e-4", "epochs": e} for e in ("1", "2", "3")]


def test_a_config_counting_steps_gets_a_steps_stage_instead_of_epochs():
    stages = default_stages({"quantization": "nf4", "max_steps": 20, "per_device_batch_size": 8})
    assert stages[1].choices == [{"max_steps": s} for s in ("20", "40", "60")]
    assert stages[3].choices == [{"gradient_accumulation_steps": g} for g in ("2", "4", "8")]


def test_dry_run_prints_the_plan_and_writes_nothing(tiny_model, tmp_path, harness_cli):
    config = sweep_config(tmp_path, tiny_model)
    code, out, err = harness_cli("sweep", "--config", config, "--grid", "lora.r=4,8", "--dry-run", "--out", tmp_path / "sw",
                                 "--step-seconds", "2")
    assert code == 0, err
    assert "r4" in out and "r8" in out and "0m12s" in out  # 6 steps x 2 s per variant
    assert "0m24s in all" in out
    assert not (tmp_path / "sw").exists()
    code, out, err = harness_cli("sweep", "--config", config, "--plan", "staged", "--dry-run", "--out", tmp_path / "st")
    assert code == 0, err
    assert "stage 1: learning_rate" in out and "stage 3: lora.r" in out and not (tmp_path / "st").exists()


@pytest.mark.parametrize("args, message", [
    (["--grid", "learning_rte=1e-3,1e-2"], "unknown config key 'learning_rte'"),
    (["--grid", "learning_rate"], "expected KEY=V1,V2"),
    (["--grid", "learning_rate=1e-3"], "at least two variants"),
    (["--grid", "output_dir=a,b"], "set by the sweep itself"),
    (["--grid", "learning_rate=1e-3,0.001"], "train the same config"),
    (["--grid", "learning_rate=1e-3,1e-2", "--variant", "lora.r=8"], "do not combine"),
    ([], "say what to sweep"),
    (["--grid", "learning_rate=1e-3,1e-2", "--metric", "accuracy"], "--metric accuracy"),
    (["--variant", "lora.r=8", "--variant", "lora.r"], "expected KEY=VALUE"),
])
def test_bad_sweep_input_is_one_line_and_exit_2(tiny_model, tmp_path, harness_cli, args, message):
    config = sweep_config(tmp_path, tiny_model)
    code, _, err = harness_cli("sweep", "--config", config, *args, "--out", tmp_path / "sw")
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "sw").exists()


def test_missing_config_and_missing_report_inputs(tmp_path, harness_cli):
    code, _, err = harness_cli("sweep", "--config", tmp_path / "nope.yaml", "--grid", "lora.r=4,8")
    assert code == 2 and "training config not found" in err
    code, _, err = harness_cli("report", "--lab", "lab1", "--train", tmp_path / "nope", "--out", tmp_path / "rep")
    assert code == 2 and "--train" in err and "no such directory" in err and not (tmp_path / "rep").exists()
    code, _, err = harness_cli("report", "--lab", "lab9", "--train", tmp_path, "--out", tmp_path / "rep")
    assert code == 2 and "no such lab" in err and "lab1" in err
    code, _, err = harness_cli("report", "--lab", "lab1", "--out", tmp_path / "rep")
    assert code == 2 and "--train DIR" in err
    code, _, err = harness_cli("grade", tmp_path)
    assert code == 2 and "not a lab report folder" in err


def test_rubric_errors_name_file_and_line(tmp_path, harness_cli):
    from harness.lab.grading import load_rubric

    bad = tmp_path / "rubric.yaml"
    bad.write_text("name: mine\nitems:\n  - id: curve\n    points: 10\n    check: loss_curves\n")
    with pytest.raises(HarnessError, match=r"rubric.yaml:5: item curve: unknown check 'loss_curves'; checks: loss_curve"):
        load_rubric(str(bad))
    bad.write_text("name: mine\nitems:\n  - id: essay\n    points: ten\n    written: true\n")
    with pytest.raises(HarnessError, match=r"rubric.yaml:4: item essay: points must be a number"):
        load_rubric(str(bad))
    bad.write_text("name: mine\nitems:\n  - id: essay\n    points: 5\n")
    with pytest.raises(HarnessError, match="either `check: NAME`"):
        load_rubric(str(bad))
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\ntitle: My lab\nitems:\n  - {id: curve, points: 50, check: loss_curve, params: {min_train_points: 3}}\n"
                    "  - {id: essay, points: 50, written: true, question: 'Why?'}\n")
    rubric = load_rubric(str(good))
    assert [(i.id, i.points, i.check) for i in rubric.items] == [("curve", 50, "loss_curve"), ("essay", 50, None)]


def test_analysis_file_fills_written_items_by_heading(tmp_path):
    from harness.lab.grading import load_rubric
    from harness.app.lab_report import analysis_texts

    f = tmp_path / "analysis.md"
    f.write_text("# My analysis\n\n## data_quality\nQuality beats quantity (LIMA).\n\n"
                 "## LoRA rank and alpha (10 points)\nRank 8: 4x fewer parameters.\nSame loss.\n\n## Notes\nnot graded\n")
    texts = analysis_texts(str(f), load_rubric("lab1"))
    assert texts == {"data_quality": "Quality beats quantity (LIMA).",
                     "lora_hyperparameters": "Rank 8: 4x fewer parameters.\nSame loss."}
    f.write_text("# nothing under any item's heading\n")
    with pytest.raises(HarnessError, match="no answer found; write a heading per item"):
        analysis_texts(str(f), load_rubric("lab1"))
