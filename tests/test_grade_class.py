"""`harness grade DIR --class`: a class of six made from one real lab report (tests/lab_class.py):
the roster names exactly the edited evidence, the shared adapter, the copied analysis and the
broken archive; bad submissions get their line and write nothing outside the roster folder; a
killed run resumes without grading anyone twice; the judge's work is counted; roster.html
renders in headless Chromium."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from conftest import REPO, load_json, needs
from lab_class import analysis_of, copied, edit_evidence, make_student, real_report, tar_folder, zip_folder

SHARED_ADAPTER = "ab" * 32


@pytest.fixture(scope="session")
def lab_report(tiny_model, tmp_path_factory) -> Path:
    """One real report folder per test session: trained, rescored and reported on the tiny model."""
    return real_report(tmp_path_factory.mktemp("lab-report"), tiny_model)


@pytest.fixture(scope="module")
def test_class(lab_report, tmp_path_factory) -> Path:
    """alice (a folder), bob (a folder with an edited evidence file), carol (.zip) and dave
    (.tar.gz) share an adapter, erin (a folder) copied alice's base_vs_finetuned analysis,
    frank handed in a zip cut in half."""
    root = tmp_path_factory.mktemp("class")
    work, cls = root / "work", root / "lab1"
    work.mkdir()
    cls.mkdir()
    make_student(lab_report, cls / "alice", 1)
    make_student(lab_report, cls / "bob", 2)
    edit_evidence(cls / "bob")
    zip_folder(make_student(lab_report, work / "carol", 3, adapter=SHARED_ADAPTER), cls / "carol.zip", top="carol")
    tar_folder(make_student(lab_report, work / "dave", 4, adapter=SHARED_ADAPTER), cls / "dave.tar.gz")
    erin = analysis_of(5)
    erin["base_vs_finetuned"] = copied(analysis_of(1)["base_vs_finetuned"])
    make_student(lab_report, cls / "erin", 5, analysis=erin)
    whole = zip_folder(make_student(lab_report, work / "frank", 6), work / "frank.zip").read_bytes()
    (cls / "frank.zip").write_bytes(whole[: len(whole) // 2])
    return cls


def tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def graded(test_class):
    """The class graded once, as the instructor would: `harness grade lab1 --class`."""
    from harness.cli import main

    before = tree(test_class)
    code = main(["grade", str(test_class), "--class", "--jobs", "2"])
    assert tree(test_class) == before  # the class folder is only read
    return code, test_class.parent / "lab1-roster"


def csv_rows(out: Path) -> dict[str, dict]:
    return {r["student"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text(encoding="utf-8")))}


def test_the_roster_of_the_test_class_says_exactly_what_was_handed_in(graded):
    code, out = graded
    assert code == 1  # something for a person: a tampered submission, flags, a broken archive
    rows = csv_rows(out)
    assert list(rows) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    # the evidence points; the written items wait for a person (no judge): empty cells
    for s in ("alice", "carol", "dave", "erin"):
        r = rows[s]
        assert (r["loss_curve"], r["prompt_table"], r["sweep"], r["total"], r["maximum"]) == ("20", "20", "0", "40", "100"), s
        assert (r["data_quality"], r["base_vs_finetuned"], r["pending_by_hand"], r["tamper"]) == ("", "", "40", "intact"), s
    bob = rows["bob"]
    assert (bob["loss_curve"], bob["total"], bob["tamper"]) == ("0", "20", "TAMPERED: changed train/training_summary.json")
    frank = rows["frank"]
    assert frank["total"] == "" and "frank.zip: not a readable zip archive" in frank["error"]
    assert rows["carol"]["flags"] == "same adapter weights with dave" and rows["dave"]["flags"] == "same adapter weights with carol"
    assert rows["alice"]["flags"] == "same analysis with erin" and rows["erin"]["flags"] == "same analysis with alice"
    assert rows["bob"]["flags"] == rows["frank"]["flags"] == ""

    roster = load_json(out / "roster.json")
    flags = {(tuple(f["students"]), f["kind"]): f for f in roster["flags"]}
    assert set(flags) == {(("carol", "dave"), "same adapter weights"), (("alice", "erin"), "same analysis")}
    assert SHARED_ADAPTER[:16] in flags[("carol", "dave"), "same adapter weights"]["evidence"]
    analysis = flags[("alice", "erin"), "same analysis"]
    assert "written item base_vs_finetuned: nearly the same" in analysis["evidence"] and 0.8 <= analysis["similarity"] < 1
    assert roster["tampered"] == ["bob"] and [e["student"] for e in roster["errors"]] == ["frank"]
    means = {i["id"]: i["mean"] for i in roster["items"]}
    assert means["loss_curve"] == 16 and means["prompt_table"] == 20 and means["data_quality"] is None

    md = (out / "roster.md").read_text(encoding="utf-8")
    for needle in ("| carol, dave | same adapter weights |", "| alice, erin | same analysis |",
                   "| bob | train/training_summary.json |  |  |", "`frank.zip`",
                   "the train loss curve does not match the training log", "| **total** | 100 | 36 |"):
        assert needle in md, needle
    rows_jsonl = [json.loads(x) for x in (out / "graded.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["student"] for r in rows_jsonl) == list(rows)
    assert not (out / "unpacked").exists()  # the scratch folder of the archives is gone


def test_roster_html_renders_in_a_headless_browser(graded, tmp_path):
    """roster.html alone (plots inlined, nothing fetched) in Debian's chromium (.ci/run installs it)."""
    _, out = graded
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        needs("chromium is not installed: the class roster's browser test needs it (apt-get install -y chromium)")
    html = (out / "roster.html").read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in html and "roster_totals.png" not in html
    alone = tmp_path / "roster.html"  # away from the PNG files: the page must not need them
    probe = ("<script>window.addEventListener('load', () => { const imgs = [...document.images];"
             "document.body.insertAdjacentHTML('beforeend', '<pre id=\"probe\">' + JSON.stringify({images: imgs.length,"
             "loaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,"
             "tables: document.querySelectorAll('table').length, text: document.body.innerText.length}) + '</pre>'); });</script>")
    alone.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--virtual-time-budget=5000", "--dump-dom", alone.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(\{.*?\})</pre>', dom)
    assert m, dom[-2000:]
    result = json.loads(m.group(1).replace("&quot;", '"'))
    assert result["images"] == 2 and result["loaded"] == 2 and result["tables"] >= 5 and result["text"] > 500
    assert "carol, dave" in dom and "same adapter weights" in dom


