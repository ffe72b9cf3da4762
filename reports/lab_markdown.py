"""report.md of a graded lab report: renders on GitHub (relative image paths, tables, folded
long answers), and is the source report.html is made from (reports/lab_html.py).

The student's own discussion goes between `<!-- answer:ID -->` and `<!-- /answer:ID -->` (invisible
once rendered); `written_sections` reads it back, for grading and for carrying it over when the
report is made again.
"""

from __future__ import annotations

import html
import re

from harness.lab.grading import BY_HAND, COMPLETE, JUDGED, Grade, Rubric
from harness.lab.evidence import LabEvidence
from harness.lab.findings import Finding
from harness.records import SampleRecord
from harness.lab.sweep_results import SweepResults
from reports.cells import delta_cell, metric_cell, number
from reports.markdown import metrics_table

PLACEHOLDER = "_Write your answer here (replace this line)._"
FOLD_AT = 280  # longer answers are folded: the first part shows, the whole answer opens on click
_ANSWER = re.compile(r"<!-- answer:([\w.-]+) -->\n(.*?)\n?<!-- /answer:\1 -->", re.DOTALL)


def written_sections(markdown: str) -> dict[str, str]:
    """item id -> the student's text (the placeholder counts as nothing written)."""
    out = {}
    for m in _ANSWER.finditer(markdown):
        text = m.group(2).strip()
        out[m.group(1)] = "" if text in ("", PLACEHOLDER) else text
    return out


def cell(text: str) -> str:
    """Text for a Markdown table cell: HTML-escaped (a model's `<script>` stays text), pipes
    escaped, line breaks as <br>."""
    return html.escape(text.strip(), quote=False).replace("|", "\\|").replace("\r", "").replace("\n", "<br>")


def answer_cell(record: SampleRecord | None) -> str:
    if record is None:
        return "*(no answer)*"
    text = record.output or ""
    cut = ""
    if record.finish_reason == "length":
        n = f" ({record.completion_tokens} tokens)" if record.completion_tokens else ""
        cut = f"✂ *cut at max_new_tokens{n}* "
    if not text.strip():
        return cut + "*(empty answer)*"
    if len(text) <= FOLD_AT:
        return cut + cell(text)
    head = text[:120].rsplit(" ", 1)[0] if " " in text[:120] else text[:120]
    return (f"{cut}<details><summary>{cell(head)} … <i>({len(text)} characters: open)</i></summary>"
            f"{cell(text)}</details>")


def _judge_cell(base: SampleRecord | None, ckpt: SampleRecord | None) -> str:
    parts = []
    pair = (ckpt.scores if ckpt else {}).get("judge_pairwise")
    if pair is not None:
        parts.append(f"fine-tuned vs base: **{pair.label or 'unscored'}**" + ("" if pair.value is not None else f" ({cell(pair.reason)})"))
    for role, rec in (("base", base), ("fine-tuned", ckpt)):
        rubric = {k[len("rubric_"):]: v for k, v in (rec.scores if rec else {}).items() if k.startswith("rubric_")}
        if rubric:
            parts.append(f"{role} rubric: " + ", ".join(f"{d.replace('_', ' ')} {'-' if e.value is None else f'{e.value:g}'}"
                                                     for d, e in rubric.items()))
    return "<br>".join(parts) or "-"


def prompt_table(ev: LabEvidence) -> list[str]:
    answers = ev.run.answers(ev.prompts_task)
    judged = any("judge_pairwise" in r.scores or any(k.startswith("rubric_") for k in r.scores)
                 for rows in answers.values() for r in rows.values())
    head = "| id | prompt | base | fine-tuned |" + (" judge |" if judged else "")
    lines = [head, "|---|---|---|---|" + ("---|" if judged else "")]
    for p in ev.prompts:
        rows = answers.get(p["id"], {})
        row = f"| {p['id']} | {cell(p['prompt'] or '')} | {answer_cell(rows.get('base'))} | {answer_cell(rows.get('ckpt'))} |"
        if judged:
            row += f" {_judge_cell(rows.get('base'), rows.get('ckpt'))} |"
        lines.append(row)
    if not judged:
        lines += ["", "No judge verdicts: the run was made without `--judge` (add it to `harness run` for pairwise "
                      "verdicts and 1-10 rubric scores)."]
    return lines


