"""What `harness data build` and `harness data check` print."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

MAX_PROBLEMS_SHOWN = 20


def print_build(report, out: str, console: Console) -> None:
    """The counts per source and stage, reject reasons, warnings and the output directory."""
    table = Table(title=f"data build: {report.recipe} (seed {report.seed}, {report.mode})")
    columns = ["source", "weight", "read", "rejected", "normalized", "dup", "dup across", "near-dup dropped",
               "unique", "sampled", "train", "validation"]
    if not any(s.near_dropped for s in report.sources):
        columns.remove("near-dup dropped")
    for name in columns:
        table.add_column(name, justify="left" if name == "source" else "right")
    total = {k: 0 for k in columns[2:]}
    for s in report.sources:
        values = {"read": s.read, "rejected": s.rejected, "normalized": s.normalized, "dup": s.duplicates,
                  "dup across": s.cross_duplicates, "near-dup dropped": s.near_dropped, "unique": s.unique,
                  "sampled": s.sampled, "train": s.train, "validation": s.validation}
        for k in total:
            total[k] += values[k]
        table.add_row(s.name, f"{s.weight:.3f}", *(str(values[k]) for k in columns[2:]))
    table.add_row("total", "1.000", *(str(total[k]) for k in columns[2:]), style="bold")
    console.print(table)
    for s in report.sources:
        if s.reasons:
            reasons = "; ".join(f"{n} {reason}" for reason, n in sorted(s.reasons.items(), key=lambda kv: (-kv[1], kv[0])))
            console.print(f"rejected in {s.name}: {reasons}", highlight=False)
    if report.near_duplicate_clusters is not None:
        console.print(f"near-duplicates: {report.near_duplicate_clusters} clusters covering {report.near_duplicate_rows} rows "
                      f"(near_duplicates.jsonl)", highlight=False)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
    extra = " and rejects.jsonl (every rejected row with its reason)" if any(s.rejected for s in report.sources) else ""
    console.print(f"wrote {report.train} train / {report.validation} validation rows to {out}/{extra}", highlight=False)


def print_check(report, console: Console) -> None:
    console.print(f"checked {report.rows} rows in {', '.join(report.files)}", highlight=False)
    if report.problems:
        console.print(f"[bold red]{len(report.problems)} rows with problems[/bold red]:")
        for where, what in report.problems[:MAX_PROBLEMS_SHOWN]:
            console.print(f"  {where}: {what}", highlight=False)
        if len(report.problems) > MAX_PROBLEMS_SHOWN:
            console.print(f"  ... and {len(report.problems) - MAX_PROBLEMS_SHOWN} more")
    if report.audit is not None:
        from harness.models.mask_audit import summary_lines

        console.print("[bold]mask audit[/bold] (the template and mask training uses):")
        for line in summary_lines(report.audit):
            console.print(f"  {line}", highlight=False)
    s = report.lengths
    if s is None:
        return
    table = Table(title="tokens per conversation (chat template applied)")
    for name in ("rows", "mean", "median", "p95", "max", f"> max_length {s.max_length}", "recommended max_length"):
        table.add_column(name, justify="right")
    table.add_row(str(s.rows), f"{s.mean:.1f}", f"{s.median:.0f}", f"{s.p95:.0f}", str(s.max),
                  f"{s.truncated} ({s.truncated_share:.1%})", str(s.recommended_max_length))
    console.print(table)
    if s.untrained:
        console.print(f"[yellow]warning:[/yellow] {s.untrained} rows have no assistant token within max_length "
                      f"{s.max_length}: they would train nothing", highlight=False)
    console.print(f"recommended max_length {s.recommended_max_length}: the 95th percentile ({s.p95:.0f} tokens) "
                  "rounded up to a power of two", highlight=False)
