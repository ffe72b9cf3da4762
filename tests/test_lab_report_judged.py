"""A lab report of a judged run (`--run`, no training directory): the 10-prompt table carries the
judge's pairwise verdict and rubric scores per prompt, answers stay escaped text, and the items
without their evidence are named as missing."""

from __future__ import annotations

import json

from conftest import load_json, only_run_dir
from judge_servers import ScriptedJudge, rubric_scores, running


def test_report_of_a_judged_run_shows_verdicts_and_names_what_is_missing(harness_cli, tiny_adapter, tmp_path):
    with running(ScriptedJudge()) as url:
        code, _, err = harness_cli("run", "--suite", "lab1", "--ckpt", tiny_adapter, "--task", "compare10",
                                   "--gen", "max_new_tokens=6", "--judge", url, "--judge-model", "scripted-judge",
                                   "--judge-cache", tmp_path / "cache", "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    code, out, err = harness_cli("report", "--lab", "lab1", "--run", run, "--out", tmp_path / "report")
    assert code == 0, err
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    rows = [json.loads(x) for x in (run / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    pairwise = {json.loads(x)["id"]: json.loads(x) for x in (run / "scores.jsonl").read_text(encoding="utf-8").splitlines()
                if json.loads(x)["scorer"] == "judge_pairwise"}
    assert "| id | prompt | base | fine-tuned | judge |" in md
    for r in rows:
        if r["role"] != "ckpt":
            continue
        line = next(x for x in md.splitlines() if x.startswith(f"| {r['id']} |"))
        label = pairwise[r["id"]]["scores"]["judge_pairwise"]["label"]
        assert f"fine-tuned vs base: **{label}**" in line
        if r["output"]:
            scores = rubric_scores(r["output"])
            assert f"fine-tuned rubric: instruction following {scores['instruction_following']}" in line
        assert "<script" not in line
    grade = {i["id"]: i for i in load_json(tmp_path / "report" / "grade.json")["items"]}
    assert grade["prompt_table"]["status"] == "complete"
    assert grade["loss_curve"]["status"] == "missing" and "no training directory" in grade["loss_curve"]["missing"][0]
    assert grade["sweep"]["status"] == "missing"
    assert "*Missing: no finished training directory was given" in md
