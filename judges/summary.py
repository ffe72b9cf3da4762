"""summary.json's `judge` section, from judge.jsonl: requests, cache hits, errors and parse
failures per task, and every failed judgment counted by kind (`errors`: rate_limited,
server_error, timeout, connection, invalid_response, parse_failure, ...); pairwise win / tie / loss with 95% CIs and swap agreement; the judge vs the
built-in refusal classifier (raw agreement, Cohen's kappa)."""

from __future__ import annotations

import re

import numpy as np

from harness.stats import bootstrap_ci, is_pass_fail, wilson_ci
from judges.agreement import agreement_stats
from judges.scorers import JUDGE_ERROR, OK, PARSE_FAILURE


# What went wrong with a judgment, from its status and error text (the texts come from
# harness/models/openai_client.py and judges/client.py; pairwise errors are prefixed with the order).
ERROR_KINDS = (
    ("rate_limited", re.compile(r"HTTP 429\b")),
    ("server_error", re.compile(r"HTTP 5\d\d\b")),
    ("http_error", re.compile(r"HTTP \d{3}\b")),  # 400 bad request, 401 key, 404 model: not retried
    ("timeout", re.compile(r"\btimeout\b|timed out", re.IGNORECASE)),
    ("connection", re.compile(r"connection error", re.IGNORECASE)),
    ("gave_up", re.compile(r"\bgave up\b")),
    ("invalid_response", re.compile(r"no choices|JSONDecodeError|not valid JSON|Validation", re.IGNORECASE)),
)


def error_kind(row: dict) -> str | None:
    """None for a judgment that worked; else parse_failure, or the kind of judge error above (other)."""
    if row["status"] == OK:
        return None
    if row["status"] == PARSE_FAILURE:
        return "parse_failure"
    text = row.get("error") or ""
    return next((kind for kind, pattern in ERROR_KINDS if pattern.search(text)), "other")


def _share(indicator: list[float]) -> dict:
    if not indicator:
        return {"value": None, "ci": None}
    x = np.array(indicator, float)
    if is_pass_fail(x, np.ones_like(x)):  # a proportion (win share, swap agreement): Wilson, never [1, 1]
        return {"value": float(x.mean()), "ci": list(wilson_ci(float(x.sum()), len(x)))}
    return {"value": float(x.mean()), "ci": list(bootstrap_ci(x))}  # win rate: ties count half


def pairwise_stats(rows: list[dict]) -> dict:
    scored = [r for r in rows if r["status"] == OK]
    outcomes = [r["verdict"] for r in scored]
    return {
        "n": len(scored),
        "unscored": len(rows) - len(scored),
        "win": outcomes.count("win"), "tie": outcomes.count("tie"), "loss": outcomes.count("loss"),
        "win_share": _share([float(o == "win") for o in outcomes]),
        "tie_share": _share([float(o == "tie") for o in outcomes]),
        "loss_share": _share([float(o == "loss") for o in outcomes]),
        "win_rate": _share([{"win": 1.0, "tie": 0.5, "loss": 0.0}[o] for o in outcomes]),  # ties count half
        "swap_agreement": _share([float(r["swap_agreement"]) for r in scored]),
    }


def refusal_agreement(rows: list[dict]) -> dict:
    pairs = [(r["verdict"], r["builtin"]) for r in rows if r["status"] == OK and r.get("builtin")]
    binary = [("refused" if j != "compliance" else "complied", "refused" if b != "compliance" else "complied") for j, b in pairs]
    return {
        "labels": agreement_stats([j for j, _ in pairs], [b for _, b in pairs]),
        "binary": agreement_stats([j for j, _ in binary], [b for _, b in binary]),
    }


def all_unscored(rows: list[dict] | None) -> str | None:
    """When not one judgment of a run worked: what went wrong, counted by kind (e.g. "24 connection");
    else None. Such a run's judge metrics say nothing."""
    if not rows or any(error_kind(r) is None for r in rows):
        return None
    kinds: dict[str, int] = {}
    for r in rows:
        kinds[error_kind(r)] = kinds.get(error_kind(r), 0) + 1
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))


def judge_summary(rows: list[dict], config_judge: dict | None) -> dict:
    cfg = config_judge or {}
    out = {"endpoint": cfg.get("endpoint"), "model": cfg.get("model"), "tasks": {}, "pairwise": {}, "refusal_agreement": {}}
    for row in rows:
        t = out["tasks"].setdefault(row["task"], {"judgments": 0, "requests": 0, "cache_hits": 0,
                                                 "judge_errors": 0, "parse_failures": 0, "errors": {}})
        t["judgments"] += 1
        t["requests"] += row.get("requests", 0)
        t["cache_hits"] += row.get("cached", 0)
        t["judge_errors"] += row["status"] == JUDGE_ERROR
        t["parse_failures"] += row["status"] == PARSE_FAILURE
        kind = error_kind(row)
        if kind:
            t["errors"][kind] = t["errors"].get(kind, 0) + 1
    for task in out["tasks"]:
        pairwise = [r for r in rows if r["task"] == task and r["kind"] == "pairwise"]
        if pairwise:
            out["pairwise"][task] = pairwise_stats(pairwise)
        refusals = [r for r in rows if r["task"] == task and r["kind"] == "refusal"]
        if refusals:
            out["refusal_agreement"][task] = refusal_agreement(refusals)
    return out
