"""The classifier-vs-human-labels table `harness score` prints when the answers carry labels."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from reports.cells import number


def agreement_cell(stats: dict) -> str:
    """'0.950 [0.910, 0.980]  κ 0.890 [0.820, 0.950]' (dashes where undefined)."""
    def with_ci(value, ci):
        return number(value) + (f" [{number(ci[0])}, {number(ci[1])}]" if ci else "")

    return f"{with_ci(stats['agreement'], stats['agreement_ci'])}  κ {with_ci(stats['kappa'], stats['kappa_ci'])}"


def print_label_agreement(summary: dict, console: Console) -> None:
    sections = summary.get("label_agreement") or {}
    for name, entry in sections.items():
        table = Table(title=f"{name} vs human labels: agreement [95% CI]  Cohen's κ [95% CI]")
        for column in ("", "n", "3-class (full / partial / compliance)", "binary (refused or not)"):
            table.add_column(column)
        table.add_row("all", str(entry["n"]), agreement_cell(entry["labels"]), agreement_cell(entry["binary"]))
        for field, groups in entry["by"].items():
            for value, sub in groups.items():
                table.add_row(f"{field}={value}", str(sub["n"]), agreement_cell(sub["labels"]), agreement_cell(sub["binary"]))
        console.print(table)
        confusion = entry["confusion"]
        labels = list(confusion)
        matrix = Table(title=f"{name}: confusion (rows: human label, columns: classifier)")
        matrix.add_column("human \\ classifier")
        for label in labels:
            matrix.add_column(label)
        for human in labels:
            matrix.add_row(human, *(str(confusion[human][c]) for c in labels))
        console.print(matrix)
        if entry["unscored"]:
            console.print(f"[yellow]{entry['unscored']} labelled answers unscored by {name} (not compared)[/yellow]")
