"""Judge faults against a misbehaving endpoint on 127.0.0.1 (tests/fault_servers.py), through the
real openai client: 500s, 429 with and without Retry-After, a hang past the timeout, a connection
dropped mid-body, invalid JSON, an empty choice list, a verdict in the wrong language, a reply far
over max_tokens.

For each: the pass finishes; transport faults are retried within the limit (--judge-retries), the
rest are not; every judgment the fault touched is unscored with its reason and counted by kind in
summary.json and report.md; the cache holds only good replies; and once the server recovers, the
next scoring pass (`harness run --resume`) asks exactly the failed prompts again and ends with the
result of a judge that never failed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import load_json, only_run_dir
from fault_servers import FAULTS, FaultyJudge, serving

from harness.rundir import RunDir
from judges.verdicts import parse_pairwise, parse_refusal, parse_rubric

RETRIES = 1
RETRIED = {"http_500", "http_429", "http_429_after", "hang", "drop"}  # transport faults
KIND = {"http_500": "server_error", "http_429": "rate_limited", "http_429_after": "rate_limited", "hang": "timeout",
        "drop": "connection", "invalid_json": "invalid_response", "no_choices": "invalid_response",
        "wrong_language": "parse_failure", "over_max_tokens": "parse_failure"}
REASON = {"http_500": "HTTP 500", "http_429": "HTTP 429", "http_429_after": "HTTP 429", "hang": "timeout after",
          "drop": "connection error", "invalid_json": "JSON", "no_choices": "no choices",
          "wrong_language": "no '", "over_max_tokens": "cut at max_tokens"}


def every_fifth(prompt: str) -> bool:  # rare enough that the client never gives up on the endpoint
    return int(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), 16) % 5 == 0


@pytest.fixture(scope="module")
def answered(tiny_adapter, tmp_path_factory) -> Path:
    """A run of the tiny adapter (base and ckpt) on compare10 and safety, not judged yet."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("answered")
    assert main(["run", "--ckpt", str(tiny_adapter), "--task", "compare10", "--task", "safety", "--gen",
                 "max_new_tokens=5", "--batch-size", "16", "--runs-dir", str(root)]) == 0
    return only_run_dir(root)


@pytest.fixture(scope="module")
def clean(answered, tmp_path_factory) -> dict:
    """The same run judged by an endpoint that never fails: the expected result."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("clean")
    with serving(FaultyJudge(None)) as url:
        assert main(["rescore", str(answered), *_judge(url, root / "cache"), "--runs-dir", str(root / "runs")]) == 0
    return load_json(only_run_dir(root / "runs") / "summary.json")


def _judge(url: str, cache: Path) -> list[str]:
    return ["--judge", url, "--judge-model", "faulty-judge", "--judge-cache", str(cache), "--judge-retries", str(RETRIES),
            "--judge-backoff", "0", "--judge-timeout", "1", "--judge-concurrency", "8"]


def _judgments(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "judge.jsonl").read_text().splitlines()]


def _cached_replies(cache: Path) -> list[str]:
    return [json.loads(f.read_text())["reply"] for f in cache.rglob("*.json")]


def _parses(reply: str) -> bool:
    return any(parse(reply).ok for parse in (parse_pairwise, parse_rubric, parse_refusal))


@pytest.mark.parametrize("fault", FAULTS)
def test_judge_fault_is_survived_counted_and_healed_by_the_next_pass(fault, answered, clean, harness_cli, tmp_path):
    judge = FaultyJudge(fault, selects=every_fifth, hang_s=3.0, retry_after_s=1)
    cache = tmp_path / "cache"
    with serving(judge) as url:
        code, out, err = harness_cli("rescore", answered, *_judge(url, cache), "--runs-dir", tmp_path / "runs")
        assert code == 0, err  # the pass finished
        run = only_run_dir(tmp_path / "runs")
        summary = load_json(run / "summary.json")

        # retried within the limit (transport faults), asked once otherwise
        assert judge.faulted, "the fault never applied: pick another selector"
        want = RETRIES + 1 if fault in RETRIED else 1
        assert {judge.attempts[p] for p in judge.faulted} == {want}
        if fault == "http_429_after":  # the retry waited for Retry-After (1 s) although backoff is 0
            assert all(t[1] - t[0] >= 0.9 for t in (judge.arrivals[p] for p in judge.faulted))

        # every judgment the fault touched is unscored with its reason, counted by kind
        failed = [j for j in _judgments(run) if j["status"] != "ok"]
        assert failed and all(REASON[fault] in _errors(j) for j in failed), failed[0]
        tasks = summary["judge"]["tasks"]
        assert {kind for t in tasks.values() for kind in t["errors"]} == {KIND[fault]}
        assert sum(t["errors"][KIND[fault]] for t in tasks.values() if t["errors"]) == len(failed)
        scored = {(r.role, r.task, r.id): r.scores for r in RunDir(run).scored()}
        what = "parse failure" if KIND[fault] == "parse_failure" else "judge error"
        for j in failed:
            entries = [e for sid, e in scored[(j["role"], j["task"], j["id"])].items() if _by_judge(sid, j["kind"])]
            assert entries and all(e.value is None and e.reason.startswith(f"unscored: {what}: ") for e in entries), j
        report = (run / "report.md").read_text()
        assert f"{KIND[fault]} " in report and "unscored: " in report
        assert f"by kind: {KIND[fault]}" in out
        # the cache holds good replies only, one per prompt that got one
        replies = _cached_replies(cache)
        assert replies and all(_parses(r) for r in replies)
        assert len(replies) == len(set(judge.attempts) - judge.faulted)

        # the server recovers: the next pass asks exactly the failed prompts again, each once
        judge.recover()
        asked_before = dict(judge.attempts)
        code, _, err = harness_cli("run", "--resume", run)
        assert code == 0, err
        again = {p: n - asked_before.get(p, 0) for p, n in judge.attempts.items() if n != asked_before.get(p, 0)}
        assert set(again) == judge.faulted and set(again.values()) == {1}

    healed = load_json(run / "summary.json")
    assert all(not t["errors"] for t in healed["judge"]["tasks"].values())
    assert healed["metrics"] == clean["metrics"]
    assert healed["judge"]["pairwise"] == clean["judge"]["pairwise"]
    assert all(_parses(r) for r in _cached_replies(cache))


def _by_judge(score_id: str, kind: str) -> bool:
    return score_id.startswith({"rubric": "rubric_", "pairwise": "judge_", "refusal": "judge_refusal"}[kind])


def _errors(judgment: dict) -> str:
    return str(judgment.get("error"))
