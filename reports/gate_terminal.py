"""`harness gate` in the terminal: one PASS/FAIL line per gated metric with the rule that decided it."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from harness.results.gate import GateResult, metrics_count


def print_gate(result: GateResult, console: Console) -> None:
    against = f" against {result.baseline}" if result.baseline else ""
    # soft_wrap: long paths and reasons stay on one line (grep-able in CI logs)
    console.print(f"[bold]Gate[/bold] {result.run} ({result.role}){against}, policy {result.policy}", soft_wrap=True)
    for difference in result.allowed_differences:
        console.print(f"[yellow]made differently (--allow-different)[/yellow] {escape(difference)}", highlight=False, soft_wrap=True)
    width = max(len(v.metric) for v in result.verdicts)
    for v in result.verdicts:
        mark = "[green]PASS[/green]" if v.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {v.metric:<{width}}  {escape(v.reason)}", highlight=False, soft_wrap=True)
    if result.not_run:
        console.print(f"[dim]not gated: {metrics_count(len(result.not_run))} of tasks this run did not run "
                      f"({escape(', '.join(result.not_run))})[/dim]", highlight=False, soft_wrap=True)
    failed = sum(not v.passed for v in result.verdicts)
    if failed:
        console.print(f"[bold red]gate failed:[/bold red] {failed} of {metrics_count(len(result.verdicts))}")
    else:
        console.print(f"[bold green]gate passed:[/bold green] {metrics_count(len(result.verdicts))}")
