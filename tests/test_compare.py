"""`harness compare` and comparability on runs made by `harness score` (no model needed)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import REPO, only_run_dir
from test_cli_errors import assert_one_line_error
from test_score_external import write_rows

TABLE = "| Language | Typing | Speed |\n|---|---|---|\n| Python | dynamic | slow |\n| Java | static | fast |\n| Go | static | fast |"
F02_OK = json.dumps({"inventions": ["造纸术", "印刷术", "火药", "指南针"]}, ensure_ascii=False)
F03_OK = '{"name": "Alice", "score": 93}'


def scored_run(harness_cli, root: Path, answers: dict[str, str], suite: str = "lab1", task: str = "format") -> Path:
    """A run of `harness score`: the given answers (sample id -> response) scored on one task."""
    root.mkdir(parents=True, exist_ok=True)
    responses = root / "answers.jsonl"
    write_rows(responses, [{"id": sid, "response": text} for sid, text in answers.items()])
    code, _, err = harness_cli("score", "--suite", suite, "--task", task, "--responses", responses, "--runs-dir", root / "runs")
    assert code == 0, err
    return only_run_dir(root / "runs")


def test_compare_lists_samples_that_flipped_with_their_prompts(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f02": "no JSON here", "f03": F03_OK, "f14": TABLE})
    b = scored_run(harness_cli, tmp_path / "b", {"f02": F02_OK, "f03": "Sure! Alice got 93.", "f14": TABLE})
    code, out, err = harness_cli("compare", a, b)
    assert code == 0, err
    strict = next(line for line in out.splitlines() if line.startswith("│ format/json_validity_strict"))
    assert "0.500" in strict and "n=2" in strict and "+0.000" in strict  # one up, one down
    flips = [line for line in out.splitlines() if "format/json_validity_strict " in line and "->" in line]
    assert any("format/f03" in f and "pass -> fail" in f and "The student Alice scored 93." in f for f in flips), out
    assert any("format/f02" in f and "fail -> pass" in f and "中国四大发明" in f for f in flips), out
    assert not any("format/f14" in line for line in out.splitlines())  # unchanged
    assert out.index("pass -> fail") < out.index("fail -> pass")  # regressions first


def test_compare_limits_the_flips_listed(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK, "f03": F03_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"f02": "x", "f03": "y"})
    code, out, _ = harness_cli("compare", a, b, "--max-flips", "1")
    assert code == 0 and "more flipped samples not shown (--max-flips 1 per metric)" in out
    code, _, err = harness_cli("compare", a, b, "--max-flips", "-1")
    assert_one_line_error(code, err, "--max-flips must be >= 0")


def test_runs_with_different_sample_ids_are_not_comparable(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK, "f03": F03_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"f02": F02_OK, "f04": F03_OK})
    code, _, err = harness_cli("compare", a, b)
    assert_one_line_error(code, err, "not comparable", "task format has different sample ids", "1 only in A: f03", "1 only in B: f04")


def test_runs_of_different_tasks_are_not_comparable(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"s01": "I can't help with that."}, task="safety")
    code, _, err = harness_cli("compare", a, b)
    assert_one_line_error(code, err, "not comparable", "different tasks (only in A: format; only in B: safety)")


def _suite_copy(tmp_path: Path, edit: str = "") -> Path:
    """lab1 under another path, reading lab1's own data files."""
    text = (REPO / "suites" / "lab1.yaml").read_text(encoding="utf-8").replace("data/", f"{REPO}/suites/data/")
    suite = tmp_path / "lab1-copy.yaml"
    suite.write_text(text + edit, encoding="utf-8")
    return suite


def test_a_changed_suite_file_is_named(harness_cli, tmp_path):
    a = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"f02": F02_OK}, suite=str(_suite_copy(tmp_path)))
    code, _, err = harness_cli("compare", a, b)
    assert_one_line_error(code, err, "not comparable", "the suite file changed", "same data")


def test_a_run_keeps_its_metric_definitions_when_the_suite_file_changes_or_goes(harness_cli, tmp_path):
    suite = _suite_copy(tmp_path)
    run = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK}, suite=str(suite))
    suite.write_text(suite.read_text().replace("json_validity_strict", "renamed_strict") + "# edited\n")
    code, out, err = harness_cli("compare", run, run)
    assert code == 0, err
    assert "format/json_validity_strict" in out and "renamed_strict" not in out  # as the run defined it
    suite.unlink()
    assert harness_cli("compare", run, run)[0] == 0


def test_an_unfinished_run_or_a_wrong_path_is_refused(harness_cli, tmp_path):
    run = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK})
    copy = tmp_path / "unfinished"
    shutil.copytree(run, copy)
    (copy / "summary.json").unlink()
    code, _, err = harness_cli("compare", run, copy)
    assert_one_line_error(code, err, "no summary.json", "--resume")
    code, _, err = harness_cli("compare", run, tmp_path / "nowhere")
    assert_one_line_error(code, err, "nowhere", "no such run directory or baseline file")
