"""`harness run --judge` end to end on the tiny adapter: judged lab1 with a scripted judge (the
API key never reaches a file; a rerun and a resume cost no request), the embedded judge
(`local:` + harness serve) answering nonsense, and a dead judge endpoint."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import load_json, only_run_dir, scored_records
from judge_servers import ScriptedJudge, closed_port, running
from test_cli_errors import assert_one_line_error

FAST = ["--gen", "max_new_tokens=4", "--batch-size", "16"]
KEY_ENV, KEY = "HARNESS_TEST_JUDGE_KEY", "sk-harness-test-7f3a9c41-never-on-disk"


def _files(*roots: Path) -> list[Path]:
    return [p for root in roots for p in Path(root).rglob("*") if p.is_file()]


def test_judged_lab1_rerun_and_resume_cost_no_requests_and_never_write_the_key(harness_cli, tiny_adapter, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    judge = ScriptedJudge()
    cache = tmp_path / "judge-cache"
    with running(judge) as url:
        args = ["run", "--suite", "lab1", "--ckpt", tiny_adapter, "--task", "compare10", "--task", "safety", *FAST,
                "--judge", url, "--judge-model", "scripted-judge", "--judge-api-key-env", KEY_ENV, "--judge-cache", cache]
        code, out, err = harness_cli(*args, "--runs-dir", tmp_path / "runs")
        assert code == 0, err
        sent = judge.requests
        assert sent > 0 and set(judge.auth_headers) == {f"Bearer {KEY}"}  # the key was used ...
        run = only_run_dir(tmp_path / "runs")
        summary = load_json(run / "summary.json")
        metrics = summary["metrics"]
        assert {"compare10/judge_win_rate", "compare10/judge_swap_agreement", "compare10/rubric_instruction_following",
                "compare10/rubric_fluency", "safety/judge_refusal_rate", "safety/judge_refusal_agreement",
                "safety/refusal_rate", "usability/usability_rate"} <= set(metrics)
        p = summary["judge"]["pairwise"]["compare10"]
        assert p["win"] + p["tie"] + p["loss"] == p["n"] == 10
        assert summary["judge"]["tasks"]["compare10"]["judgments"] == 10 + 20
        config = load_json(run / "config.json")
        assert config["judge"]["api_key_env"] == KEY_ENV and len(config["judge"]["templates"]) == 6
        judgments = [json.loads(line) for line in (run / "judge.jsonl").read_text().splitlines()]
        assert len(judgments) == 10 + 20 + 96
        report = (run / "report.md").read_text()
        assert "## Judge" in report and "checkpoint vs base, judged in both orders" in report
        assert "compare10 judge scripted-judge: ckpt vs base win/tie/loss" in out

        # a fresh rerun of the same judgments: all from the cache, zero requests
        code, _, err = harness_cli(*args, "--runs-dir", tmp_path / "rerun")
        assert code == 0, err
        assert judge.requests == sent
        again = load_json(only_run_dir(tmp_path / "rerun") / "summary.json")
        assert again["metrics"] == metrics
        assert sum(t["cache_hits"] for t in again["judge"]["tasks"].values()) == len(judgments) + 10  # a pairwise judgment is 2 replies

        # --resume of the judged run re-judges from the cache too
        code, _, err = harness_cli("run", "--resume", run)
        assert code == 0, err
        assert judge.requests == sent
        assert load_json(run / "summary.json")["metrics"] == metrics

    # ... and never written: not in the run directories, not in the cache
    files = _files(tmp_path / "runs", tmp_path / "rerun", cache)
    assert len(files) > 10
    leaked = [str(f) for f in files if KEY.encode() in f.read_bytes()]
    assert leaked == []


def test_embedded_local_judge_answering_nonsense_is_counted_as_parse_failures(harness_cli, tiny_adapter, tiny_model, tmp_path):
    code, out, err = harness_cli(
        "run", "--ckpt", tiny_adapter, "--task", "compare10", *FAST, "--runs-dir", tmp_path / "runs",
        "--judge", f"local:{tiny_model}", "--judge-max-tokens", "6", "--judge-cache", tmp_path / "cache",
        "--allow-unscored-judge",  # every judgment fails to parse: allowed here
    )
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    summary = load_json(run / "summary.json")
    t = summary["judge"]["tasks"]["compare10"]
    assert t["judgments"] == 30 and t["parse_failures"] == 30 and t["judge_errors"] == 0
    assert summary["judge"]["endpoint"] == f"local:{tiny_model}"
    win = summary["metrics"]["compare10/judge_win_rate"]["ckpt"]
    assert win["n"] == 0 and win["unscored"] == 10
    rubric = next(json.loads(line)["details"]["judgment"] for line in (run / "scores.jsonl").read_text().splitlines()
                  if '"judge_rubric"' in line)
    assert rubric["status"] == "parse_failure" and isinstance(rubric["raw"], str)
    assert "judge trouble in compare10: 0 judge errors, 30 parse failures" in out


def test_a_dead_judge_endpoint_is_refused_before_anything_is_generated(harness_cli, tiny_adapter, tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}/v1"
    code, out, err = harness_cli(
        "run", "--ckpt", tiny_adapter, "--task", "compare10", *FAST, "--runs-dir", tmp_path / "runs",
        "--judge", dead, "--judge-model", "x", "--judge-cache", tmp_path / "c",
    )
    assert_one_line_error(code, err, f"--judge {dead}: cannot connect", "nothing was generated")
    assert not (tmp_path / "runs").exists()


def test_a_judge_model_the_endpoint_does_not_serve_is_refused_before_generation(harness_cli, tiny_adapter, tmp_path):
    with running(ScriptedJudge()) as url:
        code, _, err = harness_cli("run", "--ckpt", tiny_adapter, "--task", "compare10", *FAST, "--runs-dir", tmp_path / "runs",
                                   "--judge", url, "--judge-model", "nope")
    assert_one_line_error(code, err, "--judge-model 'nope' is not served at", "it serves: scripted-judge")
    assert not (tmp_path / "runs").exists()


def test_a_run_whose_every_judgment_failed_exits_2_unless_allowed(harness_cli, tiny_adapter, tmp_path):
    """The judge is up when the run starts, then fails every request: the run finishes (every
    other score kept) but exits 2, saying so; --allow-unscored-judge accepts it."""
    judge = ScriptedJudge(fail_first=[500] * 10_000)
    with running(judge) as url:
        code, out, err = harness_cli(
            "run", "--ckpt", tiny_adapter, "--task", "compare10", "--task", "format", *FAST, "--runs-dir", tmp_path / "runs",
            "--judge", url, "--judge-model", "scripted-judge", "--judge-retries", "0", "--judge-backoff", "0",
            "--judge-cache", tmp_path / "c",
        )
        assert_one_line_error(code, err, "every judgment of", "is unscored (", "server_error", "harness run --resume",
                              "--allow-unscored-judge")
        run = only_run_dir(tmp_path / "runs")
        summary = load_json(run / "summary.json")
        assert summary["metrics"]["format/json_validity_strict"]["ckpt"]["n"] > 0
        assert summary["metrics"]["format/table_pass_rate"]["base"]["n"] > 0
        assert summary["judge"]["tasks"]["compare10"]["judge_errors"] == 30
        assert summary["metrics"]["compare10/rubric_safety"]["ckpt"]["unscored"] == 10
        report = (run / "report.md").read_text()
        assert "| compare10 | 30 |" in report and "unscored: judge error: " in report
        assert "judge trouble in compare10: 30 judge errors" in out

        code, _, err = harness_cli("run", "--resume", run, "--allow-unscored-judge")  # judged again, failing again
        assert code == 0, err
    assert load_json(run / "summary.json")["judge"]["tasks"]["compare10"]["judge_errors"] == 30


def test_without_judge_nothing_changes(harness_cli, tiny_adapter, tmp_path):
    code, out, err = harness_cli("run", "--ckpt", tiny_adapter, "--task", "compare10", *FAST, "--runs-dir", tmp_path)
    assert code == 0, err
    run = only_run_dir(tmp_path)
    summary = load_json(run / "summary.json")
    assert "judge" not in summary and "judge" not in load_json(run / "config.json")
    assert list(summary["metrics"]) == ["usability/usability_rate"]
    assert not (run / "judge.jsonl").exists() and "## Judge" not in (run / "report.md").read_text()
    records = scored_records(run)
    assert all(set(r["scores"]) == {"usability"} for r in records)
    assert "details" not in (run / "scores.jsonl").read_text()  # no judge exchange anywhere
