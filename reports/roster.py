"""A class roster drawn: roster.md (its report.html twin is made by reports/lab_html.py), the
distribution plots, roster.json, and the terminal lines of `harness grade DIR --class`."""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.lab.roster import GRADED, TAMPERED, Roster, item_points, tamper_status
from reports.lab_markdown import cell
from reports.plots import _pyplot

TOTALS_PNG, ITEMS_PNG = "roster_totals.png", "roster_items.png"


def _num(x) -> str:
    return "–" if x is None else f"{x:g}" if isinstance(x, (int, float)) and float(x).is_integer() else f"{x:.1f}"


# ---- plots -------------------------------------------------------------------------------------
def plot_roster(roster: Roster, out: Path) -> dict[str, str]:
    """roster_totals.png (the totals' histogram) and roster_items.png (a panel per item); none
    when nothing was graded."""
    for name in (TOTALS_PNG, ITEMS_PNG):
        (out / name).unlink(missing_ok=True)
    if not roster.graded:
        return {}
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    totals, top = roster.totals, roster.maximum
    fig, ax = plt.subplots(figsize=(8, 3.2))
    bins = _bins(max(top, max(totals)))
    ax.hist(totals, bins=bins, color="tab:blue", edgecolor="white")
    mean = sum(totals) / len(totals)
    ax.axvline(mean, color="tab:orange", linestyle="--", label=f"mean {mean:.1f}")
    ax.set_xlabel(f"total points (of {top:g}; points still graded by hand count 0 here)")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Totals of {len(totals)} graded submissions")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(out / TOTALS_PNG, dpi=90)
    plt.close(fig)

    items = roster.items
    cols = min(3, len(items))
    rows = -(-len(items) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.6 * rows), squeeze=False)
    for ax, s in zip([a for row in axes for a in row], items):
        if s.values:
            ax.hist(s.values, bins=_bins(s.points), color="tab:green" if s.written else "tab:blue", edgecolor="white")
        label = f"mean {s.mean:.1f}" if s.mean is not None else "no points yet"
        ax.set_title(f"{s.id} ({s.points:g}{' bonus' if s.bonus else ''}): {label}"
                     + (f", {s.by_hand} by hand" if s.by_hand else ""), fontsize=9)
        ax.set_xlim(-0.5, s.points + 0.5)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of submissions
        ax.tick_params(labelsize=8)
    for ax in [a for row in axes for a in row][len(items):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(out / ITEMS_PNG, dpi=90)
    plt.close(fig)
    return {"totals": TOTALS_PNG, "items": ITEMS_PNG}


def _bins(top: float) -> list[float]:
    step = max(1.0, round(top / 20))
    edges, x = [], -step / 2
    while x <= top + step:
        edges.append(x)
        x += step
    return edges


# ---- roster.md ---------------------------------------------------------------------------------
def render_roster(roster: Roster, plots: dict[str, str]) -> str:
    r = roster
    ids = [i.id for i in r.rubric.items]
    lines = [f"# {r.rubric.title}: class roster", "",
             f"Rubric `{r.rubric.name}` (sha256 {r.rubric.sha256[:12]}…), made {time.strftime('%Y-%m-%d %H:%M:%S %z')}. "
             f"{len(r.rows)} submissions: **{len(r.graded)} graded**, **{len(r.errors)} not graded**, "
             f"**{len(r.tampered)} with changed evidence**, **{len(r.flags)} flag(s)** across submissions.", "",
             "Flags are for a person to look at: they never change a grade. Points still to be graded by hand "
             "show as – and count 0 in the totals.", ""]

    lines += ["## Distribution", ""]
    if plots:
        lines += [f'<img src="{plots["totals"]}" alt="distribution of the totals">', "",
                  f'<img src="{plots["items"]}" alt="distribution of each item">', ""]
    lines += ["| item | points | mean | graded | by hand | min | max |", "|---|---:|---:|---:|---:|---:|---:|"]
    for s in r.items:
        lines.append(f"| {cell(s.title)} (`{s.id}`) | {s.points:g}{' bonus' if s.bonus else ''} | {_num(s.mean)} | "
                     f"{len(s.values)} | {s.by_hand} | {_num(min(s.values) if s.values else None)} | "
                     f"{_num(max(s.values) if s.values else None)} |")
    if r.totals:
        lines.append(f"| **total** | {r.maximum:g} | {_num(sum(r.totals) / len(r.totals))} | {len(r.totals)} | | "
                     f"{_num(min(r.totals))} | {_num(max(r.totals))} |")
    lines.append("")

    lines += ["## Grades", "", "| student | " + " | ".join(ids) + " | total | evidence | flags |",
              "|---|" + "---:|" * len(ids) + "---:|---|---|"]
    for row in r.rows:
        flags = "; ".join(f"{f.kind} with {next(s for s in f.students if s != row['student'])}"
                          for f in r.flags_of(row["student"]))
        if row["status"] != GRADED:
            lines.append(f"| {cell(row['student'])} | " + " | ".join("" for _ in ids)
                         + f" | | **not graded**: see below | {cell(flags)} |")
            continue
        got = item_points(row)
        status = tamper_status(row)
        shown = "intact" if status == "intact" else f"**{TAMPERED}** (see below)"
        lines.append(f"| {cell(row['student'])} | " + " | ".join(_num(got.get(i)) for i in ids)
                     + f" | {_num(row['earned'])} / {_num(row['maximum'])} | {shown} | {cell(flags)} |")
    lines.append("")

    lines += ["## Flags across submissions", ""]
    if r.flags:
        lines += ["| students | check | evidence |", "|---|---|---|"]
        lines += [f"| {cell(', '.join(f.students))} | {f.kind} | {cell(f.evidence)} |" for f in r.flags]
    else:
        lines.append("No two submissions share an evidence digest, adapter weights, a training log, their answers "
                     "or a written analysis.")
    lines.append("")

    lines += ["## Changed evidence", ""]
    if r.tampered:
        lines += ["The evidence copies below differ from the sha256 their report recorded (the grade is made from "
                  "what is there now).", "", "| student | changed | missing | added |", "|---|---|---|---|"]
        for row in r.tampered:
            t = row["tamper"]
            lines.append(f"| {cell(row['student'])} | " + " | ".join(cell(", ".join(t.get(k) or [])) for k in
                                                                     ("changed", "missing", "added")) + " |")
    else:
        lines.append("Every graded submission's evidence matches the sha256 its report recorded.")
    lines.append("")

    lines += ["## Not graded", ""]
    if r.errors:
        lines += ["| student | handed in | why |", "|---|---|---|"]
        lines += [f"| {cell(row['student'])} | `{cell(row.get('source', ''))}` | {cell(row.get('error', ''))} |"
                  for row in r.errors]
    else:
        lines.append("Every submission was graded.")
    lines.append("")

    lines += _judge_section(r)
    lines += _item_details(r)
    return "\n".join(lines).rstrip() + "\n"


def _judge_section(r: Roster) -> list[str]:
    if r.judge is None:
        return ["## Written items", "", "No judge was given (`--judge`): the written items are left to a person "
                "(their points show as –).", ""]
    u = r.judge
    lines = ["## Judge", "",
             f"{u['asked']} written answers asked: {u['requests']} HTTP requests (retries included), {u['cached']} "
             f"replies from the cache, {u['errors']} failed; {u['prompt_tokens']} prompt and {u['completion_tokens']} "
             "completion tokens as the endpoint reported them.", ""]
    for item in r.rubric.written_items:
        lines += [f"<details><summary>{cell(item.title)} (<code>{item.id}</code>): the judge's reasons</summary>", "",
                  "| student | points | reason |", "|---|---:|---|"]
        for row in r.graded:
            got = next((i for i in row["grade"]["items"] if i["id"] == item.id), None)
            if got is not None:
                lines.append(f"| {cell(row['student'])} | {_num(got['earned'])} / {got['points']:g} | "
                             f"{cell(got.get('reason') or got['status'])} |")
        lines += ["", "</details>", ""]
    return lines


def _item_details(r: Roster) -> list[str]:
    """Per submission, what each evidence item lacked (the roster's reasons for a zero)."""
    lines = ["## What the evidence items found", ""]
    shown = False
    for row in r.graded:
        notes = [f"`{i['id']}` {i['status']}: {'; '.join((i.get('missing') or []) + (i.get('inconsistent') or []))[:400]}"
                 for i in row["grade"]["items"] if i["kind"] == "evidence" and i["status"] != "complete"]
        if notes:
            shown = True
            lines += [f"- **{cell(row['student'])}**: " + " — ".join(cell(n) for n in notes)]
    if not shown:
        lines.append("Every evidence item of every graded submission is complete.")
    lines.append("")
    return lines


def roster_json(roster: Roster) -> dict:
    return {"rubric": roster.rubric.name, "rubric_sha256": roster.rubric.sha256, "maximum": roster.maximum,
            "submissions": len(roster.rows), "graded": len(roster.graded), "not_graded": len(roster.errors),
            "tampered": [r["student"] for r in roster.tampered],
            "items": [{"id": s.id, "points": s.points, "bonus": s.bonus, "mean": s.mean, "graded": len(s.values),
                       "by_hand": s.by_hand} for s in roster.items],
            "flags": [f.to_dict() for f in roster.flags],
            "errors": [{"student": r["student"], "source": r.get("source"), "error": r.get("error")} for r in roster.errors],
            "judge": roster.judge}


# ---- terminal ----------------------------------------------------------------------------------
def print_progress(row: dict, n: int, total: int, console: Console) -> None:
    if row["status"] == GRADED:
        status = tamper_status(row)
        tail = "[green]intact[/green]" if status == "intact" else f"[red]{status}[/red]"
        pending = f" (+{row['pending_by_hand']:g} by hand)" if row["pending_by_hand"] else ""
        console.print(f"[{n}/{total}] {row['student']}: {row['earned']:g} / {row['maximum']:g}{pending}, {tail}",
                      highlight=False)
    else:
        console.print(f"[{n}/{total}] {row['student']}: [red]not graded[/red]: {row['error']}", highlight=False)


def print_roster(roster: Roster, out: Path, console: Console) -> None:
    table = Table(title=f"{roster.rubric.title}: {len(roster.rows)} submissions")
    for col in ("student", "total", "evidence", "flags / why not graded"):
        table.add_column(col, overflow="fold")
    for row in roster.rows:
        flags = "; ".join(f"{f.kind} with {next(s for s in f.students if s != row['student'])}"
                          for f in roster.flags_of(row["student"]))
        if row["status"] != GRADED:
            table.add_row(row["student"], "-", "[red]not graded[/red]", row.get("error", ""))
            continue
        status = tamper_status(row)
        table.add_row(row["student"], f"{row['earned']:g} / {row['maximum']:g}",
                      "[green]intact[/green]" if status == "intact" else f"[red]{status}[/red]", f"[yellow]{flags}[/yellow]")
    console.print(table)
    console.print(f"Roster: [bold]{out / 'roster.md'}[/bold], [bold]{out / 'roster.html'}[/bold] (self-contained); "
                  f"grades: {out / 'grades.csv'}", highlight=False)
    if roster.judge is not None:
        u = roster.judge
        console.print(f"judge: {u['requests']} requests, {u['cached']} cached, {u['errors']} failed, "
                      f"{u['prompt_tokens']} + {u['completion_tokens']} tokens", highlight=False)
