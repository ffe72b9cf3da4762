"""One function per page; each returns a whole HTML document (harness/view/html.py's shell).

`Links` makes the hrefs: the server's routes, or none in an exported file (one page, no server)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from harness.lab.sweep_results import SweepResults
from harness.lab.training_dir import TrainingDir, loss_points
from harness.results.compare import Comparison
from harness.view.discover import LAB, RUN, SWEEP, TRAINING, Entry
from harness.view.html import ci, esc, fmt, folded, line_chart, page
from harness.view.run_data import FAIL, PASS, UNSCORED, Row, RunView, SampleFilter


@dataclass
class Links:
    static: bool = False  # an exported file: no links to other pages

    def to(self, route: str, **params) -> str | None:
        if self.static:
            return None
        params = {k: str(v) for k, v in params.items() if v not in (None, "", False)}
        return f"{route}?{urlencode(params)}" if params else route

    def a(self, text: str, route: str, **params) -> str:
        href = self.to(route, **params)
        return esc(text) if href is None else f'<a href="{esc(href)}">{esc(text)}</a>'


# ---------------------------------------------------------------- the index
def index_page(entries: list[Entry], describe, links: Links) -> str:
    """describe(entry) -> dict of the columns of its kind (or {"error": ...} for an unreadable one)."""
    runs = [e for e in entries if e.kind == RUN]
    body = [f"<h1>Results ({len(runs)} runs)</h1>"]
    if runs:
        body.append('<form method="get" action="/compare"><table><tr><th>A</th><th>B</th><th>run</th><th>suite</th>'
                    "<th>model</th><th>adapter</th><th>date</th><th>headline metrics (ckpt, Δ vs base)</th><th>how it was made</th></tr>")
        for e in runs:
            d = describe(e)
            key = esc(str(e.path))
            radios = f'<td><input type="radio" name="a" value="{key}"></td><td><input type="radio" name="b" value="{key}"></td>'
            if "error" in d:
                body.append(f"<tr>{radios}<td>{esc(e.path)}</td><td colspan=6 class=muted>{esc(d['error'])}</td></tr>")
                continue
            body.append(f"<tr>{radios}<td>{links.a(e.path.name, '/run', dir=e.path)}</td><td>{esc(d['suite'])}</td>"
                        f"<td>{esc(d['model'])}</td><td>{esc(d['adapter'])}</td><td>{esc(d['date'])}</td>"
                        f"<td>{d['headline']}</td><td title=\"{esc(d['argv'])}\">{esc(d['how'])}</td></tr>")
        body.append('</table><button type="submit">compare A and B</button> '
                    '<span class="muted">deltas are B − A, paired over the samples both scored</span></form>')
    for kind, title in ((TRAINING, "Training directories"), (SWEEP, "Sweeps"), (LAB, "Lab reports")):
        found = [e for e in entries if e.kind == kind]
        if found:
            body.append(f"<h2>{title}</h2><ul>")
            body += [f"<li>{links.a(str(e.path), '/' + kind, dir=e.path)}</li>" for e in found]
            body.append("</ul>")
    if not entries:
        body.append('<p class="muted">No run directories, training directories, sweeps or lab reports found here.</p>')
    return page("sft-harness view", "".join(body))


def run_columns(view: RunView) -> dict:
    cfg = view.config
    ckpt = (cfg.get("models") or {}).get("checkpoint") or {}
    return {"suite": f"{(cfg.get('suite') or {}).get('name', '?')}", "model": ckpt.get("model") or "",
            "adapter": ckpt.get("adapter") or "", "date": cfg.get("created", ""), "headline": headline(view),
            "how": how_made(cfg), "argv": " ".join(map(str, cfg.get("argv") or []))}


def headline(view: RunView, limit: int = 4) -> str:
    if view.summary is None:
        return '<span class="muted">unfinished (no summary.json)</span>'
    out = []
    for name, m in list(view.summary.get("metrics", {}).items())[:limit]:
        role = "ckpt" if "ckpt" in m else next((r for r in view.roles if r in m), None)
        if role is None:
            continue
        delta = m.get("delta")
        d = f" ({delta['value']:+.3f})" if delta and delta.get("value") is not None else ""
        out.append(f"{esc(name)} {fmt(m[role].get('value'))}{esc(d)}")
    return "<br>".join(out)


def how_made(config: dict) -> str:
    inv = config.get("invocation")
    parts = []
    if config.get("rescored_from"):
        parts.append(f"rescored from {Path(str(config['rescored_from'].get('run', ''))).name}")
    if inv is None and not config.get("rescored_from"):
        parts.append("harness score (answers made elsewhere)")
    parts.append(f"backend {config.get('backend') or 'hf'}")
    if (config.get("judge") or {}).get("model"):
        parts.append(f"judge {config['judge']['model']}")
    inv = inv or {}
    if inv.get("gen"):
        parts.append("gen " + ", ".join(f"{k}={v}" for k, v in inv["gen"].items()))
    if inv.get("limit"):
        parts.append("limit " + ", ".join(f"{k}={v}" for k, v in inv["limit"].items()))
    if inv.get("no_base"):
        parts.append("no base")
    return "; ".join(parts)


# ---------------------------------------------------------------- a run
def metric_table(summary: dict | None, roles: list[str]) -> str:
    if summary is None:
        return '<p class="muted">The run did not finish (no summary.json): answers and scores so far are below.</p>'
    head = "".join(f"<th>{esc(r)} [95% CI]</th><th>n</th>" for r in roles)
    rows = [f"<table class=metrics><tr><th>metric</th><th></th>{head}<th>Δ ckpt − base [95% CI]</th></tr>"]
    for name, m in summary.get("metrics", {}).items():
        hib = m.get("higher_is_better", True)
        cells = []
        for r in roles:
            e = m.get(r)
            if not e:
                cells.append("<td class=muted>–</td><td></td>")
                continue
            uns = f' <span class="muted">({e["unscored"]} unscored)</span>' if e.get("unscored") else ""
            cells.append(f"<td class=num>{fmt(e.get('value'))} {ci(e.get('ci'))}{uns}</td><td class=num>{e.get('n', '')}</td>")
        cells.append(f"<td class=num>{delta_cell(m.get('delta'), hib)}</td>")
        rows.append(f"<tr><td>{esc(name)}</td><td>{'↑' if hib else '↓'}</td>{''.join(cells)}</tr>")
    rows.append("</table>")
    return "".join(rows)


def delta_cell(delta: dict | None, higher_is_better: bool) -> str:
    if not delta or delta.get("value") is None:
        return '<span class="muted">–</span>'
    cls = ""
    if delta.get("significant"):
        cls = "sig-good" if (delta["value"] > 0) == higher_is_better else "sig-bad"
    return f'<span class="{cls}">{delta["value"]:+.3f}</span> {ci(delta.get("ci"))} <span class="muted">n={delta.get("n", "")}</span>'


def run_header(view: RunView) -> str:
    cols = run_columns(view)
    suite = view.config.get("suite") or {}
    rows = [("suite", f"{suite.get('name', '?')} (version {suite.get('version', '?')})"), ("model", cols["model"]),
            ("adapter", cols["adapter"] or "–"), ("roles", ", ".join(view.roles)), ("created", cols["date"]),
            ("how it was made", cols["how"]), ("command", cols["argv"])]
    return "<table>" + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) + "</table>"


def filter_form(view: RunView, f: SampleFilter, links: Links) -> str:
    def select(name, options, current, blank):
        opts = [f'<option value="">{esc(blank)}</option>'] + [
            f'<option value="{esc(o)}"{" selected" if o == current else ""}>{esc(o)}</option>' for o in options]
        return f'<label>{esc(name)} <select name="{name}">{"".join(opts)}</select></label>'

    def box(name, label, on):
        return f'<label><input type="checkbox" name="{name}" value="1"{" checked" if on else ""}> {esc(label)}</label>'

    hidden = "" if links.static else f'<input type="hidden" name="dir" value="{esc(view.path)}"><input type="hidden" name="page" value="1">'
    return (f'<form id="filters" method="get" action="/run">{hidden}'
            + select("task", view.tasks, f.task, "every task") + select("scorer", view.scorers, f.scorer, "every scorer")
            + select("role", view.roles, f.role, "either model") + select("outcome", [PASS, FAIL], f.outcome, "pass or fail")
            + box("flipped", "flipped between base and ckpt", f.flipped) + box("unscored", "unscored", f.unscored)
            + box("cut", "cut at max_new_tokens", f.cut)
            + f'<label>text <input type="search" name="q" value="{esc(f.q)}" placeholder="prompt, answer, reason"></label>'
            + '<button type="submit">filter</button></form>')


def sample_section(row: Row) -> str:
    t = row.tokens()
    attrs = "".join(f' data-{k}="{esc(" ".join(sorted(v)))}"' for k, v in t.items())
    tags = "".join(f'<span class="tag">flipped: {esc(s)}</span>' for s in row.flipped)
    if t["cut"]:
        tags += f'<span class="tag">cut at max_new_tokens: {esc(", ".join(sorted(t["cut"])))}</span>'
    prompt = folded(row.prompt, "prompt") if row.prompt is not None else (
        f'<pre class="prompt">{esc(json.dumps(row.sample.get("messages", row.sample), ensure_ascii=False, indent=1)[:2000])}</pre>')
    sides = "".join(side_html(role, side) for role, side in row.sides.items())
    return (f'<section class="sample" id="{esc(row.anchor)}" data-task="{esc(row.task)}"{attrs}>'
            f"<h3>{esc(row.task)} / {esc(row.id)}{tags}</h3>{prompt}<div class=sides>{sides}</div></section>")


def side_html(role: str, side) -> str:
    rec = side.record
    meta = [f"finish: {rec.finish_reason}" if rec.finish_reason else "",
            f"{rec.completion_tokens} tokens" if rec.completion_tokens is not None else ""]
    if rec.nll_sum is not None:
        meta.append(f"NLL {rec.nll_sum:.3f} over {rec.n_tokens} tokens")
    if rec.unsupported:
        meta.append(rec.unsupported)
    out = [f'<div class="side {esc(role)}"><b>{esc(role)}</b> <span class="muted">{esc(rec.model)} · {esc(" · ".join(m for m in meta if m))}</span>']
    if rec.output is not None or rec.nll_sum is None:
        out.append(folded(rec.output))
    if rec.raw and rec.raw != rec.output:
        out.append(f'<details class="more"><summary>everything generated (thinking included)</summary>{folded(rec.raw)}</details>')
    if side.verdicts:
        out.append("<ul class=reasons>")
        for v in side.verdicts:
            cls = v.outcome or "num"
            label = v.entry.label or ("unscored" if v.entry.value is None else fmt(v.entry.value))
            value = "" if v.entry.value is None or v.entry.label is None else f" ({fmt(v.entry.value)})"
            name = v.scorer if v.score == v.scorer else f"{v.scorer}/{v.score}"
            out.append(f'<li><span class="v {cls}">{esc(name)}: {esc(label)}{esc(value)}{" · " + esc(v.outcome) if v.outcome in (PASS, FAIL) else ""}</span> '
                       f"{esc(v.entry.reason)}</li>")
        out.append("</ul>")
    for scorer, details in side.exchanges:
        out.append(f'<details class="exchange"><summary>judge exchange ({esc(scorer)})</summary>'
                   f"<pre>{esc(json.dumps(details, ensure_ascii=False, indent=2))}</pre></details>")
    out.append("</div>")
    return "".join(out)


def pager(view: RunView, f: SampleFilter, page_no: int, pages: int, links: Links) -> str:
    if pages <= 1 or links.static:
        return ""
    params = {"dir": view.path, "task": f.task, "scorer": f.scorer, "role": f.role, "outcome": f.outcome,
              "flipped": "1" if f.flipped else "", "unscored": "1" if f.unscored else "", "cut": "1" if f.cut else "",
              "q": f.q, "id": f.id}
    out = ['<div class="pager">']
    if page_no > 1:
        out.append(links.a("← previous", "/run", **params, page=page_no - 1))
    out.append(f"<span>page {page_no} of {pages}</span>")
    if page_no < pages:
        out.append(links.a("next →", "/run", **params, page=page_no + 1))
    out.append("</div>")
    return "".join(out)


def run_page(view: RunView, f: SampleFilter, page_no: int = 1, *, links: Links, page_size: int | None = None) -> str:
    """The run: header, metric table, filters, the samples (one page of them in the app, all in an export)."""
    from harness.view.run_data import PAGE_SIZE, page_of

    selected = view.select(f)
    if links.static:
        shown, page_no, pages = selected, 1, 1
    else:
        shown, page_no, pages = page_of(selected, page_no, page_size or PAGE_SIZE)
    total = len(view.rows)
    count = f"{len(shown)} of {total} samples" if links.static else f"{len(selected)} of {total} samples match"
    body = [f"<h1>Run {esc(view.name)}</h1>", run_header(view), "<h2>Metrics</h2>", metric_table(view.summary, view.roles),
            "<h2>Samples</h2>", filter_form(view, f, links), f'<p id="shown">{esc(count)}</p>', pager(view, f, page_no, pages, links)]
    body += [sample_section(r) for r in shown]
    body.append(pager(view, f, page_no, pages, links))
    return page(f"run {view.name}", "".join(body), static=links.static)


# ---------------------------------------------------------------- two runs
def compare_page(c: Comparison, *, links: Links, sources: tuple[str, str] | None = None) -> str:
    a_src, b_src = sources or (c.a.source, c.b.source)
    body = [f"<h1>Compare ({esc(c.role)})</h1><table><tr><th>A (reference)</th><td>{links.a(a_src, '/run', dir=a_src)}</td></tr>"
            f"<tr><th>B</th><td>{links.a(b_src, '/run', dir=b_src)}</td></tr>"
            f"<tr><th>suite</th><td>{esc(c.b.suite_name)} (version {esc(c.b.suite_version)})</td></tr></table>"]
    if c.allowed_differences:
        body.append("<p><b>Made differently (allowed):</b> " + esc("; ".join(c.allowed_differences)) + "</p>")
    body.append("<h2>Metrics (paired deltas B − A over the samples both scored)</h2><table class=metrics>"
                "<tr><th>metric</th><th></th><th>A [95% CI]</th><th>B [95% CI]</th><th>Δ B − A [95% CI]</th></tr>")
    for m in c.metrics:
        cell = lambda e: "–" if not e else f"{fmt(e.get('value'))} {ci(e.get('ci'))} <span class=muted>n={e.get('n', '')}</span>"
        body.append(f"<tr><td>{esc(m.name)}</td><td>{'↑' if m.higher_is_better else '↓'}</td><td class=num>{cell(m.a)}</td>"
                    f"<td class=num>{cell(m.b)}</td><td class=num>{delta_cell(m.delta, m.higher_is_better)}</td></tr>")
    body.append("</table>")
    body.append("<h2>Scorer versions that changed</h2>" + (
        "<ul>" + "".join(f"<li>{esc(s)}</li>" for s in c.scorer_changes) + "</ul>" if c.scorer_changes
        else '<p class="muted">none: every scorer both runs used has the same version and settings</p>'))
    worse = sum(1 for f in c.flips if f.worse)
    body.append(f"<h2>Samples whose verdict changed ({len(c.flips)}: {worse} pass → fail, {len(c.flips) - worse} fail → pass)</h2>")
    if c.flips:
        body.append("<table><tr><th>metric</th><th>sample</th><th>A → B</th><th>prompt</th></tr>")
        for fl in c.flips:
            change = f"{fl.pass_fail(fl.before)} → {fl.pass_fail(fl.after)}"
            cls = "sig-bad" if fl.worse else "sig-good"
            sample = links.a(f"{fl.task}/{fl.id}", "/run", dir=b_src, task=fl.task, id=fl.id)
            body.append(f"<tr><td>{esc(fl.metric)}</td><td>{sample}</td><td class={cls}>{esc(change)}</td>"
                        f"<td>{esc((fl.prompt or '')[:200])}</td></tr>")
        body.append("</table>")
    return page("compare", "".join(body), static=links.static)


# ---------------------------------------------------------------- training, sweeps, lab reports
def training_page(d: TrainingDir, *, links: Links, refresh_s: int = 10) -> str:
    summary = d.summary()
    if summary:
        train, evals = summary.get("train_loss") or [], summary.get("eval_loss") or []
        smooth = summary.get("train_loss_smoothed") or []
    else:
        _, log = d.trainer_log()
        train, evals = loss_points(log)
        smooth = []
    state = "finished" if d.finished else f"running or stopped (no training_summary.json yet); this page reloads every {refresh_s} s"
    body = [f"<h1>Training {esc(d.path.name)}</h1><p>{esc(str(d.path))}: {esc(state)}</p>",
            line_chart({"train loss": train, "train loss (smoothed)": smooth, "eval loss": evals}, "loss")]
    scores = d.checkpoint_scores()
    body.append(f"<h2>Rescored checkpoints ({len(scores)})</h2>")
    if scores:
        names = list(dict.fromkeys(n for s in scores for n in s.get("metrics", {})))
        charts = []
        for name in names:
            ckpt = [(s["step"], s["metrics"][name]["ckpt"]) for s in scores if s.get("step") is not None and name in s["metrics"]]
            base = [(s["step"], s["metrics"][name]["base"]) for s in scores if s.get("step") is not None and name in s["metrics"]]
            charts.append(line_chart({"checkpoint": ckpt, "base": base}, name, width=360, height=200))
        body.append('<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(charts) + "</div>")
        body.append("<table><tr><th>step</th><th>profile</th>" + "".join(f"<th>{esc(n)}</th>" for n in names) + "<th>run</th></tr>")
        for s in scores:
            cells = []
            for n in names:
                m = s.get("metrics", {}).get(n)
                if not m or m.get("ckpt") is None:
                    cells.append("<td></td>")
                    continue
                d_ = f" ({m['delta']:+.3f})" if m.get("delta") is not None else ""
                cells.append(f"<td class=num>{m['ckpt']:.3f}{esc(d_)}</td>")
            run_dir = d.path / "evals" / Path(str(s.get("run_dir", ""))).name
            run = links.a(run_dir.name, "/run", dir=run_dir) if (run_dir / "config.json").is_file() else ""
            body.append(f"<tr><td>{esc(s.get('step'))}</td><td>{esc(s.get('profile', ''))}</td>{''.join(cells)}<td>{run}</td></tr>")
        body.append("</table>")
    return page(f"training {d.path.name}", "".join(body), static=links.static, refresh_s=None if d.finished else refresh_s)


def sweep_page(s: SweepResults, *, links: Links) -> str:
    direction = "higher is better" if s.higher_is_better else "lower is better"
    body = [f"<h1>Sweep {esc(Path(s.path).name)}</h1><p>ranked by <b>{esc(s.metric)}</b> ({direction}); deltas vs the "
            f"first finished variant, paired</p><table><tr><th>#</th><th>variant</th><th>settings</th><th>status</th>"
            f"<th>{esc(s.metric)} [95% CI]</th><th>Δ vs reference [95% CI]</th><th>final run</th></tr>"]
    for i, v in enumerate(s.ranked(), 1):
        metric = "–" if not v.metric else f"{fmt(v.metric.get('value'))} {ci(v.metric.get('ci'))}"
        delta = delta_cell(v.delta, s.higher_is_better) if v.delta else esc(v.not_comparable or "")
        settings = ", ".join(f"{k}={val}" for k, val in v.overrides.items())
        run = links.a(Path(v.run_dir).name, "/run", dir=v.run_dir) if v.run_dir else ""
        name = links.a(v.name, "/training", dir=Path(s.path) / v.name)
        body.append(f"<tr><td>{i}</td><td>{name}</td><td>{esc(settings)}</td><td>{esc(v.status)} {esc(v.note)}</td>"
                    f"<td class=num>{metric}</td><td class=num>{delta}</td><td>{run}</td></tr>")
    body.append("</table>")
    return page(f"sweep {Path(s.path).name}", "".join(body), static=links.static)


def lab_page(folder: Path, grade: dict, *, links: Links) -> str:
    body = [f"<h1>Lab report {esc(folder.name)}</h1><p>grade: <b>{fmt(grade.get('earned'), 1)} / {fmt(grade.get('maximum'), 1)}</b>"
            f" (evidence {fmt(grade.get('evidence_earned'), 1)} / {fmt(grade.get('evidence_max'), 1)}; "
            f"{fmt(grade.get('pending_by_hand'), 1)} points to be graded by hand); rubric {esc(grade.get('rubric', ''))}, "
            f"made {esc(grade.get('created', ''))}</p>"]
    if (folder / "report.html").is_file():
        body.append(f"<p>{links.a('the report (report.html)', '/lab/report', dir=folder)}</p>")
    body.append("<table><tr><th>item</th><th>kind</th><th>points</th><th>earned</th><th>status</th><th>why</th></tr>")
    for item in grade.get("items", []):
        why = item.get("reason") or "; ".join(item.get("missing", []) + item.get("inconsistent", []))
        body.append(f"<tr><td>{esc(item.get('title') or item.get('id'))}</td><td>{esc(item.get('kind'))}</td>"
                    f"<td class=num>{fmt(item.get('points'), 1)}{' (bonus)' if item.get('bonus') else ''}</td>"
                    f"<td class=num>{fmt(item.get('earned'), 1)}</td><td>{esc(item.get('status'))}</td><td>{esc(why)}</td></tr>")
    body.append("</table>")
    return page(f"lab report {folder.name}", "".join(body), static=links.static)


def error_page(message: str) -> str:
    return page("error", f'<h1>Cannot show this</h1><p>{esc(message)}</p>')
