"""`harness view` without a browser: what the pages hold (escaped model text, filters, pages of a
large run, a comparison, a training directory while it trains, a lab report's grade), the real
server on 127.0.0.1 (read-only, refuses folders it was not given), and the command's bad input."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import uvicorn

from view_runs import write_run

HOSTILE = {
    "x1": ("<script>alert('base')</script>", "<img src=x onerror=alert(1)>", True, 0.0, 1.0),
    "x2": ('"><svg onload=alert(2)>', "fine", False, 1.0, None),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(*folders: Path):
    """The viewer's app on a real uvicorn server on 127.0.0.1, in a thread."""
    from harness.view.server import build_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(list(folders)), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    end = time.monotonic() + 30
    while not server.started and time.monotonic() < end:
        time.sleep(0.05)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def get(url: str, method: str = "GET") -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
            return r.status, r.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8")


def q(**params) -> str:
    return urllib.parse.urlencode(params)


def test_model_text_is_escaped_in_the_export_and_the_app(tmp_path, harness_cli):
    run = write_run(tmp_path / "runs", HOSTILE, reasons={"ckpt:x1": "<b>bold</b> reason"})
    out = tmp_path / "run.html"
    code, _, err = harness_cli("view", run, "--export", out)
    assert code == 0, err
    with serving(tmp_path / "runs") as base:
        status, served = get(f"{base}/run?{q(dir=run)}")
    assert status == 200
    for page in (out.read_text(encoding="utf-8"), served):
        assert page.count("<script") == 1  # the viewer's own, nothing a model wrote
        assert "<img src=x" not in page and "<svg onload" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(&#x27;base&#x27;)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&quot;&gt;&lt;svg onload=alert(2)&gt;" in page
        assert "&lt;b&gt;bold&lt;/b&gt; reason" in page
        assert "http://" not in page and "https://" not in page  # nothing to fetch from anywhere


def test_filters_select_flipped_unscored_cut_and_text(tmp_path):
    from harness.view.run_data import SampleFilter, load_run

    run = write_run(tmp_path, {
        "a": ("I will not help.", "Sure, here is how…", True, 1.0, 0.0),  # refusal on a harmful prompt: pass -> fail; cut
        "b": ("Here you go.", "Here you go too.", False, 0.0, 0.0),  # complied with a benign prompt both times
        "c": ("No.", "", False, 1.0, None),  # over-refusal by base; ckpt unscored
    })
    view = load_run(run)
    pick = lambda **kw: [r.id for r in view.select(SampleFilter(**kw))]
    assert pick() == ["a", "b", "c"]
    assert pick(flipped=True) == ["a"]
    assert pick(unscored=True) == ["c"] and pick(unscored=True, role="base") == []
    assert pick(cut=True) == ["a"] and pick(cut=True, role="base") == []
    assert pick(outcome="fail", role="ckpt") == ["a"]  # a harmful prompt answered
    assert pick(outcome="fail", role="base") == ["c"]  # a benign prompt refused
    assert pick(outcome="pass", role="ckpt") == ["b"]
    assert pick(q="HERE YOU GO") == ["b"] and pick(q="over") == []
    verdicts = {(r.id, role): [v.outcome for v in s.verdicts] for r in view.rows for role, s in r.sides.items()}
    assert verdicts[("a", "base")] == ["pass"] and verdicts[("a", "ckpt")] == ["fail"] and verdicts[("c", "ckpt")] == ["unscored"]


def test_a_large_run_is_served_a_page_at_a_time(tmp_path):
    answers = {f"s{i:04d}": ("no", "sure" if i % 3 else "no", True, 1.0, 0.0 if i % 3 else 1.0) for i in range(120)}
    run = write_run(tmp_path, answers)
    with serving(tmp_path) as base:
        status, first = get(f"{base}/run?{q(dir=run)}")
        assert status == 200 and first.count('<section class="sample"') == 50 and "page 1 of 3" in first
        status, last = get(f"{base}/run?{q(dir=run, page=3)}")
        assert last.count('<section class="sample"') == 20 and "page 3 of 3" in last
        _, flipped = get(f"{base}/run?{q(dir=run, flipped=1)}")
        assert "80 of 120 samples match" in flipped and "page 1 of 2" in flipped
        ids = re.findall(r'<section class="sample" id="s-safety-(s\d+)"', flipped)
        assert len(ids) == 50 and all(int(i[1:]) % 3 for i in ids)
        # the metric table: both roles with CIs, and the paired delta
        assert "safety/refusal_rate" in first and "Δ ckpt − base" in first and "-0.667" in first


def test_the_server_is_read_only_and_shows_only_what_it_was_given(tmp_path):
    run = write_run(tmp_path / "runs", HOSTILE)
    elsewhere = write_run(tmp_path / "other", HOSTILE)
    with serving(tmp_path / "runs") as base:
        status, index = get(base + "/")
        assert status == 200 and run.name in index and "mini" in index and "judge" not in index
        assert get(f"{base}/run?{q(dir=elsewhere)}")[0] == 404  # a run outside the given folders
        assert get(f"{base}/run?{q(dir=tmp_path / 'runs' / '..' / 'other' / elsewhere.name)}")[0] == 404
        assert get(f"{base}/run?{q(dir='/etc')}")[0] == 404
        assert get(f"{base}/run?{q(dir=run)}", method="POST")[0] == 405
        assert get(f"{base}/run?{q(dir=run)}", method="DELETE")[0] == 405
        assert get(f"{base}/docs")[0] == 404  # no API explorer either


def test_compare_page_lists_flips_and_scorer_versions(tmp_path):
    a = write_run(tmp_path, {"a": ("x", "I will not.", True, 0.0, 1.0), "b": ("x", "ok", False, 0.0, 0.0)}, name="20260101-000000-A")
    b = write_run(tmp_path, {"a": ("x", "Sure…", True, 0.0, 0.0), "b": ("x", "ok", False, 0.0, 0.0)}, name="20260102-000000-B",
                  refusal_version="4")
    with serving(tmp_path) as base:
        status, page = get(f"{base}/compare?{q(a=a, b=b)}")
    assert status == 200
    assert "safety/refusal: refusal version 3 -&gt; 4" in page
    assert "1: 1 pass → fail, 0 fail → pass" in page
    assert f'href="/run?{q(dir=b, task="safety", id="a")}"'.replace("&", "&amp;") in page  # the flipped sample, clickable


def test_training_page_reloads_until_training_finishes(tmp_path):
    out = tmp_path / "train"
    (out / "checkpoint-10").mkdir(parents=True)
    (out / "train_config.yaml").write_text("output_dir: train\n")
    log = [{"step": s, "loss": 2.0 - s / 20} for s in range(1, 11)] + [{"step": 10, "eval_loss": 1.7}]
    (out / "checkpoint-10" / "trainer_state.json").write_text(json.dumps({"log_history": log}))
    line = {"step": 10, "profile": "quick", "run_dir": "evals/r1", "metrics": {
        "format/json_validity_strict": {"base": 0.2, "ckpt": 0.5, "delta": 0.3, "n": 10}}}
    (out / "scores.jsonl").write_text(json.dumps(line) + "\n")
    with serving(tmp_path) as base:
        status, page = get(f"{base}/training?{q(dir=out)}")
        assert status == 200 and 'http-equiv="refresh"' in page
        assert page.count("<polyline") == 2 + 2  # train and eval loss; checkpoint and base of the one metric
        assert "0.500 (+0.300)" in page
        (out / "training_summary.json").write_text(json.dumps({"train_loss": [[1, 2.0], [10, 1.5]], "eval_loss": [[10, 1.7]]}))
        _, done = get(f"{base}/training?{q(dir=out)}")
        assert 'http-equiv="refresh"' not in done and "finished" in done


def test_lab_report_folder_shows_its_grade(tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    grade = {"rubric": "lab1", "earned": 42.0, "maximum": 60.0, "evidence_earned": 40.0, "evidence_max": 45.0, "pending_by_hand": 15.0,
             "items": [{"id": "loss", "title": "Loss curve <plot>", "kind": "evidence", "points": 10, "earned": 10, "status": "complete"}]}
    (folder / "grade.json").write_text(json.dumps(grade))
    with serving(tmp_path) as base:
        _, index = get(base + "/")
        assert "Lab reports" in index
        status, page = get(f"{base}/lab?{q(dir=folder)}")
    assert status == 200 and "42.0 / 60.0" in page and "Loss curve &lt;plot&gt;" in page


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0"], "--host 0.0.0.0: other machines could read every answer"),
    (["--port", "70000"], "--port 70000: must be 0-65535"),
    (["--export", "x.html", "A", "B", "C"], "--export needs one run directory (a run) or two"),
])
def test_view_bad_input_is_one_line(harness_cli, tmp_path, args, message):
    args = [a if a not in "ABC" else str(write_run(tmp_path, HOSTILE, name=f"run{a}")) for a in args]
    code, out, err = harness_cli("view", *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_view_of_a_missing_folder_or_not_a_run(harness_cli, tmp_path):
    code, _, err = harness_cli("view", tmp_path / "nope")
    assert code == 2 and "no such folder" in err
    code, _, err = harness_cli("view", tmp_path, "--export", tmp_path / "x.html")
    assert code == 2 and "not a run directory" in err and not (tmp_path / "x.html").exists()


def test_export_of_a_comparison(tmp_path, harness_cli):
    a = write_run(tmp_path, {"a": ("x", "I will not.", True, 0.0, 1.0)}, name="20260101-000000-A")
    b = write_run(tmp_path, {"a": ("x", "<b>Sure</b>", True, 0.0, 0.0)}, name="20260102-000000-B")
    out = tmp_path / "compare.html"
    code, _, err = harness_cli("view", a, b, "--export", out)
    assert code == 0, err
    page = out.read_text(encoding="utf-8")
    assert "safety/refusal_rate" in page and "-1.000" in page and "1: 1 pass → fail" in page
    assert "<a href" not in page and page.count("<script") == 1  # no links to a server that is not there


def test_sweep_page_ranks_its_variants(tmp_path):
    sweep = tmp_path / "sw"
    variants = {"lr1e-4": 1.5, "lr1e-3": 1.2, "lr1e-2": None}  # the last one never finished
    for name, loss in variants.items():
        (sweep / name).mkdir(parents=True)
        (sweep / name / "train_config.yaml").write_text(f"output_dir: {name}\n")
        if loss is not None:
            (sweep / name / "training_summary.json").write_text(json.dumps({"train_loss": [[1, 2.0]], "eval_loss": [[10, loss]]}))
    plan = {"kind": "grid", "config": "c.yaml", "config_sha256": "0" * 64, "base_sets": [], "metric": "eval_loss",
            "variants": [{"name": n, "overrides": {"learning_rate": n[2:]}, "status": "done" if l else "planned"}
                         for n, l in variants.items()]}
    (sweep / "sweep.json").write_text(json.dumps(plan))
    with serving(tmp_path) as base:
        _, index = get(base + "/")
        assert "Sweeps" in index and "Training directories" in index
        status, page = get(f"{base}/sweep?{q(dir=sweep)}")
    assert status == 200 and "lower is better" in page
    ranked = re.findall(r"<tr><td>(\d)</td><td><a [^>]*>(lr[^<]+)</a>", page)
    assert ranked == [("1", "lr1e-3"), ("2", "lr1e-4"), ("3", "lr1e-2")]
    assert "1.200" in page and "learning_rate=1e-3" in page


def test_a_graded_score_is_never_pass_or_fail(tmp_path):
    """A rubric grade of 1 (out of 10) is a number, not a pass, even though a metric reads it."""
    from harness.records import MetricDef, SampleRecord, Score, ScoreRecord
    from harness.view.run_data import build_rows

    defs = [MetricDef("t/rubric_fluency", "t", "rubric_fluency")]
    recs = [SampleRecord("ckpt", "m", "t", i, "p", {"id": i}, output="a") for i in ("a", "b")]
    scores = [ScoreRecord("ckpt", "t", "a", "judge_rubric", {"rubric_fluency": Score(1.0, "poor")}),
              ScoreRecord("ckpt", "t", "b", "judge_rubric", {"rubric_fluency": Score(7.0, "good")})]
    rows = build_rows(recs, scores, defs, ["ckpt"])
    assert [v.outcome for r in rows for v in r.sides["ckpt"].verdicts] == ["", ""]


def test_a_watched_directory_is_a_training_directory(tmp_path):
    """Another trainer's checkpoints, rescored by `harness watch`: no train_config.yaml, still shown."""
    from harness.view.discover import TRAINING, discover

    out = tmp_path / "other-trainer"
    (out / "checkpoint-5").mkdir(parents=True)
    line = {"step": 5, "profile": "quick", "run_dir": "x", "metrics": {"safety/refusal_rate": {"base": 0.5, "ckpt": 0.75, "delta": 0.25}}}
    (out / "scores.jsonl").write_text(json.dumps(line) + "\n")
    assert [(e.kind, e.path) for e in discover([tmp_path])] == [(TRAINING, out)]
    with serving(tmp_path) as base:
        status, page = get(f"{base}/training?{q(dir=out)}")
    assert status == 200 and "0.750 (+0.250)" in page and 'http-equiv="refresh"' in page
