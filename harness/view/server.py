"""The read-only web app of `harness view`: GET pages only, over the folders it was given.

A page names a folder by its path (`?dir=`); only folders found under the given ones are shown,
anything else is a 404, so the app reads nothing but results. Loaded runs are kept until their
files change (a 10,000-sample run is read once, then each page of it is a slice)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from harness.errors import HarnessError
from harness.lab.sweep_results import load_sweep
from harness.lab.training_dir import TrainingDir
from harness.results.baseline import load_snapshot
from harness.results.compare import compare
from harness.view.discover import LAB, RUN, SWEEP, TRAINING, Entry, discover
from harness.view.html import CSP
from harness.view.pages import Links, compare_page, error_page, index_page, lab_page, run_columns, run_page, sweep_page, training_page
from harness.view.run_data import RunView, SampleFilter, load_run, signature

HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}


class RunCache:
    """Loaded runs by path, each kept until one of its files changes."""

    def __init__(self):
        self._runs: dict[Path, tuple[tuple, RunView]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path) -> RunView:
        sig = signature(path)
        with self._lock:
            hit = self._runs.get(path)
            if hit and hit[0] == sig:
                return hit[1]
        view = load_run(path)
        with self._lock:
            self._runs[path] = (sig, view)
        return view


def build_app(folders: list[str | Path], *, refresh_s: int = 10) -> FastAPI:
    folders = [Path(f) for f in folders]
    discover(folders)  # a folder that is not there: refused now, one line
    app = FastAPI(title="sft-harness view", docs_url=None, redoc_url=None, openapi_url=None)
    cache = RunCache()
    links = Links()

    def html(text: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(text, status_code=status, headers=HEADERS)

    def find(request: Request, kind: str) -> Path:
        """The ?dir= folder, if it is one of the results found under the given folders."""
        given = request.query_params.get("dir", "")
        target = Path(given).resolve() if given else None
        for e in discover(folders):
            if e.kind == kind and e.path.resolve() == target:
                return e.path
        raise LookupError(f"{given or '(no dir)'}: not a {kind} directory under {', '.join(map(str, folders))}")

    def describe(e: Entry) -> dict:
        try:
            return run_columns(load_run(e.path, samples=False))  # config and summary: fast for any number of runs
        except (HarnessError, OSError, ValueError, KeyError) as err:
            return {"error": f"cannot read: {err}"}

    def guarded(make):
        try:
            return html(make())
        except LookupError as e:
            return html(error_page(str(e.args[0])), 404)
        except (HarnessError, OSError, ValueError, KeyError) as e:
            return html(error_page(str(e)), 422)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return guarded(lambda: index_page(discover(folders), describe, links))

    @app.get("/run", response_class=HTMLResponse)
    def run(request: Request, page: int = 1):
        def make():
            view = cache.get(find(request, RUN))
            return run_page(view, SampleFilter.from_query(request.query_params), page, links=links)
        return guarded(make)

    @app.get("/compare", response_class=HTMLResponse)
    def compare_runs(request: Request, role: str = "ckpt"):
        def make():
            a, b = request.query_params.get("a"), request.query_params.get("b")
            if not a or not b:
                raise HarnessError("choose two runs: A and B (the radio buttons of the runs list)")
            paths = {str(e.path.resolve()): e.path for e in discover(folders) if e.kind == RUN}
            for side in (a, b):
                if str(Path(side).resolve()) not in paths:
                    raise LookupError(f"{side}: not a run directory under {', '.join(map(str, folders))}")
            c = compare(load_snapshot(a), load_snapshot(b), role)
            return compare_page(c, links=links, sources=(a, b))
        return guarded(make)

    @app.get("/training", response_class=HTMLResponse)
    def training(request: Request):
        return guarded(lambda: training_page(TrainingDir(find(request, TRAINING)), links=links, refresh_s=refresh_s))

    @app.get("/sweep", response_class=HTMLResponse)
    def sweep(request: Request):
        return guarded(lambda: sweep_page(load_sweep(find(request, SWEEP)), links=links))

    @app.get("/lab", response_class=HTMLResponse)
    def lab(request: Request):
        def make():
            folder = find(request, LAB)
            return lab_page(folder, json.loads((folder / "grade.json").read_text(encoding="utf-8")), links=links)
        return guarded(make)

    @app.get("/lab/report")
    def lab_report(request: Request):
        try:
            folder = find(request, LAB)
        except LookupError as e:
            return html(error_page(str(e.args[0])), 404)
        # the lab report's own self-contained page (it draws its plots inline)
        return Response((folder / "report.html").read_bytes(), media_type="text/html",
                        headers={k: v for k, v in HEADERS.items() if k != "Content-Security-Policy"})

    return app
