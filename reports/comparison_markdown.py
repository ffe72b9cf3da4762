"""`harness compare --out FILE`: the comparison as Markdown (the terminal's tables, for a report.md)."""

from __future__ import annotations

from harness.results.compare import Comparison
from reports.cells import delta_cell, metric_cell
from reports.comparison import flip_change, short


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def comparison_markdown(comparison: Comparison, max_flips: int = 20) -> str:
    a, b = comparison.a, comparison.b
    title = "What the export cost" if comparison.export_note else "Comparison"
    lines = [f"# {title}: {b.suite_name} ({comparison.role})", "",
             f"- A: `{a.source}`", f"- B: `{b.source}`"]
    if comparison.export_note:
        lines.append(f"- {comparison.export_note}")
    lines += [f"- scorer changed: {c}" for c in comparison.scorer_changes]
    lines += [f"- made differently (--allow-different): {d}" for d in comparison.allowed_differences]
    lines += ["", "| metric | A | B | delta (B - A) [95% CI] | significant |", "|---|---|---|---|---|"]
    for m in comparison.metrics:
        text, verdict = delta_cell(m.delta, m.higher_is_better)
        significant = "-" if m.delta["value"] is None else (f"yes, {verdict}" if verdict else "no")
        arrow = "↑" if m.higher_is_better else "↓"
        lines.append(f"| {m.name} {arrow} | {metric_cell(m.a)} | {metric_cell(m.b)} | {text} | {significant} |")
    lines += ["", "Paired bootstrap over the samples both runs scored; significant when the 95% CI excludes 0.", ""]
    flips = comparison.flips
    if not flips:
        lines.append("No sample flipped between pass and fail.")
        return "\n".join(lines) + "\n"
    worse = sum(f.worse for f in flips)
    lines += [f"## Flipped samples: {worse} pass -> fail, {len(flips) - worse} fail -> pass", "",
              "| metric | sample | change | prompt |", "|---|---|---|---|"]
    shown: dict[str, int] = {}
    for f in flips:
        shown[f.metric] = shown.get(f.metric, 0) + 1
        if shown[f.metric] <= max_flips:
            lines.append(f"| {f.metric} | {f.task}/{f.id} | {flip_change(f)} | {_cell(short(f.prompt))} |")
    cut = sum(max(0, n - max_flips) for n in shown.values())
    if cut:
        lines += ["", f"{cut} more flipped samples not shown (--max-flips {max_flips} per metric)."]
    return "\n".join(lines) + "\n"
