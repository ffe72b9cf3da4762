"""`harness view` in a real browser (headless Chromium over the DevTools protocol, every host name
resolving to nothing): a judged adapter run shows both answers of every sample, the filter to
flipped samples works with the page's script running, the export works offline from a file, and
model text holding markup stays text. No page logs an error or asks for anything but itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser import browser
from conftest import REPO
from judge_servers import ScriptedJudge, running
from test_view import HOSTILE, free_port, q
from view_runs import write_run

VISIBLE = "[...document.querySelectorAll('section.sample')].filter(s => !s.hidden).map(s => s.id)"


@pytest.fixture(scope="module")
def judged_run(tiny_adapter, tmp_path_factory) -> Path:
    """A judged adapter run: lab1's compare10 (pairwise + rubric judge) and part of safety (refusal
    classifier + refusal judge), base and checkpoint, judged by a scripted judge over HTTP."""
    from harness.cli import main

    root = tmp_path_factory.mktemp("viewruns")
    with running(ScriptedJudge()) as url:
        code = main(["--quiet", "run", "--suite", "lab1", "--ckpt", str(tiny_adapter), "--task", "compare10", "--task", "safety",
                     "--limit", "safety=16", "--gen", "max_new_tokens=6", "--batch-size", "16", "--judge", url,
                     "--judge-model", "scripted-judge", "--judge-cache", str(root / "cache"), "--runs-dir", str(root / "runs")])
    assert code == 0
    (run,) = (root / "runs").iterdir()
    return run


def expected_flips(run: Path) -> set[str]:
    """Read from the files, not through the viewer: samples where a pass/fail score that a metric
    reads has one value for the base and the other for the checkpoint."""
    read = {d["score"] for d in json.loads((run / "config.json").read_text())["metric_definitions"].values()}
    values: dict[tuple, dict[str, float]] = {}
    for line in (run / "scores.jsonl").read_text().splitlines():
        row = json.loads(line)
        for sid, entry in row["scores"].items():
            if sid in read and entry["value"] in (0.0, 1.0):
                values.setdefault((row["task"], row["id"], sid), {})[row["role"]] = entry["value"]
    return {f"s-{t}-{i}" for (t, i, _), v in values.items() if len(v) == 2 and v["base"] != v["ckpt"]}


def start_view(folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "view", str(folder), "--port", str(port)],
                            cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            urllib.request.urlopen(base + "/", timeout=5).read()
            return proc, base
        except OSError:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.3)
    proc.kill()
    raise AssertionError("harness view did not answer within 120 s")


def test_view_of_a_judged_adapter_run_and_its_flipped_filter(judged_run, tmp_path):
    flips = expected_flips(judged_run)
    assert flips, "the scripted judge's refusal verdicts should differ between base and checkpoint somewhere"
    proc, base = start_view(judged_run.parent)
    try:
        with browser(tmp_path / "profile") as page:
            page.open(base + "/")
            href = page.eval(f"document.querySelector('a[href*=\"{judged_run.name}\"]').getAttribute('href')")
            page.open(base + href)
            n = page.eval("document.querySelectorAll('section.sample').length")
            assert n == 26  # compare10's 10 and 16 of safety, one page
            # both answers of every sample, side by side, each with its verdicts
            both = page.eval("[...document.querySelectorAll('section.sample')].every(s => s.querySelector('.side.base pre.answer')"
                             " && s.querySelector('.side.ckpt pre.answer') && s.querySelectorAll('ul.reasons li').length >= 2)")
            assert both
            assert page.eval("document.querySelectorAll('details.exchange').length") >= 10  # the judge's exchanges
            assert "judge_win_rate" in page.eval("document.querySelector('table.metrics').innerText")
            # tick "flipped": the page's script submits the filter, the server answers the flipped samples
            page.eval("var box = document.querySelector('#filters input[name=flipped]'); box.checked = true;"
                      "box.dispatchEvent(new Event('change', {bubbles: true})); true")
            page.wait_for("Page.loadEventFired")
            assert "flipped=1" in page.eval("location.search")
            assert set(page.eval(VISIBLE)) == flips
            assert page.eval("document.querySelector('#filters input[name=flipped]').checked")
            problems, requests = page.problems(), page.requests()
    finally:
        proc.terminate()
        proc.wait(20)
    assert problems == []
    assert requests and all(r.startswith(base + "/") for r in requests), requests


def test_export_opens_offline_and_filters_in_the_page(judged_run, tmp_path, harness_cli):
    out = tmp_path / "run.html"
    code, _, err = harness_cli("view", judged_run, "--export", out)
    assert code == 0, err
    flips = expected_flips(judged_run)
    with browser(tmp_path / "profile") as page:
        page.open(out.as_uri())
        assert page.eval("document.getElementById('shown').textContent") == "26 of 26 samples"
        page.eval("var box = document.querySelector('#filters input[name=flipped]'); box.checked = true;"
                  "box.dispatchEvent(new Event('change', {bubbles: true})); true")
        assert set(page.eval(VISIBLE)) == flips
        assert page.eval("document.getElementById('shown').textContent") == f"{len(flips)} of 26 samples"
        page.eval("var f = document.getElementById('filters'); f.elements.flipped.checked = false;"
                  "f.elements.task.value = 'compare10'; f.elements.task.dispatchEvent(new Event('change', {bubbles: true})); true")
        assert len(page.eval(VISIBLE)) == 10
        page.eval("var s = document.querySelector('#filters input[name=q]'); s.value = 'c03'; s.dispatchEvent(new Event('input')); true")
        assert page.eval(VISIBLE) == ["s-compare10-c03"]
        problems, requests = page.problems(), page.requests()
    assert problems == []
    assert requests == [out.as_uri()]  # the file itself, nothing else


def test_markup_in_model_text_shows_as_text_in_the_browser(tmp_path, harness_cli):
    run = write_run(tmp_path / "runs", HOSTILE)
    out = tmp_path / "hostile.html"
    assert harness_cli("view", run, "--export", out)[0] == 0
    proc, base = start_view(tmp_path / "runs")
    try:
        with browser(tmp_path / "profile") as page:
            for url in (out.as_uri(), f"{base}/run?{q(dir=run)}"):
                page.open(url)
                assert page.eval("document.scripts.length") == 1 and page.eval("document.images.length") == 0
                assert page.eval("document.querySelectorAll('svg, img, iframe').length") == 0
                text = page.eval("document.body.innerText")
                assert "<script>alert('base')</script>" in text and "<img src=x onerror=alert(1)>" in text
                assert '"><svg onload=alert(2)>' in text
            problems = page.problems()
    finally:
        proc.terminate()
        proc.wait(20)
    assert problems == []
