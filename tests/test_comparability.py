"""Runs of different suites are never compared or gated against each other, whether the other
side is a run directory or a baseline file (runs made by `harness score`: no model needed)."""

from __future__ import annotations

import shutil

import pytest
from conftest import REPO, only_run_dir
from test_cli_errors import assert_one_line_error
from test_score_external import write_rows

ANSWERS = [{"id": "f03", "response": '{"name": "Alice", "score": 93}'}, {"id": "f05", "response": "no JSON"}]

# the lab1 format task, word for word, in a suite of another name
OTHER_SUITE = """name: other
tasks:
  format:
    samples: format.jsonl
    scorers:
      - json_valid: {mode: strict, id: json_valid_strict}
    metrics:
      json_validity_strict: {scorer: json_valid_strict}
"""


def scored(harness_cli, root, suite):
    root.mkdir(parents=True)
    write_rows(root / "answers.jsonl", ANSWERS)
    code, _, err = harness_cli("score", "--suite", suite, "--task", "format", "--responses", root / "answers.jsonl",
                               "--runs-dir", root / "runs")
    assert code == 0, err
    return only_run_dir(root / "runs")


@pytest.fixture
def lab1_and_other(harness_cli, tmp_path):
    folder = tmp_path / "other-suite"
    folder.mkdir()
    shutil.copy(REPO / "suites" / "data" / "format.jsonl", folder / "format.jsonl")
    (folder / "other.yaml").write_text(OTHER_SUITE)
    return scored(harness_cli, tmp_path / "a", "lab1"), scored(harness_cli, tmp_path / "b", folder / "other.yaml")


def test_compare_refuses_runs_of_different_suites(harness_cli, lab1_and_other):
    a, b = lab1_and_other
    code, _, err = harness_cli("compare", a, b)
    assert_one_line_error(code, err, "not comparable", "different suites ('lab1' vs 'other')")


def test_gate_refuses_a_baseline_of_another_suite(harness_cli, lab1_and_other, tmp_path):
    a, b = lab1_and_other
    policy = tmp_path / "policy.yaml"
    policy.write_text("suite: other\nmetrics:\n  format/json_validity_strict: {max_drop: 0.1}\n")
    baseline = tmp_path / "lab1.json"
    assert harness_cli("baseline", "save", a, "--out", baseline)[0] == 0
    for against in (a, baseline):
        code, _, err = harness_cli("gate", b, "--baseline", against, "--policy", policy,
                                   "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
        assert_one_line_error(code, err, "not comparable", "different suites ('lab1' vs 'other')")
    assert not (tmp_path / "j.xml").exists()  # refused before any report is written
