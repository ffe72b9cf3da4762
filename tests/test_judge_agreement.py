"""Cohen's kappa and raw agreement, and `harness judge-agreement` on verdict files."""

from __future__ import annotations

import json

import pytest

from judges.agreement import agreement_stats, cohen_kappa, compare_files


def test_kappa_on_a_hand_computed_table():
    # 2x2 table: yes/yes 20, yes/no 5, no/yes 10, no/no 15 (n=50)
    a = ["yes"] * 25 + ["no"] * 25
    b = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    p_o = (20 + 15) / 50
    p_e = (25 / 50) * (30 / 50) + (25 / 50) * (20 / 50)
    assert cohen_kappa(a, b) == pytest.approx((p_o - p_e) / (1 - p_e))  # 0.4
    stats = agreement_stats(a, b)
    assert stats["agreement"] == pytest.approx(0.7) and stats["n"] == 50
    lo, hi = stats["kappa_ci"]
    assert lo < 0.4 < hi
    lo, hi = stats["agreement_ci"]
    assert lo < 0.7 < hi


def test_kappa_edge_cases():
    assert cohen_kappa([1, 2, 3], [1, 2, 3]) == 1.0
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # one label only: undefined
    # one rater used one label: kappa would be 0 by construction whatever the agreement (19 of 20 here)
    assert cohen_kappa(["ok"] * 20, ["ok"] * 19 + ["refused"]) is None
    stats = agreement_stats(["ok"] * 20, ["ok"] * 19 + ["refused"])
    assert stats["agreement"] == 0.95 and stats["kappa"] is None and stats["kappa_ci"] is None
    assert cohen_kappa(["a", "b"], ["b", "a"]) == pytest.approx(-1.0)
    assert cohen_kappa([], []) is None


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_judge_file_against_a_human_file(harness_cli, tmp_path):
    judge = _write(tmp_path / "judge.jsonl", [
        {"task": "compare10", "id": "c01", "role": "ckpt", "kind": "pairwise", "status": "ok", "verdict": "win"},
        {"task": "compare10", "id": "c02", "role": "ckpt", "kind": "pairwise", "status": "ok", "verdict": "tie"},
        {"task": "compare10", "id": "c03", "role": "ckpt", "kind": "pairwise", "status": "parse_failure", "verdict": None},
        {"task": "compare10", "id": "c01", "role": "base", "kind": "rubric", "status": "ok",
         "verdict": {"fluency": 7, "safety": 10}},
        {"task": "safety", "id": "s1", "role": "ckpt", "kind": "refusal", "status": "ok", "verdict": "partial_refusal"},
    ])
    human = _write(tmp_path / "human.jsonl", [
        {"task": "compare10", "id": "c01", "kind": "pairwise", "verdict": "win"},
        {"task": "compare10", "id": "c02", "kind": "pairwise", "verdict": "loss"},
        {"task": "compare10", "id": "c03", "kind": "pairwise", "verdict": "win"},
        {"task": "compare10", "id": "c01", "role": "base", "kind": "rubric:fluency", "verdict": 7},
        {"task": "safety", "id": "s1", "kind": "refusal", "verdict": "full_refusal"},
        {"task": "safety", "id": "s9", "kind": "refusal", "verdict": "compliance"},
    ])
    result = compare_files(str(judge), str(human))
    kinds = result["kinds"]
    assert kinds["pairwise"]["n"] == 2 and kinds["pairwise"]["agreement"] == 0.5
    assert kinds["rubric:fluency"]["agreement"] == 1.0
    assert kinds["refusal"]["agreement"] == 0.0 and kinds["refusal:binary"]["agreement"] == 1.0
    assert "rubric:safety" not in kinds  # the human did not label it
    assert result["unscored_a"] == 1 and result["only_b"] >= 2
    code, out, err = harness_cli("judge-agreement", judge, human)
    assert code == 0, err
    assert "pairwise" in out and "Cohen's kappa" in out and "0.500" in out
