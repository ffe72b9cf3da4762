"""The gate's Markdown summary, fit for a CI job summary ($GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from harness.results.gate import GateResult, metrics_count
from reports.comparison import flip_change
from reports.markdown import escape

MAX_REGRESSIONS = 20


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def _delta(delta: dict | None) -> str:
    if not delta or delta["value"] is None:
        return "-"
    lo, hi = delta["ci"]
    text = f"{delta['value']:+.4g} [{lo:+.4g}, {hi:+.4g}]"
    if delta.get("p_value") is not None:
        text += f" p={delta['p_value']:.2g}"
    return text + (f" {delta['note']}" if delta.get("note") else "")


def render_gate_markdown(result: GateResult) -> str:
    failed = [v for v in result.verdicts if not v.passed]
    head = (f"## ❌ Gate failed: {len(failed)} of {metrics_count(len(result.verdicts))}" if failed
            else f"## ✅ Gate passed: {metrics_count(len(result.verdicts))}")
    lines = [head, "", f"- run: `{result.run}` (model: {result.role})"]
    if result.baseline:
        lines.append(f"- baseline: `{result.baseline}`")
    lines += [f"- policy: `{result.policy}`"]
    if result.not_run:
        lines.append(f"- not gated: {metrics_count(len(result.not_run))} of tasks this run did not run "
                     f"({escape(', '.join(result.not_run), 300)})")
    lines += [f"- ⚠️ made differently from the baseline (allowed with --allow-different): {escape(d, 300)}"
              for d in result.allowed_differences]
    lines += [""]
    lines += ["| | metric | value | baseline | delta [95% CI] | rule |", "|---|---|---|---|---|---|"]
    for v in result.verdicts:
        arrow = "↑" if v.higher_is_better else "↓"
        lines.append(f"| {'✅' if v.passed else '❌'} | {v.metric} {arrow} | {_num(v.value)} | {_num(v.baseline)} "
                     f"| {_delta(v.delta)} | {escape(v.reason, 300)} |")
    if result.regressions:
        lines += ["", f"### Samples that went pass -> fail ({len(result.regressions)})", ""]
        lines += ["| metric | sample | change | prompt |", "|---|---|---|---|"]
        for f in result.regressions[:MAX_REGRESSIONS]:
            lines.append(f"| {f.metric} | {f.task}/{f.id} | {flip_change(f)} | {escape(f.prompt, 160)} |")
        if len(result.regressions) > MAX_REGRESSIONS:
            lines.append(f"\n{len(result.regressions) - MAX_REGRESSIONS} more not shown (`harness compare` lists them all).")
    return "\n".join(lines) + "\n"
