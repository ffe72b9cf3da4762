"""`harness report --lab lab1` and `harness grade`: the graded lab report.

    <out>/report.md          renders on GitHub (relative image paths, tables)
    <out>/report.html        the same, self-contained (images inlined, no network): what is handed in
    <out>/training_loss.png  loss curves and checkpoint scores
    <out>/sweep_loss.png     the sweep's overlaid loss curves (with --sweep)
    <out>/grade.json         the grade, item by item, with the sha256 of every graded file
    <out>/evidence/          copies of the graded run files (training, run, sweep), same layout

Evidence is collected from the directories given, copied into evidence/, and everything after
that (plots, findings, grade) is computed from the copies, so `harness grade <out>` recomputes the
same grade from the folder alone, and checks that no copy changed since.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.lab.grading import Grade, Rubric, WrittenVerdict, grade, load_rubric
from harness.lab.evidence import LabEvidence, collect, copy_evidence, digest, evidence_parts, file_sha256
from harness.lab.findings import findings
from harness.lab.submissions import GRADE_FILE, REPORT_FORMAT, read_grade_file
from reports.lab_html import render_html
from reports.lab_markdown import render_lab_report, written_sections
from reports.lab_terminal import print_lab_report, print_regrade
from reports.plots import plot_sweep, plot_training

REGRADE_FILE = "regrade.json"


def _version() -> str:
    try:
        return metadata.version("sft-harness")
    except metadata.PackageNotFoundError:
        return "unknown"


def analysis_texts(path: str, rubric: Rubric) -> dict[str, str]:
    """The student's answers from a Markdown file: the answer markers of report.md, or a heading
    per item (its id or its title) with the answer under it."""
    f = Path(path)
    if not f.is_file():
        raise HarnessError(f"--analysis {path}: file not found")
    text = f.read_text(encoding="utf-8")
    found = {k: v for k, v in written_sections(text).items() if v}
    if found:
        return found
    out = {}
    for item in rubric.written_items:
        names = "|".join(re.escape(n) for n in (item.id, item.title))
        m = re.search(rf"^#+[ \t]*(?:{names})[ \t]*(?:\([^)\n]*\))?[ \t]*\n(.*?)(?=^#+\s|\Z)", text, re.MULTILINE | re.DOTALL | re.IGNORECASE)
        if m and m.group(1).strip():
            out[item.id] = m.group(1).strip()
    if not out:
        raise HarnessError(f"--analysis {path}: no answer found; write a heading per item ("
                           + ", ".join(f"'## {i.id}'" for i in rubric.written_items) + ") with the answer under it")
    return out


def _judge(options, rubric: Rubric, written: dict[str, str], *, target=None, usage: dict | None = None):
    """The written items' grader: None without a judge. `target`: a judge endpoint already resolved
    (a class grade starts a local judge once); `usage` counts requests, tokens and cached replies."""
    if options is None:
        return None
    from judges.analysis import grade_written

    verdicts = grade_written(rubric.written_items, written, options, target=target, usage=usage)
    return lambda item, text: verdicts.get(item.id, WrittenVerdict(None, error="not asked"))


def _plots(ev: LabEvidence, out: Path) -> dict[str, str]:
    from trainers.diagnosis import smoothed

    plots = {}
    for name in ("training_loss.png", "sweep_loss.png"):
        (out / name).unlink(missing_ok=True)  # a plot of an earlier report must not stay behind
    t = ev.training
    if t is not None and t.summary is not None and t.train_loss:
        plot_training(t.train_loss, smoothed(t.train_loss), t.eval_loss, out / "training_loss.png",
                      scores=t.checkpoint_scores, headline=t.summary.get("headline") or {})
        plots["training"] = "training_loss.png"
    if ev.sweep is not None:
        curves = {v.name: {"smoothed": smoothed(v.train) if v.train else [], "evals": v.evals}
                  for v in ev.sweep.variants if v.train}
        if curves:
            plot_sweep(curves, out / "sweep_loss.png")
            plots["sweep"] = "sweep_loss.png"
    return plots


def _from_copy(rubric: Rubric, folder: Path, prompts: list[dict] | None = None) -> LabEvidence:
    parts = evidence_parts(folder)
    return collect(rubric.suite, rubric.prompts_task, prompts=prompts, **parts)


def make_lab_report(*, lab: str, rubric_path: str | None, train: str | None, run: str | None, sweep: str | None,
                    out: str, judge=None, analysis: str | None = None, console: Console) -> Path:
    rubric = load_rubric(rubric_path or lab)
    if not (train or run):
        raise HarnessError("give the lab's work: --train DIR (the output_dir of harness train) and/or --run RUN_DIR; "
                           "--sweep DIR adds the hyperparameter experiment")
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise HarnessError(f"--out {out}: exists and is not a directory")
    original = collect(rubric.suite, rubric.prompts_task, train=train, run=run, sweep=sweep)  # bad paths fail here
    written = {}
    if (folder / "report.md").is_file():  # making the report again keeps what the student wrote
        written = {k: v for k, v in written_sections((folder / "report.md").read_text(encoding="utf-8")).items() if v}
    if analysis:
        written.update(analysis_texts(analysis, rubric))
    folder.mkdir(parents=True, exist_ok=True)
    hashes = copy_evidence(original, folder / "evidence")
    ev = _from_copy(rubric, folder)
    ev.sources = dict(original.sources)
    g = grade(ev, rubric, written, _judge(judge, rubric, written))
    g.files, g.digest = hashes, digest(hashes)
    plots = _plots(ev, folder)
    found = findings(ev)
    created = time.strftime("%Y-%m-%d %H:%M:%S %z")
    text = render_lab_report(ev, rubric, g, found, written, plots=plots, version=_version(), created=created)
    (folder / "report.md").write_text(text, encoding="utf-8")
    (folder / "report.html").write_text(render_html(text, folder, rubric.title), encoding="utf-8")
    record = {"created": created, "harness_version": _version(), "report_format": REPORT_FORMAT, "rubric_path": rubric.path,
              "sources": ev.sources, **g.to_dict()}
    (folder / GRADE_FILE).write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    paths = {"md": str(folder / "report.md"), "html": str(folder / "report.html"), "grade": str(folder / GRADE_FILE),
             "folder": str(folder)}
    print_lab_report(g, found, paths, console, rubric.title)
    return folder


def tamper_check(folder: Path, recorded: dict[str, str]) -> dict[str, list[str]]:
    """Evidence files that changed, disappeared or appeared since the report recorded their sha256."""
    ev = folder / "evidence"
    now = {str(p.relative_to(ev)): file_sha256(p) for p in sorted(ev.rglob("*")) if p.is_file()} if ev.is_dir() else {}
    return {"changed": sorted(k for k in recorded if k in now and now[k] != recorded[k]),
            "missing": sorted(k for k in recorded if k not in now),
            "added": sorted(k for k in now if k not in recorded)}


def written_answers(folder: Path) -> dict[str, str]:
    report = folder / "report.md"
    if not report.is_file():
        return {}
    return {k: v for k, v in written_sections(report.read_text(encoding="utf-8")).items() if v}


@dataclass
class Regrade:
    grade: Grade
    tamper: dict[str, list[str]]
    evidence: LabEvidence
    written: dict[str, str]


def regrade_folder(root: Path, handed: dict, rubric: Rubric, judge=None, *, target=None,
                   usage: dict | None = None, prompts: list[dict] | None = None) -> Regrade:
    """Grade a report folder again from its evidence/ copies; writes nothing. `prompts`: the lab's
    prompts, when the caller loaded them already."""
    recorded = dict(handed["files"])
    tamper = tamper_check(root, recorded)
    ev = _from_copy(rubric, root, prompts)
    ev.sources = dict(handed.get("sources") or {})
    written = written_answers(root)
    g = grade(ev, rubric, written, _judge(judge, rubric, written, target=target, usage=usage))
    hashes = {k: file_sha256(root / "evidence" / k) for k in recorded if (root / "evidence" / k).is_file()}
    g.files, g.digest = hashes, digest(hashes)
    return Regrade(g, tamper, ev, written)


def regrade(folder: str, *, rubric_path: str | None = None, judge=None, console: Console) -> tuple[Grade, dict]:
    """Grade a handed-in report folder again from its evidence/ copies (with the instructor's
    rubric, if given); writes regrade.json into it and returns the grade and the tamper check."""
    root = Path(folder)
    handed = read_grade_file(root, folder)
    rubric = load_rubric(rubric_path or handed.get("rubric") or "lab1")
    r = regrade_folder(root, handed, rubric, judge)
    g, tamper = r.grade, r.tamper
    out = {"created": time.strftime("%Y-%m-%d %H:%M:%S %z"), "rubric_path": rubric.path, "tamper": tamper,
           "handed_in": {k: handed.get(k) for k in ("evidence_earned", "evidence_max", "earned", "maximum", "digest")},
           **g.to_dict()}
    (root / REGRADE_FILE).write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print_regrade(g, tamper, handed, console, folder)
    return g, tamper
