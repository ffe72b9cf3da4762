"""`harness grade DIR --class`: every submission of a class graded as `harness grade` grades one
folder, in parallel, resumable, then a roster with cross-submission flags.

    <out>/class.json     the rubric and judge the grades were made with (a resume must match)
    <out>/graded.jsonl   one line per finished submission (graded, or why not), appended and
                         fsynced as each finishes: a killed run resumes from it, grading none twice
    <out>/grades.csv     student, every item's points, total, tamper status, flags
    <out>/roster.md      the roster (renders on GitHub), with roster_totals.png and roster_items.png
    <out>/roster.html    the same, self-contained (plots inlined)
    <out>/roster.json    the roster's numbers and flags
    <out>/unpacked/      scratch: an archive is unpacked here while it is graded, then removed

Nothing is written outside <out>: folders are read in place, archives unpacked under unpacked/.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.io.jsonl import JsonlAppender, iter_complete_rows
from harness.io.writes import atomic_write_text
from harness.lab.cross_checks import cross_flags, fingerprint
from harness.lab.evidence import lab_prompts
from harness.lab.grading import Rubric, load_rubric
from harness.lab.roster import ERROR, GRADED, Roster, build_roster, grades_csv
from harness.lab.submissions import Submission, SubmissionError, check_parts, find_submissions, open_submission, read_grade_file

CLASS_FILE, GRADED_FILE, SCRATCH = "class.json", "graded.jsonl", "unpacked"
DEFAULT_JOBS = min(4, os.cpu_count() or 1)


@dataclass
class ClassGrade:
    out: Path
    roster: Roster
    graded_now: int  # submissions graded by this run (the rest were in graded.jsonl already)


def default_out(class_dir: str) -> Path:
    here = Path(class_dir).resolve()
    return here.parent / f"{here.name}-roster"


# ---- one submission (runs in a worker process) -------------------------------------------------
_LOADING = threading.Lock()


def _rubric(path: str) -> tuple[Rubric, list[dict]]:
    """The rubric and its lab's prompts, loaded once per worker process (the suite's YAML is most
    of the cost of grading one submission). Under a lock: loading the suite fills the scorer
    registry on first use, which worker threads must not see half filled."""
    with _LOADING:
        return _load_rubric(path)


@functools.lru_cache(maxsize=4)
def _load_rubric(path: str) -> tuple[Rubric, list[dict]]:
    rubric = load_rubric(path)
    return rubric, lab_prompts(rubric.suite, rubric.prompts_task)


def grade_submission(sub: Submission, source_fingerprint: str, rubric_path: str, scratch: Path,
                     judge=None, target=None) -> dict:
    """graded.jsonl's row for one submission. Never raises for a bad submission: the row says why."""
    from harness.app.lab_report import regrade_folder

    t0 = time.perf_counter()
    row = {"student": sub.student, "source": sub.path.name, "source_fingerprint": source_fingerprint}
    try:
        root = open_submission(sub, scratch)
        label = sub.path.name if root == sub.path else f"{sub.path.name}:{root.relative_to(scratch)}".rstrip(":.")
        handed = read_grade_file(root, label)
        check_parts(root, label)
        usage: dict = {}
        rubric, prompts = _rubric(rubric_path)
        r = regrade_folder(root, handed, rubric, judge, target=target, usage=usage, prompts=prompts)
        g = r.grade.to_dict()
        g.pop("files")
        row.update(status=GRADED, grade=g, earned=g["earned"], maximum=g["maximum"], pending_by_hand=g["pending_by_hand"],
                   evidence_earned=g["evidence_earned"], tamper=r.tamper, handed_digest=handed.get("digest"),
                   handed_earned=handed.get("evidence_earned"), harness_version=handed.get("harness_version"),
                   fingerprint=fingerprint(r.evidence, r.written, r.grade.digest, len(r.grade.files)),
                   judge=usage if judge is not None else None)
    except HarnessError as e:  # SubmissionError included: the submission's own fault, said in one line
        row.update(status=ERROR, error=str(e))
    except Exception as e:  # noqa: BLE001 - one odd submission must not stop a class of 200
        where = traceback.extract_tb(e.__traceback__)[-1]
        row.update(status=ERROR, error=f"could not be graded: {type(e).__name__}: {e} "
                                       f"(at {Path(where.filename).name}:{where.lineno}); grade it by hand")
    finally:
        if sub.kind != "folder":
            shutil.rmtree(scratch, ignore_errors=True)
    row["seconds"] = round(time.perf_counter() - t0, 3)
    return row


# ---- the class ---------------------------------------------------------------------------------
def _settings(rubric: Rubric, judge) -> dict:
    return {"rubric": rubric.name, "rubric_path": rubric.path, "rubric_sha256": rubric.sha256,
            "judge": None if judge is None else {"url": judge.url, "model": judge.model}}


def _check_resume(out: Path, settings: dict) -> None:
    f = out / CLASS_FILE
    if not f.is_file():
        return
    try:
        before = json.loads(f.read_text(encoding="utf-8"))
    except ValueError as e:
        raise HarnessError(f"{f}: not valid JSON ({e}); delete {out} to grade the class again from scratch") from None
    for key, what in (("rubric_sha256", "rubric"), ("judge", "judge")):
        if before.get(key) != settings[key]:
            was = before.get("rubric_path") if key == "rubric_sha256" else before.get("judge")
            now = settings["rubric_path"] if key == "rubric_sha256" else settings["judge"]
            raise HarnessError(f"{out} holds grades made with another {what} ({was}, now {now}); give a new --out, or "
                               f"the same {what} to resume")


