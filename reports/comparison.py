"""`harness compare`: the paired metric table and the samples that flipped, as Rich tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.results.compare import Comparison, Flip
from reports.cells import SIGNIFICANCE_RULE, delta_cell, metric_cell


def short(text: str | None, limit: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flip_change(flip: Flip) -> str:
    return f"{flip.pass_fail(flip.before)} -> {flip.pass_fail(flip.after)}"


def print_comparison(comparison: Comparison, console: Console, max_flips: int = 20) -> None:
    a, b = comparison.a, comparison.b
    console.print(f"[bold]A[/bold] {a.source}\n[bold]B[/bold] {b.source}")
    if comparison.export_note:
        console.print(f"[bold]What the export cost[/bold]: {comparison.export_note}", highlight=False)
    for side, snap in (("A", a), ("B", b)):
        if snap.rescored_from:
            source = snap.rescored_from.get("run") or snap.rescored_from.get("baseline")
            console.print(f"{side} was rescored from {source} (same answers, today's scorers)")
    for change in comparison.scorer_changes:
        console.print(f"[yellow]scorer changed[/yellow] {change}", highlight=False)
    for difference in comparison.allowed_differences:
        console.print(f"[yellow]made differently (--allow-different)[/yellow] {difference}", highlight=False)
    table = Table(title=f"{b.suite_name} ({comparison.role}): B - A on the samples both scored")
    for col in ("metric", "A", "B", "delta (B - A) [95% CI]", "significant"):
        table.add_column(col, style="bold" if col == "metric" else None)
    for m in comparison.metrics:
        text, verdict = delta_cell(m.delta, m.higher_is_better, (m.a, m.b))
        style = {"better": "green", "worse": "red"}.get(verdict)
        significant = "-" if m.delta["value"] is None else (f"yes, {verdict}" if verdict else "no")
        arrow = "↑" if m.higher_is_better else "↓"
        table.add_row(f"{m.name} {arrow}", metric_cell(m.a), metric_cell(m.b),
                      f"[{style}]{text}[/{style}]" if style else text, significant)
    console.print(table)
    console.print(f"[dim]delta [paired bootstrap 95% CI] over shared samples; {SIGNIFICANCE_RULE}[/dim]")
    print_flips(comparison.flips, console, max_flips)


def print_flips(flips: list[Flip], console: Console, max_flips: int) -> None:
    if not flips:
        console.print("No sample flipped between pass and fail.")
        return
    worse = sum(f.worse for f in flips)
    table = Table(title=f"Flipped samples: {worse} pass -> fail, {len(flips) - worse} fail -> pass")
    for col in ("metric", "sample", "change", "prompt"):
        table.add_column(col)
    shown: dict[str, int] = {}
    for f in flips:
        shown[f.metric] = shown.get(f.metric, 0) + 1
        if shown[f.metric] > max_flips:
            continue
        style = "red" if f.worse else "green"
        table.add_row(f.metric, f"{f.task}/{f.id}", f"[{style}]{flip_change(f)}[/{style}]", short(f.prompt))
    console.print(table)
    cut = sum(max(0, n - max_flips) for n in shown.values())
    if cut:
        console.print(f"[dim]{cut} more flipped samples not shown (--max-flips {max_flips} per metric)[/dim]")
