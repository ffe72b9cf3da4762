"""Agreement between two raters: raw agreement and Cohen's kappa, with bootstrap 95% CIs.

`harness judge-agreement A B` compares two verdict files: a run's judge.jsonl (or the run
directory), or a human-labelled JSONL file with rows

    {"task": "compare10", "id": "p03", "kind": "pairwise", "verdict": "win"}
    {"task": "safety", "id": "s01", "role": "base", "kind": "refusal", "verdict": "full_refusal"}
    {"task": "compare10", "id": "p03", "kind": "rubric:fluency", "verdict": 7}

(`role` defaults to ckpt). A judge.jsonl rubric row counts as one item per dimension
(`rubric:<dimension>`); refusal items are also compared as refused-or-not (`refusal:binary`).
Items unscored in either file, or present in one only, are counted, not compared.

Kappa = (p_o - p_e) / (1 - p_e); undefined (None) when both raters use one and the same label.
Unweighted: on 1-10 rubric scores, 7 vs 8 is a disagreement.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from harness.errors import HarnessError
from harness.io.jsonl import read_jsonl
from harness.stats import DEFAULT_RESAMPLES, cohen_kappa  # noqa: F401  (cohen_kappa: kept importable here)

Item = tuple[str, str, str, str]  # task, id, role, kind


def agreement_stats(a: list, b: list, *, seed: int = 0, n_resamples: int = DEFAULT_RESAMPLES) -> dict:
    """{n, agreement, agreement_ci, kappa, kappa_ci} over paired labels."""
    n = len(a)
    out = {"n": n, "agreement": None, "agreement_ci": None, "kappa": None, "kappa_ci": None}
    if n == 0:
        return out
    labels = sorted({*map(str, a), *map(str, b)})
    code = {k: i for i, k in enumerate(labels)}
    ia = np.array([code[str(x)] for x in a])
    ib = np.array([code[str(x)] for x in b])
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    A, B = ia[idx], ib[idx]
    agree = (A == B).mean(axis=1)
    pa = np.stack([(A == k).mean(axis=1) for k in range(len(labels))], axis=1)
    pb = np.stack([(B == k).mean(axis=1) for k in range(len(labels))], axis=1)
    p_e = (pa * pb).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kappas = np.where(p_e < 1.0, (agree - p_e) / (1 - p_e), np.nan)
    out["agreement"] = float((ia == ib).mean())
    out["agreement_ci"] = [float(q) for q in np.quantile(agree, [0.025, 0.975])]
    out["kappa"] = cohen_kappa(a, b)
    if out["kappa"] is not None and not np.isnan(kappas).all():
        out["kappa_ci"] = [float(q) for q in np.nanquantile(kappas, [0.025, 0.975])]
    return out


# ---- verdict files ---------------------------------------------------------------------------
def _verdict_file(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        if not (p / "judge.jsonl").is_file():
            raise HarnessError(f"{p}: no judge.jsonl (was the run made with --judge?)")
        return p / "judge.jsonl"
    return p


def read_verdicts(path: str) -> tuple[dict[Item, object], int]:
    """(item -> verdict, number of unscored items) from a judge.jsonl or a labelled file."""
    file = _verdict_file(path)
    items: dict[Item, object] = {}
    unscored = 0
    for row in read_jsonl(file, what="verdict file"):
        where = f"{file}:{row['__line__']}"
        missing = [k for k in ("task", "id", "kind") if k not in row]
        if missing or "verdict" not in row:
            need = ", ".join(missing + ([] if "verdict" in row else ["verdict"]))
            raise HarnessError(f"{where}: a verdict row needs task, id, kind and verdict (missing: {need})")
        base = (str(row["task"]), str(row["id"]), str(row.get("role") or "ckpt"))
        verdict = row["verdict"]
        if row.get("status", "ok") != "ok" or verdict is None:
            unscored += 1
            continue
        if row["kind"] == "rubric" and isinstance(verdict, dict):
            for dim, score in verdict.items():
                items[(*base, f"rubric:{dim}")] = score
            continue
        key = (*base, str(row["kind"]))
        if key in items:
            raise HarnessError(f"{where}: a second verdict for {'/'.join(key)}; each item once")
        items[key] = verdict
        if row["kind"] == "refusal":
            items[(*base, "refusal:binary")] = "refused" if verdict != "compliance" else "complied"
    return items, unscored


def compare_files(path_a: str, path_b: str) -> dict:
    a, unscored_a = read_verdicts(path_a)
    b, unscored_b = read_verdicts(path_b)
    shared = sorted(set(a) & set(b))
    if not shared:
        raise HarnessError(f"{path_a} and {path_b} share no scored item (task, id, role, kind); "
                           "are they verdicts on the same run's samples?")
    kinds: dict[str, list[Item]] = {}
    for item in shared:
        kinds.setdefault(item[3], []).append(item)
    per_kind = {kind: agreement_stats([a[i] for i in its], [b[i] for i in its]) for kind, its in sorted(kinds.items())}
    return {"a": str(path_a), "b": str(path_b), "kinds": per_kind, "only_a": len(set(a) - set(b)),
            "only_b": len(set(b) - set(a)), "unscored_a": unscored_a, "unscored_b": unscored_b}
