"""`harness view`: serve the result viewer, write one page of it as a file, send a run to trackers."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.io.writes import atomic_write_text

LOOPBACK = "127.0.0.1"


def serve_view(folders: list[str], *, host: str = LOOPBACK, port: int = 8765, allow_remote: bool = False,
               console: Console) -> None:
    import uvicorn

    from harness.view.server import build_app

    if host not in (LOOPBACK, "localhost", "::1") and not allow_remote:
        raise HarnessError(f"--host {host}: other machines could read every answer of these runs; "
                           "pass --allow-remote as well to listen there (default: 127.0.0.1, this machine only)")
    if not 0 <= port < 65536:
        raise HarnessError(f"--port {port}: must be 0-65535")
    app = build_app(folders)
    if host not in (LOOPBACK, "localhost", "::1"):
        console.print(f"[yellow]warning: listening on {host}: other machines can read these runs (no login)[/yellow]")
    console.print(f"Viewing {', '.join(folders)} at http://{host}:{port}/  (read-only; Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def export_view(target: list[str], out: str, *, role: str = "ckpt", console: Console) -> Path:
    """One self-contained page: a run (one directory) or a comparison (two)."""
    from harness.results.baseline import load_snapshot
    from harness.results.compare import compare
    from harness.view.pages import Links, compare_page, run_page
    from harness.view.run_data import SampleFilter, load_run

    links = Links(static=True)
    if len(target) == 1:
        text = run_page(load_run(target[0]), SampleFilter(), links=links)
    elif len(target) == 2:
        text = compare_page(compare(load_snapshot(target[0]), load_snapshot(target[1]), role), links=links)
    else:
        raise HarnessError(f"--export needs one run directory (a run) or two (a comparison A B), got {len(target)}")
    path = Path(out)
    if path.parent and not path.parent.is_dir():
        raise HarnessError(f"--export {out}: the folder {path.parent} does not exist")
    atomic_write_text(path, text)
    console.print(f"wrote {path} (one self-contained page; open it in any browser, offline)")
    return path


def report_run(run_dir, trackers: list[str], console: Console) -> None:
    """After `harness run`: its metrics and samples to each --report-to tracker."""
    if not trackers:
        return
    from harness.view.trackers import send_run

    for line in send_run(Path(run_dir), trackers):
        console.print(line, highlight=False, soft_wrap=True)
