"""A scorer that raises on one answer (a bug an odd answer finds) costs that one verdict, not the
run: the record is unscored with the error as the reason, the others are scored, and the CLI says
so in one `warning:` line."""

from __future__ import annotations

import json

from conftest import only_run_dir

from harness.rundir import RunDir
from harness.scorers import passed, scorer


@scorer("explodes_on_boom_test")
def explodes_on_boom():
    """Passes, except that an answer containing 'boom' divides by zero."""

    def score(sample, answer):
        if "boom" in answer.text:
            return passed(1 / 0 > 0, "unreachable")
        return passed(True, "fine")

    return score


def test_a_scorer_that_raises_leaves_that_answer_unscored_and_the_run_finishes(harness_cli, tmp_path):
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"question {i}"}) + "\n" for i in range(3)))
    (tmp_path / "suite.yaml").write_text("name: boom\ntasks:\n  q: {samples: s.jsonl, scorers: [explodes_on_boom_test]}\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": i, "response": r}) + "\n" for i, r in (("q0", "ok"), ("q1", "boom"), ("q2", "ok"))))
    code, out, err = harness_cli("score", "--suite", tmp_path / "suite.yaml", "--task", "q", "--responses", answers,
                                 "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    scores = {r.id: r.scores["explodes_on_boom_test"] for r in RunDir(only_run_dir(tmp_path / "runs")).scored()}
    assert scores["q0"].value == scores["q2"].value == 1.0
    assert scores["q1"].value is None
    assert scores["q1"].reason == "unscored: scorer error: ZeroDivisionError: division by zero"
    warned = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "explodes_on_boom_test failed on ckpt q/q1" in warned[0], err
