"""The lab report and its grade in the terminal (Rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from harness.lab.grading import BY_HAND, COMPLETE, JUDGED, Grade
from harness.lab.findings import Finding

STYLE = {COMPLETE: "green", JUDGED: "cyan", BY_HAND: "yellow"}


def print_grade(g: Grade, console: Console, title: str) -> None:
    table = Table(title=title)
    for col in ("item", "points", "earned", "status", "why"):
        table.add_column(col, overflow="fold")
    for i in g.items:
        style = STYLE.get(i.status, "red")
        why = (i.missing + i.inconsistent)[:2] or ([i.reason] if i.reason else i.evidence[:1])
        table.add_row(i.title, f"{i.points:g}" + (" bonus" if i.bonus else ""), "-" if i.earned is None else f"{i.earned:g}",
                      f"[{style}]{i.status}[/{style}]", "; ".join(why))
    console.print(table)
    line = f"[bold]evidence {g.evidence_earned:g} / {g.evidence_max:g}[/bold], total so far {g.earned:g} / {g.maximum:g}"
    if g.pending:
        line += f", [yellow]{g.pending:g} points to be graded by hand[/yellow]"
    console.print(line)


def print_lab_report(g: Grade, found: list[Finding], paths: dict[str, str], console: Console, title: str) -> None:
    print_grade(g, console, f"{title}: grade")
    for f in found[:6]:
        console.print(f"[bold]{f.topic}[/bold]: {f.text}", highlight=False)
    console.print(f"Report: [bold]{paths['md']}[/bold] and [bold]{paths['html']}[/bold] (self-contained, hand it in); "
                  f"grade: {paths['grade']}")
    console.print(f"[dim]graded files: {len(g.files)}, digest {g.digest[:16]}… (re-grade: harness grade {paths['folder']})[/dim]")


def print_regrade(g: Grade, tamper: dict[str, list[str]], handed_in: dict | None, console: Console, folder: str) -> None:
    print_grade(g, console, f"re-grade of {folder}")
    if handed_in is not None:
        before = f"{handed_in.get('evidence_earned', 0):g} / {handed_in.get('evidence_max', 0):g}"
        same = abs(handed_in.get("evidence_earned", -1) - g.evidence_earned) < 1e-9
        console.print(f"handed-in grade: evidence {before}" + ("" if same else " [red](differs from this re-grade)[/red]"))
    if any(tamper.values()):
        for kind, files in tamper.items():
            for f in files:
                console.print(f"[red]TAMPERED[/red] {kind}: evidence/{f}", highlight=False)
    else:
        console.print(f"[green]evidence intact[/green]: every graded file matches the sha256 the report recorded ({len(g.files)} files)")