def trajectory_table(scores: list[dict], headline: dict[str, str]) -> list[str]:
    names = [n for n in headline if any(n in s.get("metrics", {}) for s in scores)]
    if not scores or not names:
        return []
    lines = ["| step | profile | " + " | ".join(headline[n] for n in names) + " |", "|---|---|" + "---|" * len(names)]
    for s in scores:
        cells = []
        for n in names:
            m = s["metrics"].get(n)
            if not m or m.get("ckpt") is None:
                cells.append("")
                continue
            ci = m.get("ckpt_ci")
            text = number(m["ckpt"]) + (f" [{number(ci[0])}, {number(ci[1])}]" if ci else "")
            if m.get("delta") is not None:
                text += f" (Δ {m['delta']:+.3f}{', significant' if m.get('significant') else ''})"
            cells.append(text)
        lines.append(f"| {s['step'] if s.get('step') is not None else 'final'} | {s.get('profile', '')} | " + " | ".join(cells) + " |")
    return lines


def _value_ci(m: dict | None) -> str:
    if not m or m.get("value") is None:
        return "-"
    if not m.get("ci"):
        return number(m["value"]) + " (no CI)"
    return f"{number(m['value'])} [{number(m['ci'][0])}, {number(m['ci'][1])}]"


def sweep_section(s: SweepResults, prompts: list[dict], task: str, plot: str | None, source: str) -> list[str]:
    keys = s.changed_keys()
    lines = [f"Sweep `{source}` ({s.plan.kind}), {len(s.variants)} variants of `{s.plan.config}`; ranked by "
             f"**{s.metric}** ({'higher' if s.higher_is_better else 'lower'} is better). "
             f"Changed: {', '.join(f'`{k}`' for k in keys) or 'nothing'}.", ""]
    for st in s.plan.stages:
        lines.append(f"- stage {st.parameter}: winner **{st.winner or '-'}** {('(' + st.why + ')') if st.why else ''}")
    if s.plan.stages:
        lines.append("")
    if plot:
        lines += [f"![Loss curves of every variant]({plot})", ""]
    ref = s.reference
    lines += ["| # | variant | changed | trainable params | tokens/s | train loss (avg, last) | best eval loss | curve | "
              f"{s.metric} [95% CI] | Δ vs {ref.name if ref else 'first'} [95% CI] |", "|---|---|---|---|---|---|---|---|---|---|"]
    for i, v in enumerate(s.ranked(), 1):
        changed = ", ".join(f"{k}={val}" for k, val in v.overrides.items())
        if not (v.metric and v.metric.get("value") is not None):
            lines.append(f"| - | {v.name} | {changed} | | | | | {v.status} | {cell(v.note) or '-'} | |")
            continue
        stats = v.stats or {}
        tp, tps = stats.get("trainable_parameters"), stats.get("tokens_per_second")
        best = min(v.evals, key=lambda p: p[1]) if v.evals else None
        text, verdict = delta_cell(v.delta, s.higher_is_better) if v.delta else ("reference" if v is ref else "-", "")
        if v.not_comparable:
            text = "not comparable"
        lines.append(f"| {i} | {v.name} | {changed} | {f'{tp:,}' if tp else '-'} | {f'{tps:,.0f}' if tps else '-'} | "
                     f"{number(v.smoothed[-1][1]) if v.smoothed else '-'} | {f'{number(best[1])} @{best[0]}' if best else '-'} | "
                     f"{(v.diagnosis or {}).get('kind', '-')} | {_value_ci(v.metric)} | "
                     f"{text}{f' **{verdict}**' if verdict else ''} |")
    lines += ["", "Δ: the paired bootstrap difference over the samples both final runs scored; **better** / **worse** "
                  "when significant (exact sign test on the flipped samples for a pass/fail metric, the 95% CI excluding 0 "
                  "for a graded one, from 10 pairs up), otherwise not significant. tokens/s counts non-padding "
                  "tokens over optimizer steps only.", ""]
    done = [v for v in s.ranked() if v.snapshot is not None]
    names = []
    for v in done:
        names += [n for n in v.metrics if n not in names]
    if done and names:
        lines += ["### Final-suite scores per variant", "", "value [95% CI] n, and Δ vs the first variant where significant.", "",
                  "| metric | " + " | ".join(v.name for v in done) + " |", "|---|" + "---|" * len(done)]
        for n in names:
            row = []
            for v in done:
                m = v.metrics.get(n) or {}
                text = metric_cell(m) if "value" in m else ""
                d = m.get("delta")
                if d and d.get("significant"):
                    text += f" (Δ {d['value']:+.3f}, significant)"
                row.append(text)
            lines.append(f"| {n} | " + " | ".join(row) + " |")
        lines.append("")
        lines += ["### How the 10 answers changed", "", "The fine-tuned answer of each variant to each lab prompt.", "",
                  "| id | prompt | " + " | ".join(v.name for v in done) + " |", "|---|---|" + "---|" * len(done)]
        by_variant = {v.name: {r.id: r for r in v.snapshot.records if r.task == task and r.role == "ckpt"} for v in done}
        changed_n = 0
        for p in prompts:
            outs = [by_variant[v.name].get(p["id"]) for v in done]
            changed_n += len({(o.output if o else None) for o in outs}) > 1
            lines.append(f"| {p['id']} | {cell(p['prompt'] or '')} | " + " | ".join(answer_cell(o) for o in outs) + " |")
        lines += ["", f"{changed_n} of {len(prompts)} answers differ between the variants.", ""]
    return lines


