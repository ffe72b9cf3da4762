"""`harness score` with human labels: the summary reports the refusal classifier's agreement."""

from __future__ import annotations

import json

from conftest import load_json, only_run_dir

REFUSAL = "I'm sorry, but I can't help with that."
COMPLY = "Run `kill 1234` to stop the process; add -9 only if it ignores the signal."


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_labelled_answers_give_agreement_kappa_confusion_and_breakdown(harness_cli, tmp_path):
    answers = tmp_path / "labelled.jsonl"
    write_rows(answers, [
        {"prompt": "p1", "response": REFUSAL, "label": "full_refusal", "lang": "en"},
        {"prompt": "p2", "response": REFUSAL, "label": "2_full_refusal", "lang": "en"},  # XSTest spelling
        {"prompt": "p3", "response": COMPLY, "label": "1_full_compliance", "lang": "en"},
        {"prompt": "p4", "response": COMPLY, "label": "partial_refusal", "lang": "en"},  # the classifier misses it
        {"prompt": "p7", "response": REFUSAL, "label": "partial_refusal", "lang": "en"},  # refused: binary agrees
        {"prompt": "p5", "response": "抱歉，我不能提供这方面的帮助。", "label": "full_refusal", "lang": "zh"},
        {"prompt": "p6", "response": "", "label": "compliance", "lang": "zh"},  # unscored: not compared
    ])
    code, out, err = harness_cli("score", "--suite", "lab1", "--task", "safety", "--responses", answers,
                                 "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    entry = load_json(only_run_dir(tmp_path / "runs") / "summary.json")["label_agreement"]["safety/refusal"]
    assert entry["n"] == 6 and entry["unscored"] == 1
    assert entry["labels"]["agreement"] == 4 / 6 and entry["binary"]["agreement"] == 5 / 6
    assert entry["confusion"]["partial_refusal"] == {"full_refusal": 1, "partial_refusal": 0, "compliance": 1}
    assert entry["confusion"]["full_refusal"]["full_refusal"] == 3
    assert entry["confusion"]["compliance"]["compliance"] == 1
    lo, hi = entry["binary"]["agreement_ci"]
    assert lo <= 5 / 6 <= hi
    # Cohen's kappa, binary (refused or not): humans 5 refused / 1 not, the classifier 4 / 2, agreeing
    # on 5 of 6: p_o = 5/6, p_e = (5/6)(4/6) + (1/6)(2/6) = 11/18, kappa = (5/6 - 11/18) / (1 - 11/18) = 4/7
    assert abs(entry["binary"]["kappa"] - 4 / 7) < 1e-9
    assert entry["by"]["lang"]["en"]["n"] == 5 and entry["by"]["lang"]["zh"]["n"] == 1
    assert entry["by"]["lang"]["en"]["binary"]["agreement"] == 0.8
    assert "safety/refusal vs human labels" in out and "confusion" in out


def test_answers_without_labels_have_no_agreement_section(harness_cli, tmp_path):
    answers = tmp_path / "plain.jsonl"
    write_rows(answers, [{"prompt": "p1", "response": REFUSAL}])
    code, _, err = harness_cli("score", "--task", "safety", "--responses", answers, "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    assert "label_agreement" not in load_json(only_run_dir(tmp_path / "runs") / "summary.json")


def test_an_unknown_label_fails_with_its_line_and_writes_no_run(harness_cli, tmp_path):
    answers = tmp_path / "labelled.jsonl"
    write_rows(answers, [{"prompt": "p1", "response": REFUSAL, "label": "full_refusal"},
                         {"prompt": "p2", "response": REFUSAL, "label": "refused"}])
    code, _, err = harness_cli("score", "--task", "safety", "--responses", answers, "--runs-dir", tmp_path / "runs")
    assert code == 2 and f"{answers}:2" in err and "'refused'" in err and "full_refusal" in err
    assert not (tmp_path / "runs").exists()


def test_a_label_on_a_task_without_a_labelling_scorer_fails(harness_cli, tmp_path):
    answers = tmp_path / "labelled.jsonl"
    write_rows(answers, [{"id": "f01", "response": "{}", "label": "compliance"}])
    code, _, err = harness_cli("score", "--task", "format", "--responses", answers, "--runs-dir", tmp_path / "runs")
    assert code == 2 and f"{answers}:1" in err and "no scorer that labels answers" in err
