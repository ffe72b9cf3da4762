"""Benchmark: how long `harness view` takes to open a 10,000-sample run, against reading that
run's samples.jsonl in the same process (the least any viewer must do).

A synthetic run is written through the harness's own records (10,000 samples x 2 roles, a refusal
verdict each, a fifth of them flipped, a few long answers). Timed over real HTTP on 127.0.0.1:

    baseline     json.loads of every line of samples.jsonl
    first open   GET /run (cold: reads samples.jsonl and scores.jsonl, renders page 1 of 200)
    next page    GET /run?page=2 (the loaded run is kept until its files change)
    filtered     GET /run?flipped=1 (every sample tested, page 1 of the flipped ones)
    index        GET / (the runs list: config.json and summary.json of each run, no samples)

    python bench/view_open.py [--samples 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn  # noqa: E402

from harness.metrics import summarize  # noqa: E402
from harness.records import MetricDef, SampleRecord, Score, ScoreRecord, join_scores  # noqa: E402
from harness.rundir import RunDir  # noqa: E402
from harness.view.server import build_app  # noqa: E402

DEFS = [MetricDef("safety/refusal_rate", "safety", "refusal", {"harmful": True}, True)]


def write_run(root: Path, n: int) -> Path:
    run = RunDir(root / "20260101-000000-bench-adapter")
    run.path.mkdir(parents=True)
    tasks = {"safety": {"kind": "generate", "samples_file": "s.jsonl", "data_hash": "d" * 16, "n_samples": n, "generation": {},
                        "scorers": {"refusal": {"scorer": "refusal", "version": "3"}}}}
    run.write_config({"created": "2026-01-01T00:00:00", "argv": ["bench"], "invocation": {}, "roles": ["base", "ckpt"],
                      "suite": {"name": "bench", "path": "b.yaml", "version": "v" * 16, "tasks": tasks},
                      "metric_definitions": {d.name: d.to_dict() for d in DEFS},
                      "models": {"checkpoint": {"model": "base-model", "adapter": "adapter"}}, "backend": "hf"})
    records, scores = [], []
    with run.appender() as out, run.score_appender() as sout:
        for i in range(n):
            for role in ("base", "ckpt"):
                refused = 1.0 if (role == "base" or i % 5) else 0.0
                text = f"answer {i} of the {role}: " + ("I cannot help with that. " if refused else "Sure, here is how. ") * (1 + i % 7)
                if i % 500 == 0:
                    text *= 40  # a few long answers, folded on the page
                rec = SampleRecord(role, role, "safety", f"s{i:05d}", f"prompt number {i}: how do I ...?", {"id": f"s{i:05d}", "harmful": True},
                                   output=text, raw=text, finish_reason="stop", prompt_tokens=20, completion_tokens=40)
                sr = ScoreRecord(role, "safety", rec.id, "refusal",
                                 {"refusal": Score(refused, "classified", "full_refusal" if refused else "compliance")})
                out.write(rec.to_dict())
                sout.write(sr.to_dict())
                records.append(rec)
                scores.append(sr)
    run.write_summary({"suite": "bench", "suite_version": "v" * 16, "run_dir": str(run.path), "roles": ["base", "ckpt"],
                       "models": {}, "metrics": summarize(DEFS, join_scores(records, scores), ["base", "ckpt"])})
    return run.path


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="fresh servers (cold opens) to time; the best is reported")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = write_run(Path(tmp), args.samples)
        size = (run / "samples.jsonl").stat().st_size + (run / "scores.jsonl").stat().st_size
        print(f"run: {args.samples} samples x 2 roles, samples.jsonl + scores.jsonl = {size / 1e6:.1f} MB")

        def read_samples():
            with open(run / "samples.jsonl", encoding="utf-8") as f:
                return [json.loads(line) for line in f]

        baseline = min(timed(read_samples) for _ in range(args.repeat))
        rows = {"index": [], "first open": [], "next page": [], "filtered": []}
        sizes = {}
        for _ in range(args.repeat):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = uvicorn.Server(uvicorn.Config(build_app([tmp]), host="127.0.0.1", port=port, log_level="warning"))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            while not server.started:
                time.sleep(0.02)
            base = f"http://127.0.0.1:{port}"
            q = lambda **p: urllib.parse.urlencode({"dir": str(run), **p})
            for name, url in (("index", "/"), ("first open", f"/run?{q()}"), ("next page", f"/run?{q(page=2)}"),
                              ("filtered", f"/run?{q(flipped=1)}")):
                body = []
                rows[name].append(timed(lambda: body.append(urllib.request.urlopen(base + url, timeout=300).read())))
                sizes[name] = len(body[0])
            server.should_exit = True
            thread.join(10)
        print(f"{'what':<12} {'seconds':>8} {'x baseline':>11} {'page KB':>8}")
        print(f"{'baseline':<12} {baseline:8.3f} {1.0:11.1f} {'':>8}  (json.loads of samples.jsonl)")
        for name, times in rows.items():
            best = min(times)
            print(f"{name:<12} {best:8.3f} {best / baseline:11.1f} {sizes[name] / 1024:8.0f}")


if __name__ == "__main__":
    main()
