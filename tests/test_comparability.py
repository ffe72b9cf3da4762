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


# ---- runs made differently: generation settings, chat template, judge model --------------------
@pytest.fixture(scope="module")
def made_with_4_and_6_tokens(tiny_model, tmp_path_factory):
    from harness.cli import main

    runs = []
    for n in (4, 6):
        root = tmp_path_factory.mktemp(f"gen{n}")
        assert main(["run", "--ckpt", str(tiny_model), "--task", "format", "--limit", "4",
                     "--gen", f"max_new_tokens={n}", "--runs-dir", str(root)]) == 0
        runs.append(only_run_dir(root))
    return runs


def test_compare_and_gate_refuse_runs_made_with_other_generation_settings(harness_cli, made_with_4_and_6_tokens, tmp_path):
    a, b = made_with_4_and_6_tokens
    code, _, err = harness_cli("compare", a, b)
    assert_one_line_error(code, err, "made differently", "generation/format: max_new_tokens 4 vs 6",
                          "--allow-different generation")
    baseline = tmp_path / "a.json"
    assert harness_cli("baseline", "save", a, "--out", baseline)[0] == 0
    policy = tmp_path / "p.yaml"
    policy.write_text("metrics:\n  format/json_validity_strict: {max_drop: 1.0}\n")
    code, _, err = harness_cli("gate", b, "--policy", policy, "--baseline", baseline)  # a baseline file keeps the settings
    assert_one_line_error(code, err, "made differently", "max_new_tokens 4 vs 6")


def test_allow_different_compares_and_says_so(harness_cli, made_with_4_and_6_tokens, tmp_path):
    a, b = made_with_4_and_6_tokens
    code, out, err = harness_cli("compare", a, b, "--allow-different", "generation")
    assert code == 0, err
    assert "made differently (--allow-different) generation/format: max_new_tokens 4 vs 6" in " ".join(out.split())
    policy = tmp_path / "p.yaml"
    policy.write_text("metrics:\n  format/json_validity_strict: {max_drop: 1.0}\n")
    summary = tmp_path / "gate.md"
    code, out, err = harness_cli("gate", b, "--policy", policy, "--baseline", a, "--allow-different", "generation",
                                 "--summary", summary, "--junit", tmp_path / "j.xml")
    assert code == 0, err
    assert "made differently from the baseline (allowed with --allow-different): generation/format" in summary.read_text()


def test_a_different_chat_template_or_judge_is_refused_and_unknown_is_not(harness_cli, made_with_4_and_6_tokens, tmp_path):
    import json

    a, _ = made_with_4_and_6_tokens
    for key, value, name in (("chat_template_hash", "0123456789abcdef", "chat_template"),
                             ("judge", {"model": "other-judge"}, "judge_model")):
        other = tmp_path / f"other-{name}"
        shutil.copytree(a, other)
        config = json.loads((a / "config.json").read_text())
        theirs = dict(config, **{key: value})
        if name == "judge_model":  # a judge on both sides, different models
            (a_judged := tmp_path / "a-judged").exists() or shutil.copytree(a, a_judged)
            (a_judged / "config.json").write_text(json.dumps(dict(config, judge={"model": "my-judge"})))
            left = a_judged
        else:
            left = a
        (other / "config.json").write_text(json.dumps(theirs))
        code, _, err = harness_cli("compare", left, other)
        assert_one_line_error(code, err, "made differently", f"{name}:", f"--allow-different {name}")
        assert harness_cli("compare", left, other, "--allow-different", name)[0] == 0
    unknown = tmp_path / "unknown"  # a run that did not record its template: unknown, not a difference
    shutil.copytree(a, unknown)
    config = json.loads((a / "config.json").read_text())
    config.pop("chat_template_hash")
    (unknown / "config.json").write_text(json.dumps(config))
    assert harness_cli("compare", a, unknown)[0] == 0