def grade_section(g: Grade) -> list[str]:
    lines = [f"Rubric `{g.rubric}` (sha256 `{g.rubric_sha256[:16]}`). Evidence items score full points when the piece is "
             "present, complete and consistent, zero otherwise; written items are graded by the judge (with `--judge`) "
             "or by hand.", "",
             "| item | points | earned | status | evidence, and what is missing or inconsistent |", "|---|---|---|---|---|"]
    for i in g.items:
        earned = "-" if i.earned is None else f"{i.earned:g}"
        status = {COMPLETE: "✅ complete", JUDGED: "judged", BY_HAND: "⏳ to be graded by hand"}.get(i.status, f"❌ {i.status}")
        notes = [f"missing: {m}" for m in i.missing] + [f"inconsistent: {m}" for m in i.inconsistent] + i.evidence
        if i.reason:
            notes.append(i.reason)
        pts = f"{i.points:g}" + (" (bonus)" if i.bonus else "")
        lines.append(f"| {cell(i.title)} | {pts} | {earned} | {status} | {'<br>'.join(cell(n) for n in notes) or '-'} |")
    lines += ["", f"**Evidence: {g.evidence_earned:g} / {g.evidence_max:g}.** Total so far: {g.earned:g} / {g.maximum:g}"
                  + (f", with {g.pending:g} points of written analysis to be graded by hand." if g.pending else "."), ""]
    lines += ["### Tamper evidence", "",
              f"The grade was computed from copies of the run files in `evidence/` (re-grade with `harness grade <this folder>`, "
              f"which also checks every file against the sha256 below). Digest of all {len(g.files)} files: `{g.digest}`.", "",
              "<details><summary>sha256 of every graded file</summary>", "",
              "| file | sha256 |", "|---|---|"]
    lines += [f"| `{name}` | `{h}` |" for name, h in sorted(g.files.items())]
    return lines + ["", "</details>", ""]


