"""Crash and resume: `harness run` is killed with SIGKILL at points of every stage (mid-task with a
line torn mid-write, between two tasks, while scoring, while the judge's requests are in flight),
each time resumed with `--resume`. No finished sample is lost or duplicated, the torn line is
repaired with exactly one warning, and the finished run equals an uninterrupted one.

The kill points are drawn from a seeded RNG within each stage (HARNESS_FAULT_SEED changes the
seed; the points are in every assertion message), so a failure is reproducible.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from conftest import load_json, only_run_dir
from fault_servers import FaultyJudge, serving

from harness.rundir import RunDir

TESTS = Path(__file__).resolve().parent
FAST = ["--gen", "max_new_tokens=6", "--batch-size", "4"]
TASKS = ["--task", "compare10", "--task", "format", "--task", "ppl"]
PER_ROLE = {"compare10": 10, "format": 19, "ppl": 24}
SAMPLE_ROWS = 2 * sum(PER_ROLE.values())  # base and ckpt
# per-sample score rows per role: compare10 usability; format 4 checks + usability; ppl perplexity
SCORE_ROWS = 2 * (10 * 1 + 19 * 5 + 24 * 1)
JUDGE_REQUESTS = 10 * 2 + 20  # compare10: pairwise in both orders (ckpt records), rubric (both roles)
SEED = int(os.environ.get("HARNESS_FAULT_SEED", "11"))


def _killed_at(file_name: str, n: int, args: list, torn: bool = False) -> list[str]:
    return [sys.executable, str(TESTS / "crash_points.py"), file_name, str(n), *(["torn"] if torn else []),
            "--", *map(str, args)]


def _harness(args: list) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *map(str, args)]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True) if path.exists() else []


def _complete(lines: list[bytes]) -> list[bytes]:
    return [line for line in lines if line.endswith(b"\n")]


def _keys(path: Path, *fields: str) -> list[tuple]:
    return [tuple(row[f] for f in fields) for row in map(json.loads, _complete(_lines(path)))]


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def _judge_args(url: str, cache: Path) -> list:
    return ["--judge", url, "--judge-model", "faulty-judge", "--judge-cache", cache, "--judge-retries", "0"]


def test_run_killed_in_every_stage_resumes_to_the_uninterrupted_result(harness_cli, tiny_adapter, tmp_path):
    rng = random.Random(SEED)
    torn_at = rng.randint(2, 9)  # a compare10 row of the base (10 rows): mid-task, cut mid-write
    score_at = rng.randint(1, SCORE_ROWS - 1)
    judge_at = rng.randint(1, JUDGE_REQUESTS - 1)
    where = f"(seed {SEED}: torn samples row {torn_at}, score row {score_at}, judge request {judge_at})"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    judge = FaultyJudge(None)
    with serving(judge) as url:
        # the run nothing happens to, for the expected result
        code, _, err = harness_cli("run", "--ckpt", tiny_adapter, *TASKS, *FAST, "--runs-dir", tmp_path / "ref",
                                   *_judge_args(url, tmp_path / "ref-cache"))
        assert code == 0, err
        reference = only_run_dir(tmp_path / "ref")

        args = ["run", "--ckpt", tiny_adapter, *TASKS, *FAST, "--runs-dir", tmp_path / "runs",
                *_judge_args(url, tmp_path / "cache")]
        steps = []  # (what, command, server-side kill at request n or None)

        def step(what: str, command: list[str], *, judge_kill_at: int | None = None, expect_killed: bool = True):
            run_dirs = list((tmp_path / "runs").glob("*"))
            samples = run_dirs[0] / "samples.jsonl" if run_dirs else None
            scores = run_dirs[0] / "scores.jsonl" if run_dirs else None
            before = {f: _complete(_lines(f)) for f in (samples, scores) if f}
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if judge_kill_at is not None:  # the server counts every request it ever had
                at = judge.requests + judge_kill_at
                judge.on_request = lambda n: os.kill(proc.pid, signal.SIGKILL) if n == at else None
            try:
                _, stderr = proc.communicate(timeout=300)
            finally:
                judge.on_request = None
                if proc.poll() is None:
                    proc.kill()
            steps.append(what)
            if expect_killed:
                assert proc.returncode == -signal.SIGKILL, f"{what} {where}: not killed (exit {proc.returncode}): {stderr}"
            else:
                assert proc.returncode == 0, f"{what} {where}: {stderr}"
            for f, lines in before.items():  # whatever was complete before is still there, unchanged
                assert _complete(_lines(f))[: len(lines)] == lines, f"{what} {where}: {f.name} lost finished lines"
            run = only_run_dir(tmp_path / "runs")
            sample_keys = _keys(run / "samples.jsonl", "role", "task", "id")
            assert len(sample_keys) == len(set(sample_keys)), f"{what} {where}: a sample written twice"
            score_keys = _keys(run / "scores.jsonl", "role", "task", "id", "scorer")
            assert len(score_keys) == len(set(score_keys)), f"{what} {where}: a score written twice"
            return run, stderr

        # 1. generating compare10 for the base model; the row being written is cut in half
        run, _ = step("mid-task, torn line", _killed_at("samples.jsonl", torn_at, args, torn=True))
        assert not _lines(run / "samples.jsonl")[-1].endswith(b"\n")  # the torn line is there
        # 2. resume: one warning for the torn line; killed right after base/compare10's last row
        run, stderr = step("between tasks", _killed_at("samples.jsonl", 10 - (torn_at - 1), ["run", "--resume", run]))
        warned = _warnings(stderr)
        assert len(warned) == 1 and "samples.jsonl" in warned[0] and "cut mid-write" in warned[0], (where, stderr)
        assert [k[1] for k in _keys(run / "samples.jsonl", "role", "task", "id")] == ["compare10"] * 10
        # 3. resume: every answer generated, killed in the middle of the per-sample scoring
        run, stderr = step("while scoring", _killed_at("scores.jsonl", score_at, ["run", "--resume", run]))
        assert _warnings(stderr) == [], stderr  # nothing torn: nothing to say
        assert len(_keys(run / "samples.jsonl", "role", "task", "id")) == SAMPLE_ROWS
        # 4. resume: killed by the judge server while judge requests are in flight
        run, _ = step("while the judge runs", _harness(["run", "--resume", run]), judge_kill_at=judge_at)
        assert not (run / "summary.json").exists()
        # 5. resume to the end
        run, stderr = step("finish", _harness(["run", "--resume", run]), expect_killed=False)

    assert steps == ["mid-task, torn line", "between tasks", "while scoring", "while the judge runs", "finish"]
    done, ref = RunDir(run), RunDir(reference)
    assert {r.key: r.output for r in done.records()} == {r.key: r.output for r in ref.records()}, where
    assert _scores(done) == _scores(ref), where
    summary, expected = load_json(run / "summary.json"), load_json(reference / "summary.json")
    assert summary["metrics"] == expected["metrics"], where
    assert summary["judge"]["pairwise"] == expected["judge"]["pairwise"], where
    assert "compare10/judge_win_rate" in summary["metrics"] and summary["judge"]["tasks"]["compare10"]["judge_errors"] == 0


def _scores(run: RunDir) -> dict:
    return {(sr.key, sr.scorer): {k: (e.value, e.label) for k, e in sr.scores.items()} for sr in run.score_records()}
