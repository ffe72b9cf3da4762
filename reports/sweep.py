"""`harness sweep` in the terminal: the plan (--dry-run) and the ranking table."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.lab.sweep_plan import SweepPlan
from harness.lab.sweep_results import SweepResults, VariantResult
from reports.cells import delta_cell, number


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    minutes, s = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{s:02d}s"


def print_plan(plan: SweepPlan, rows: list[dict], out: Path, per_step: float | None, console: Console) -> None:
    table = Table(title=f"sweep plan ({plan.kind}), ranked by {plan.metric}: nothing is run (--dry-run)")
    for col in ("variant", "sets", "resolved config", "output dir", "steps", "est. time", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["variant"], r["sets"], r["config"], r["out"], "-" if r["steps"] is None else str(r["steps"]),
                      duration(r["est_s"]), r["status"])
    console.print(table)
    known = [r["est_s"] for r in rows if r["est_s"]]
    if per_step:
        console.print(f"est. time: {duration(sum(known))} in all, at {per_step:.1f} s per step (training and rescoring; "
                      "measured on this sweep's finished variants, or --step-seconds)")
    else:
        console.print("est. time: unknown until a variant has run here (it is then measured per step), "
                      "or give --step-seconds S")
    if plan.smoke_steps:
        console.print(f"--smoke: every variant first trains {plan.smoke_steps} steps; one whose loss does not fall is stopped")
    console.print(f"sweep directory: {out}")


def value_ci(m: dict | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    if not m.get("ci"):
        return number(m["value"])
    return f"{number(m['value'])} [{number(m['ci'][0])}, {number(m['ci'][1])}]"


def params(n: int | None) -> str:
    return "-" if not n else f"{n / 1e6:.2f}M" if n >= 1e5 else f"{n:,}"


def variant_cells(v: VariantResult, results: SweepResults) -> list[str]:
    stats = v.stats or {}
    best = min(v.evals, key=lambda p: p[1]) if v.evals else None
    delta, verdict = delta_cell(v.delta, results.higher_is_better) if v.delta else ("reference" if v is results.reference else "-", "")
    if v.not_comparable:
        delta = "not comparable"
    tps = stats.get("tokens_per_second")
    return [
        ", ".join(f"{k}={val}" for k, val in v.overrides.items()),
        params(stats.get("trainable_parameters")),
        "-" if not tps else f"{tps:,.0f}",
        "-" if not v.smoothed else number(v.smoothed[-1][1]),
        "-" if not best else f"{number(best[1])} @{best[0]}",
        (v.diagnosis or {}).get("kind", "-"),
        value_ci(v.metric),
        delta + (f" ({verdict})" if verdict else ""),
    ]


HEADER = ["changed", "trainable", "tokens/s", "train loss (avg)", "best eval loss", "curve", "{metric} [95% CI]", "Δ vs first [95% CI]"]


def print_results(results: SweepResults, console: Console) -> None:
    arrow = "↑" if results.higher_is_better else "↓"
    table = Table(title=f"sweep {results.path}: variants ranked by {results.metric} {arrow}")
    table.add_column("#")
    table.add_column("variant", style="bold")
    for col in HEADER:
        table.add_column(col.format(metric=results.metric))
    for i, v in enumerate(results.ranked(), 1):
        if v.metric and v.metric.get("value") is not None:
            table.add_row(str(i), v.name, *variant_cells(v, results))
        else:
            table.add_row("-", v.name, ", ".join(f"{k}={val}" for k, val in v.overrides.items()),
                          *[""] * (len(HEADER) - 3), v.status, v.note or "")
    console.print(table)
    for s in results.plan.stages:
        if s.winner:
            console.print(f"stage {s.parameter}: winner [bold]{s.winner}[/bold] ({s.why})", highlight=False)
    console.print("[dim]Δ: paired delta [bootstrap 95% CI] over the samples both final runs scored; (better/worse) when "
                  "significant: exact sign test on the flipped samples for pass/fail metrics, the CI excluding 0 for graded ones "
                  "(from 10 pairs up). "
                  "tokens/s: non-padding tokens per second of optimizer steps (evaluation and rescoring excluded)[/dim]")