def test_bad_submissions_each_get_their_line_and_nothing_lands_outside_the_roster(lab_report, tmp_path, harness_cli):
    cls, work, out = tmp_path / "class", tmp_path / "work", tmp_path / "roster"
    cls.mkdir()
    work.mkdir()
    make_student(lab_report, cls / "good", 1)
    with zipfile.ZipFile(cls / "slip.zip", "w") as z:  # zip-slip
        z.writestr("report/grade.json", "{}")
        z.writestr("../../escaped-zip.txt", "owned")
    evil = work / "escaped-tar.txt"
    evil.write_text("owned")
    with tarfile.open(cls / "climb.tar.gz", "w:gz") as t:
        t.add(evil, arcname="../escaped-tar.txt")
    with tarfile.open(cls / "link.tgz", "w:gz") as t:
        info = tarfile.TarInfo("report/evidence")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc"
        t.addfile(info)
    broken = make_student(lab_report, cls / "broken_json", 2)
    (broken / "grade.json").write_text('{"files": {', encoding="utf-8")
    shutil.rmtree(make_student(lab_report, cls / "no_evidence", 3) / "evidence")
    other = make_student(lab_report, work / "newer", 4)
    g = load_json(other / "grade.json")
    g.update(report_format=2, harness_version="9.0.0")
    (other / "grade.json").write_text(json.dumps(g), encoding="utf-8")
    tar_folder(other, cls / "newer.tar.gz", top="newer")
    (cls / "notes.txt").write_text("not a submission")
    (cls / "not_a_tar.tar.gz").write_bytes(b"\x1f\x8b garbage")
    with zipfile.ZipFile(cls / "no_report.zip", "w") as z:
        z.writestr("homework.txt", "a file")
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    code, stdout, err = harness_cli("grade", cls, "--class", "--out", out, "--jobs", "1")
    assert code == 1, err
    errors = {e["student"]: e["error"] for e in load_json(out / "roster.json")["errors"]}
    assert errors.keys() == {"slip", "climb", "link", "broken_json", "no_evidence", "newer", "notes", "not_a_tar", "no_report"}
    assert "'../../escaped-zip.txt' points outside the archive (path traversal)" in errors["slip"]
    assert "'../escaped-tar.txt' points outside the archive" in errors["climb"]
    assert "'report/evidence' is a link (to '/etc')" in errors["link"]
    assert "broken_json/grade.json: not valid JSON" in errors["broken_json"]
    assert "incomplete report folder, no evidence/" in errors["no_evidence"]
    assert "made by sft-harness 9.0.0 (report format 2); this harness reads format 1" in errors["newer"]
    assert "neither a report folder nor a .zip / .tar.gz archive" in errors["notes"]
    assert "not_a_tar.tar.gz: not a readable .tar.gz archive" in errors["not_a_tar"]
    assert "no grade.json at its root or in its one top-level folder" in errors["no_report"]
    assert csv_rows(out)["good"]["total"] == "40"
    for line in errors.values():
        assert "\n" not in line
    # nothing new or changed outside the roster folder; the refused archives left nothing behind
    after = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if out not in (p, *p.parents)}
    assert after == before
    assert not list(tmp_path.parent.glob("escaped-*")) and not list(out.rglob("escaped-*")) and not (out / "unpacked").exists()