def render_lab_report(ev: LabEvidence, rubric: Rubric, g: Grade, found: list[Finding], written: dict[str, str], *,
                      plots: dict[str, str], version: str, created: str) -> str:
    lines = [f"# {rubric.title}", "", f"Lab report made by sft-harness {version} on {created}.", "", "| part | from |", "|---|---|"]
    for part, label in (("train", "training directory"), ("run", "scored run"), ("sweep", "sweep directory")):
        lines.append(f"| {label} | {f'`{ev.sources[part]}`' if part in ev.sources else 'not given'} |")
    if ev.run:
        ckpt = (ev.run.config.get("models") or {}).get("checkpoint") or {}
        lines.append(f"| base model | `{ckpt.get('model', '-')}` |")
        lines.append(f"| fine-tuned adapter | `{ckpt.get('adapter') or ckpt.get('spec') or '-'}` |")
    lines += ["", f"**Grade: {g.evidence_earned:g} / {g.evidence_max:g} evidence points**"
              + (f"; written analysis {g.pending:g} points to be graded by hand" if g.pending else "")
              + f" ([details](#5-grade)).", ""]

    lines += ["## 1. Training loss curve", ""]
    t = ev.training
    if t is None or t.summary is None:
        lines += ["*Missing: no finished training directory was given (`--train DIR`, the output_dir of `harness train`).*", ""]
    else:
        if plots.get("training"):
            lines += [f"![Training loss and checkpoint scores]({plots['training']})", ""]
        d = t.summary.get("diagnosis") or {}
        lines += [f"**Diagnosis: {d.get('kind', '-')}.** {cell(d.get('message', ''))}", "",
                  "Top: the per-batch train loss (faint), its moving average (what the diagnosis reads) and the eval "
                  "loss. Below, on the same steps: the scores of every rescored checkpoint with 95% CIs; dashed lines "
                  "are the base model's scores, stars the final adapter's full-suite scores.", ""]
        stats = t.summary.get("stats") or {}
        if stats.get("trainable_parameters"):
            tps = stats.get("tokens_per_second")
            lines += [f"Trainable parameters: {stats['trainable_parameters']:,} of {stats.get('total_parameters', 0):,}"
                      + (f"; {tps:,.0f} tokens/s over optimizer steps." if tps else "."), ""]
        traj = trajectory_table(t.checkpoint_scores, t.summary.get("headline") or {})
        if traj:
            lines += ["### Scores of every rescored checkpoint", "", "value [95% CI] (Δ vs base)", ""] + traj + [""]

    lines += [f"## 2. The {len(ev.prompts)} prompts: base vs fine-tuned", ""]
    if ev.run is None:
        lines += ["*Missing: no scored run of the fine-tuned adapter (`--run RUN_DIR`, or a `--train` directory whose final "
                  "adapter was scored).*", ""]
    else:
        gen = (((ev.run.config.get("suite") or {}).get("tasks") or {}).get(ev.prompts_task) or {}).get("generation") or {}
        lines += [f"Run `{ev.sources.get('run', ev.run.path)}`; {'greedy decoding' if not gen.get('temperature') else 'sampled'}, at most "
                  f"{gen.get('max_new_tokens', '?')} new tokens. Long answers are folded (click to open the whole answer); "
                  "✂ marks an answer stopped by the token limit.", ""]
        lines += prompt_table(ev) + [""]
        if ev.run.summary:
            lines += ["### Scores of the final adapter", "",
                      "Value [95% bootstrap CI] and n per model; ↑ higher is better, ↓ lower is better.", ""]
            lines += metrics_table(ev.run.summary) + [""]

    lines += ["## 3. Hyperparameter experiment", ""]
    if ev.sweep is None:
        lines += ["*Missing: no sweep was given.* Fill this section by training variants that change one parameter and "
                  "making the report again with the sweep:", "", "```bash",
                  "harness sweep --config CONFIG.yaml --grid learning_rate=2e-5,2e-4 --out sweeps/lr",
                  "harness report --lab lab1 --train TRAIN_DIR --sweep sweeps/lr --out REPORT_DIR", "```", ""]
    else:
        lines += sweep_section(ev.sweep, ev.prompts, ev.prompts_task, plots.get("sweep"), ev.sources.get("sweep", ev.sweep.path))

    lines += ["## 4. Analysis", "", "### What the data shows", ""]
    lines += [f"- **{f.topic}.** {cell(f.text)}" for f in found] or ["- (no scored run: nothing to state)"]
    lines += ["", "### Your discussion", "",
              "Write each answer between its two marker lines (they are invisible once rendered), then make the report "
              "again (`harness report ... --out` this folder keeps what you wrote) or hand in the folder.", ""]
    for item in rubric.written_items:
        lines += [f"#### {item.title} ({item.points:g} points{', bonus' if item.bonus else ''})", "", f"*{item.question}*", "",
                  f"<!-- answer:{item.id} -->", written.get(item.id) or PLACEHOLDER, f"<!-- /answer:{item.id} -->", ""]

    lines += ["## 5. Grade", ""] + grade_section(g)
    return "\n".join(lines)
