"""report.md: the metric table and the side-by-side answers of `side_by_side` tasks."""

from __future__ import annotations

from reports.cells import delta_cell, metric_cell


def escape(text: str, limit: int = 400) -> str:
    text = (text or "").strip()
    if len(text) > limit:
        text = text[:limit] + " …"
    return text.replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def metrics_table(summary: dict) -> list[str]:
    roles = summary["roles"]
    head = ["metric"] + roles + (["delta (ckpt - base)"] if len(roles) == 2 else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, entry in summary["metrics"].items():
        arrow = "↑" if entry["higher_is_better"] else "↓"
        row = [f"{name} {arrow}"] + [metric_cell(entry.get(r)) for r in roles]
        if len(roles) == 2:
            text, verdict = delta_cell(entry.get("delta"), entry["higher_is_better"])
            row.append(f"**{text}** ({verdict})" if verdict else text)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def side_by_side(task_name: str, records: list[dict], roles: list[str]) -> list[str]:
    by_id: dict[str, dict[str, dict]] = {}
    for r in records:
        if r["task"] == task_name:
            by_id.setdefault(r["id"], {})[r["role"]] = r
    lines = [f"## {task_name}: answers side by side", ""]
    lines.append("| id | prompt | " + " | ".join(roles) + " |")
    lines.append("|---|---|" + "---|" * len(roles))
    for sid in sorted(by_id):
        rows = by_id[sid]
        prompt = next(iter(rows.values()))["prompt"]
        cells = [escape(rows[r]["output"]) if r in rows else "" for r in roles]
        lines.append(f"| {sid} | {escape(prompt, 200)} | " + " | ".join(cells) + " |")
    return lines + [""]


def unscored_list(records: list[dict]) -> list[str]:
    rows = [
        f"- {r['role']} {r['task']}/{r['id']} {sid}: {s['reason']}"
        for r in records
        for sid, s in r.get("scores", {}).items()
        if s["value"] is None
    ]
    return (["## Unscored", ""] + rows + [""]) if rows else []


def render_report(summary: dict, suite, records: list[dict]) -> str:
    lines = [f"# {summary['suite']} report", ""]
    for role, model in summary["models"].items():
        lines.append(f"- **{role}**: `{model}`")
    lines += [f"- suite version: `{summary['suite_version']}`", "", "## Metrics", ""]
    lines += ["Value [95% bootstrap CI] and n per model; ↑ higher is better, ↓ lower is better.", ""]
    lines += metrics_table(summary) + [""]
    for task in suite.tasks.values():
        if task.side_by_side:
            lines += side_by_side(task.name, records, summary["roles"])
    lines += unscored_list(records)
    return "\n".join(lines)
