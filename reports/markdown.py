"""report.md: the metric table, the side-by-side answers of `side_by_side` tasks, and (runs with
--judge) the judge's section."""

from __future__ import annotations

from harness.records import SampleRecord
from harness.thinking import thinking_warning
from reports.cells import delta_cell, metric_cell, number


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
            text, verdict = delta_cell(entry.get("delta"), entry["higher_is_better"], tuple(entry.get(r) for r in roles))
            row.append(f"**{text}** ({verdict})" if verdict else text)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def side_by_side(task_name: str, records: list[SampleRecord], roles: list[str]) -> list[str]:
    by_id: dict[str, dict[str, SampleRecord]] = {}
    for r in records:
        if r.task == task_name:
            by_id.setdefault(r.id, {})[r.role] = r
    lines = [f"## {task_name}: answers side by side", ""]
    lines.append("| id | prompt | " + " | ".join(roles) + " |")
    lines.append("|---|---|" + "---|" * len(roles))
    for sid in sorted(by_id):
        rows = by_id[sid]
        prompt = next(iter(rows.values())).prompt
        cells = [escape(rows[r].output) if r in rows else "" for r in roles]
        lines.append(f"| {sid} | {escape(prompt, 200)} | " + " | ".join(cells) + " |")
    return lines + [""]


def unscored_list(records: list[SampleRecord]) -> list[str]:
    rows = [
        f"- {r.role} {r.task}/{r.id} {sid}: {s.reason}"
        for r in records
        for sid, s in r.scores.items()
        if s.value is None
    ]
    return (["## Unscored", ""] + rows + [""]) if rows else []


def _ci(entry: dict) -> str:
    if not entry or entry.get("value") is None:
        return "no data"
    lo, hi = entry["ci"]
    return f"{number(entry['value'])} [{number(lo)}, {number(hi)}]"


def _agreement(stats: dict) -> str:
    if not stats["n"]:
        return "no data"
    lo, hi = stats["agreement_ci"]
    kappa = "undefined (one label only)" if stats["kappa"] is None else number(stats["kappa"])
    if stats["kappa_ci"]:
        kappa += f" [{number(stats['kappa_ci'][0])}, {number(stats['kappa_ci'][1])}]"
    return f"raw agreement {number(stats['agreement'])} [{number(lo)}, {number(hi)}], Cohen's kappa {kappa}, n={stats['n']}"


def _verdict_text(row: dict) -> str:
    if row["status"] != "ok":
        return f"unscored: {row['status'].replace('_', ' ')}"
    v = row["verdict"]
    if row["kind"] == "rubric":
        return ", ".join(f"{d} {s}" for d, s in v.items())
    return str(v)


def _differs_from_builtin(row: dict) -> bool:
    return bool(row.get("builtin")) and (row["verdict"] == "compliance") != (row["builtin"] == "compliance")


def error_kinds_text(errors: dict[str, int]) -> str:
    """'server_error 3, timeout 1': a judge's failed judgments by kind, most frequent first."""
    return ", ".join(f"{kind} {n}" for kind, n in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])))


def judge_section(summary: dict, judgments: list[dict]) -> list[str]:
    j = summary["judge"]
    lines = ["## Judge", "", f"Judge `{j['model']}` at `{j['endpoint']}`.", ""]
    lines += ["| task | judgments | requests | cache hits | judge errors | parse failures | failures by kind |",
              "|---|---|---|---|---|---|---|"]
    for task, t in j["tasks"].items():
        lines.append(f"| {task} | {t['judgments']} | {t['requests']} | {t['cache_hits']} | {t['judge_errors']} | "
                     f"{t['parse_failures']} | {error_kinds_text(t.get('errors') or {}) or '-'} |")
    lines.append("")
    for task, p in j["pairwise"].items():
        lines += [f"### {task}: checkpoint vs base, judged in both orders", ""]
        lines.append(f"win / tie / loss: **{p['win']} / {p['tie']} / {p['loss']}** of {p['n']} judged"
                     + (f" ({p['unscored']} unscored)" if p["unscored"] else ""))
        lines += ["", "| outcome | share [95% CI] |", "|---|---|"]
        for key in ("win", "tie", "loss"):
            lines.append(f"| {key} | {_ci(p[key + '_share'])} |")
        lines += ["", f"- win rate (a tie counts half): {_ci(p['win_rate'])}",
                  f"- position-swap agreement: {_ci(p['swap_agreement'])}; a verdict that flips with the order counts as a tie", ""]
    for task, a in j["refusal_agreement"].items():
        lines += [f"### {task}: judge vs built-in refusal classifier", "",
                  f"- labels (full / partial refusal, compliance): {_agreement(a['labels'])}",
                  f"- refused or not: {_agreement(a['binary'])}", ""]
    order = {"pairwise": 0, "rubric": 1, "refusal": 2}
    ranked = sorted(judgments, key=lambda r: (r["task"], r["id"], order.get(r["kind"], 3), r["role"]))
    shown = [r for r in ranked if r["kind"] != "refusal" or r["status"] != "ok" or _differs_from_builtin(r)]
    if shown:
        lines += ["### Verdicts and reasons", "",
                  "Pairwise and rubric verdicts; refusal verdicts only where the judge and the built-in classifier differ.", "",
                  "| task | id | role | kind | verdict | reason |", "|---|---|---|---|---|---|"]
        for r in shown:
            reason = r.get("reason") or r.get("error") or ""
            if r["kind"] == "refusal" and r.get("builtin"):
                reason = f"built-in: {r['builtin']}; {reason}"
            lines.append(f"| {r['task']} | {r['id']} | {r['role']} | {r['kind']} | {escape(_verdict_text(r), 120)} | {escape(reason, 300)} |")
        lines.append("")
    failed = [r for r in judgments if r["status"] == "parse_failure"]
    if failed:
        lines += ["### Parse failures (raw judge output)", ""]
        for r in failed:
            raws = [o.get("raw") for o in r["orders"].values()] if "orders" in r else [r.get("raw")]
            raw = " ⏐ ".join(escape(x or "", 200) for x in raws)
            lines.append(f"- {r['task']}/{r['id']} {r['role']} {r['kind']}: {r['error']}; raw: `{raw}`")
        lines.append("")
    return lines


def render_report(summary: dict, suite, records: list[SampleRecord], judgments: list[dict] | None = None) -> str:
    lines = [f"# {summary['suite']} report", ""]
    for role, model in summary["models"].items():
        lines.append(f"- **{role}**: `{model}`")
    lines += [f"- suite version: `{summary['suite_version']}`", "", "## Metrics", ""]
    lines += ["Value [95% CI: Wilson for pass/fail rates, bootstrap otherwise] and n per model; "
              "↑ higher is better, ↓ lower is better.", ""]
    lines += metrics_table(summary) + [""]
    if warning := thinking_warning(summary):
        lines += [f"**{warning}**", ""]
    for task in suite.tasks.values():
        if task.side_by_side:
            lines += side_by_side(task.name, records, summary["roles"])
    if judgments is not None and "judge" in summary:
        lines += judge_section(summary, judgments)
    lines += unscored_list(records)
    return "\n".join(lines)
