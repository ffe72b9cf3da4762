"""The Rich table printed at the end of a run."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from reports.cells import delta_cell, metric_cell
from reports.markdown import error_kinds_text


def print_summary(summary: dict, console: Console) -> None:
    roles = summary["roles"]
    table = Table(title=f"{summary['suite']}: value [95% CI] n", show_lines=False)
    table.add_column("metric", style="bold")
    for role in roles:
        table.add_column(role)
    if len(roles) == 2:
        table.add_column("delta (ckpt - base)")
    for name, entry in summary["metrics"].items():
        arrow = "↑" if entry["higher_is_better"] else "↓"
        row = [f"{name} {arrow}"] + [metric_cell(entry.get(role)) for role in roles]
        if len(roles) == 2:
            text, verdict = delta_cell(entry.get("delta"), entry["higher_is_better"])
            style = {"better": "green", "worse": "red"}.get(verdict)
            row.append(f"[{style}]{text}[/{style}]" if style else text)
        table.add_row(*row)
    console.print(table)
    console.print("[dim]↑ higher is better, ↓ lower is better; delta in green/red when its 95% CI excludes 0[/dim]")


def print_judge(summary: dict, console: Console) -> None:
    """A few lines under the table: the pairwise outcome and any judge trouble."""
    j = summary.get("judge")
    if not j:
        return
    for task, p in j["pairwise"].items():
        rate = metric_cell(dict(p["win_rate"], n=p["n"]))
        swap = p["swap_agreement"]["value"]
        console.print(f"[bold]{task}[/bold] judge {j['model']}: ckpt vs base win/tie/loss {p['win']}/{p['tie']}/{p['loss']}, "
                      f"win rate {rate}, swap agreement {'-' if swap is None else f'{swap:.2f}'}")
    trouble = {t: s for t, s in j["tasks"].items() if s["judge_errors"] or s["parse_failures"]}
    for task, s in trouble.items():
        kinds = error_kinds_text(s.get("errors") or {})
        console.print(f"[yellow]judge trouble in {task}: {s['judge_errors']} judge errors, {s['parse_failures']} "
                      f"parse failures of {s['judgments']} judgments (unscored; see report.md)"
                      f"{f'; by kind: {kinds}' if kinds else ''}[/yellow]")


def print_run(summary: dict, run_path, console: Console) -> None:
    """The end of a run in the terminal: the metric table, the judge's part, the thinking warning
    and where the files are."""
    from harness.thinking import thinking_warning

    print_summary(summary, console)
    print_judge(summary, console)
    if warning := thinking_warning(summary):
        console.print(f"[yellow]{warning}[/yellow]", highlight=False)
    console.print(f"Run directory: [bold]{run_path}[/bold]  (report.md, summary.json, samples.jsonl, scores.jsonl)")