def test_a_copied_folder_is_flagged_on_every_shared_piece(lab_report, tmp_path, harness_cli):
    cls = tmp_path / "class"
    cls.mkdir()
    make_student(lab_report, cls / "ann", 1)
    shutil.copytree(cls / "ann", cls / "ben")
    code, _, err = harness_cli("grade", cls, "--class", "--out", tmp_path / "roster", "--jobs", "1")
    assert code == 1, err
    kinds = [f["kind"] for f in load_json(tmp_path / "roster" / "roster.json")["flags"]]
    assert kinds == ["same evidence digest", "same adapter weights", "identical training log", "same answers",
                     "same analysis", "same analysis", "same analysis"]


def _killed_grade(cls: Path, out: Path, n: int, torn: bool) -> subprocess.CompletedProcess:
    """`harness grade CLS --class` in its own process, SIGKILLed once the nth line of graded.jsonl
    is written (torn: half of it); its worker processes must go with it."""
    cmd = [sys.executable, str(REPO / "tests" / "crash_points.py"), "graded.jsonl", str(n), *(["torn"] if torn else []),
           "--", "grade", str(cls), "--class", "--out", str(out), "--jobs", "2"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests")]))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=REPO)


@pytest.mark.parametrize("torn", [False, True], ids=["killed-between-lines", "killed-mid-line"])
def test_a_killed_class_grade_resumes_without_grading_a_submission_twice(lab_report, tmp_path, torn, harness_cli):
    cls, out = tmp_path / "class", tmp_path / "roster"
    cls.mkdir()
    for n, name in enumerate(("amy", "bo", "cy", "di", "ed"), 1):
        make_student(lab_report, cls / name, n)
    killed = _killed_grade(cls, out, 3, torn)  # returns only once the workers are gone too (they hold its pipes)
    assert killed.returncode == -9, killed.stderr
    kept = [json.loads(x) for x in (out / "graded.jsonl").read_bytes().decode().split("\n")[:2]]
    assert not (out / "roster.md").exists()

    code, stdout, err = harness_cli("grade", cls, "--class", "--out", out, "--jobs", "1")
    assert code == 0, err
    done = 3 if not torn else 2  # a line cut mid-write is dropped and its submission graded again
    assert f"5 submissions in {cls}; {done} already graded" in stdout.replace("\n", "")
    assert f"grading {5 - done} with 1 job(s)" in stdout.replace("\n", "")
    assert len(re.findall(r"^\[\d+/\d+\] ", stdout, re.MULTILINE)) == 5 - done  # a progress line per submission graded now
    if torn:
        assert "cut mid-write" in err
    rows = [json.loads(x) for x in (out / "graded.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(r["student"] for r in rows) == ["amy", "bo", "cy", "di", "ed"]  # each exactly once
    assert rows[:2] == kept
    assert list(csv_rows(out)) == ["amy", "bo", "cy", "di", "ed"]

    code, stdout, _ = harness_cli("grade", cls, "--class", "--out", out)  # finished: the roster again, no grading
    assert code == 0 and "5 already graded" in stdout and "grading" not in stdout
    assert len((out / "graded.jsonl").read_text(encoding="utf-8").splitlines()) == 5


def test_a_changed_submission_is_graded_again_and_another_rubric_is_refused(lab_report, tmp_path, harness_cli):
    cls, out = tmp_path / "class", tmp_path / "roster"
    cls.mkdir()
    make_student(lab_report, cls / "amy", 1)
    make_student(lab_report, cls / "bo", 2)
    assert harness_cli("grade", cls, "--class", "--out", out, "--jobs", "1")[0] == 0
    edit_evidence(cls / "bo")  # bo hands in again
    code, stdout, _ = harness_cli("grade", cls, "--class", "--out", out, "--jobs", "1")
    assert code == 1 and "1 already graded" in stdout and "grading 1 with" in stdout
    assert csv_rows(out)["bo"]["tamper"].startswith("TAMPERED")
    rubric = tmp_path / "mine.yaml"
    rubric.write_text((REPO / "suites" / "rubrics" / "lab1.yaml").read_text(encoding="utf-8").replace("points: 20", "points: 25", 1))
    code, _, err = harness_cli("grade", cls, "--class", "--out", out, "--rubric", rubric)
    assert code == 2 and "holds grades made with another rubric" in err and "give a new --out" in err
    code, _, err = harness_cli("grade", tmp_path / "nowhere", "--class")
    assert code == 2 and "no such directory" in err
    code, _, err = harness_cli("grade", cls / "amy", "--jobs", "2")
    assert code == 2 and "--out and --jobs are for a whole class" in err


def test_the_judge_grades_written_items_and_the_roster_counts_its_work(lab_report, tmp_path, harness_cli):
    from judge_servers import ScriptedJudge, running

    cls = tmp_path / "class"
    cls.mkdir()
    for n, name in enumerate(("amy", "bo"), 1):
        make_student(lab_report, cls / name, n)

    class Grader(ScriptedJudge):
        def reply_to(self, prompt: str) -> str:
            m = re.search(r"Student (\d) on (\w+)", prompt)
            return f"Score: {m.group(1)}\nReason: student {m.group(1)} discusses {m.group(2)}." if m else "no score"

    judge = Grader()
    with running(judge) as url:
        flags = ["--judge", url, "--judge-model", "grader", "--judge-cache", tmp_path / "cache", "--jobs", "2"]
        code, _, err = harness_cli("grade", cls, "--class", "--out", tmp_path / "r1", *flags)
        assert code == 0, err
        assert judge.requests == 6  # 2 students x 3 written items
        code, _, err = harness_cli("grade", cls, "--class", "--out", tmp_path / "r2", *flags)
        assert code == 0, err
        assert judge.requests == 6  # all from the cache
    rows = csv_rows(tmp_path / "r1")
    assert (rows["amy"]["data_quality"], rows["bo"]["base_vs_finetuned"], rows["bo"]["total"]) == ("1", "2", "46")
    first, second = load_json(tmp_path / "r1" / "roster.json")["judge"], load_json(tmp_path / "r2" / "roster.json")["judge"]
    assert first == {"asked": 6, "requests": 6, "cached": 0, "errors": 0, "prompt_tokens": 60, "completion_tokens": 30}
    assert second == {"asked": 6, "requests": 0, "cached": 6, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0}
    md = (tmp_path / "r1" / "roster.md").read_text(encoding="utf-8")
    assert "6 written answers asked: 6 HTTP requests (retries included), 0 replies from the cache" in md
    assert "| bo | 2 / 20 | judge grader: student 2 discusses base_vs_finetuned. |" in md