def _finished(out: Path) -> dict[str, dict]:
    """student -> the last row graded.jsonl holds for them."""
    rows = {}
    for row in iter_complete_rows(out / GRADED_FILE):
        rows[row["student"]] = row
    return rows


def grade_class(class_dir: str, *, out: str | None = None, rubric_path: str | None = None, judge=None,
                jobs: int = DEFAULT_JOBS, console: Console) -> ClassGrade:
    if jobs < 1:
        raise HarnessError(f"--jobs {jobs}: give at least 1")
    out_dir = Path(out) if out else default_out(class_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise HarnessError(f"--out {out_dir}: exists and is not a directory")
    subs = find_submissions(Path(class_dir), skip=out_dir)
    rubric = load_rubric(rubric_path or "lab1")
    settings = _settings(rubric, judge)
    _check_resume(out_dir, settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / CLASS_FILE, json.dumps({**settings, "class_dir": str(class_dir)}, indent=2) + "\n")

    # one submission per student id: a second one (alice/ and alice.zip) gets its own line, ungraded
    current: dict[str, Submission] = {}
    duplicate_rows = []
    for s in subs:
        if s.student in current:
            duplicate_rows.append({"student": s.path.name, "source": s.path.name, "status": ERROR,
                                   "error": f"{s.path.name}: the student id {s.student} is handed in twice (also "
                                            f"{current[s.student].path.name}); only that one was graded: keep one"})
        else:
            current[s.student] = s
    done = _finished(out_dir)
    prints = {s.student: s.fingerprint() for s in current.values()}
    todo = [s for s in current.values() if done.get(s.student, {}).get("source_fingerprint") != prints[s.student]]
    resumed = len(current) - len(todo)
    console.print(f"{len(subs)} submissions in {class_dir}" + (f"; {resumed} already graded in {out_dir / GRADED_FILE}"
                                                               if resumed else "")
                  + (f"; grading {len(todo)} with {min(jobs, len(todo))} job(s)" if todo else ""), highlight=False)

    graded_now = 0
    if todo:
        from reports.roster import print_progress

        with _judge_target(judge) as target, JsonlAppender(out_dir / GRADED_FILE, then="run the same command again") as log:
            for row in _grade_all(todo, prints, rubric.path, out_dir / SCRATCH, judge, target, jobs):
                log.write(row)
                done[row["student"]] = row
                graded_now += 1
                print_progress(row, graded_now, len(todo), console)
    shutil.rmtree(out_dir / SCRATCH, ignore_errors=True)

    rows = [done[s] for s in current] + duplicate_rows
    graded = {r["student"]: r["fingerprint"] for r in rows if r["status"] == GRADED}
    roster = build_roster(rubric, rows, cross_flags(graded), judged=judge is not None)
    _write_roster(roster, out_dir, console)
    return ClassGrade(out_dir, roster, graded_now)


def _judge_target(judge):
    """The judge's endpoint, resolved once for the class (a local judge is started once)."""
    import contextlib

    if judge is None:
        return contextlib.nullcontext(None)
    from judges.local import judge_target

    return judge_target(judge)


def _grade_all(todo: list[Submission], prints: dict[str, str], rubric_path: str, scratch: Path, judge, target, jobs: int):
    """Rows as submissions finish (in the order they finish). Without a judge grading is CPU work:
    `jobs` processes. With one it is mostly waiting for the judge's replies: `jobs` threads of one
    process, so many submissions can wait at once without a process (and its start-up) each."""
    args = [(s, prints[s.student], rubric_path, scratch / s.student, judge, target) for s in todo]
    if jobs == 1 or len(todo) == 1:
        for a in args:
            yield grade_submission(*a)
        return
    workers = min(jobs, len(todo))
    if judge is not None:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grade")
    else:  # spawn: a fresh interpreter per worker, never a fork of a process holding threads
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_exit_with_parent, initargs=(os.getpid(),))
    with pool:
        pending = {pool.submit(grade_submission, *a) for a in args}
        lost = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    lost += 1
        if lost:
            raise HarnessError(f"a grading process died; {lost} submission(s) were not graded (the others are kept in "
                               f"graded.jsonl): run the same command again to grade them")


def _exit_with_parent(parent: int, every_s: float = 0.5) -> None:
    """A worker outlives a killed parent (SIGKILL, the OOM killer) waiting for work forever, holding
    its terminal or pipe; this thread ends it once the parent is gone."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _write_roster(roster: Roster, out: Path, console: Console) -> None:
    from reports.lab_html import render_html
    from reports.roster import plot_roster, print_roster, render_roster, roster_json

    atomic_write_text(out / "grades.csv", grades_csv(roster))
    atomic_write_text(out / "roster.json", json.dumps(roster_json(roster), indent=2, ensure_ascii=False) + "\n")
    plots = plot_roster(roster, out)
    text = render_roster(roster, plots)
    atomic_write_text(out / "roster.md", text)
    atomic_write_text(out / "roster.html", render_html(text, out, f"{roster.rubric.title}: class roster"))
    print_roster(roster, out, console)
