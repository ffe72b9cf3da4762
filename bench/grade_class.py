"""Benchmark: `harness grade DIR --class` on a class of --n submissions (200 by default).

The class is made from one real report folder (--report, or one built on the tiny test model,
about a minute) by tests/lab_class.py: every student distinct and consistent, with a written
analysis of three items. Each measurement is a fresh `harness` process grading into a fresh
roster folder (start-up, workers and the roster included), as an instructor would run it:

1. without a judge, at each --jobs level (processes); the ratio is against --jobs 1, measured
   in the same run;
2. with a latency-bound fake judge (a ThreadingHTTPServer on 127.0.0.1 whose every reply takes
   --latency seconds; a fresh judge cache each time, so every written answer is a request), at
   each --judge-jobs level (threads); the ratio is against the first level, and the floor is what
   the latency alone costs at that many submissions in flight (each asks its 3 items at once).

    python bench/grade_class.py [--n 200] [--report DIR] [--jobs 1,2,4] [--judge-jobs 4,16,64] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

WRITTEN = 3  # written items with text per student (tests/lab_class.py)


@contextlib.contextmanager
def slow_judge(latency: float):
    """An OpenAI-compatible endpoint that answers every chat completion after `latency` seconds."""
    served = {"requests": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with lock:
                served["requests"] += 1
            time.sleep(latency)
            m = re.search(r"Maximum points: (\d+)", body["messages"][-1]["content"])
            reply = f"Score: {int(m.group(1)) // 2 if m else 1}\nReason: benchmark judge."
            data = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                               "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                            "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 300, "completion_tokens": 12, "total_tokens": 312}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", served
    finally:
        server.shutdown()
        server.server_close()


def timed_grade(cls: Path, out: Path, *extra: str) -> tuple[float, dict]:
    if out.exists():
        shutil.rmtree(out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), OPENAI_API_KEY="x")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "harness", "grade", str(cls), "--class", "--out", str(out), *extra],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"harness grade failed:\n{done.stderr[-2000:]}")
    return elapsed, json.loads((out / "roster.json").read_text(encoding="utf-8"))


def build_class(report: Path, cls: Path, n: int) -> None:
    from lab_class import make_student, zip_folder

    cls.mkdir(parents=True)
    for i in range(1, n + 1):
        folder = make_student(report, cls / f"s{i:03d}", i)
        if i % 4 == 0:  # a quarter hand in a zip
            zip_folder(folder, cls / f"s{i:03d}.zip")
            shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--report", help="a report folder (harness report --out); default: build one on the tiny model")
    parser.add_argument("--jobs", default="1,2,4", help="--jobs levels without a judge")
    parser.add_argument("--judge-jobs", default="4,16,64", help="--jobs levels with the fake judge")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the fake judge takes per reply")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.report:
            report = Path(args.report)
        else:
            from conftest import build_tiny_model
            from lab_class import real_report

            print("building a report folder on the tiny model ...", flush=True)
            report = real_report(tmp / "report-build", build_tiny_model(tmp / "tiny-model"))
        t0 = time.perf_counter()
        build_class(report, tmp / "class", args.n)
        print(f"class: {args.n} submissions ({args.n // 4} zipped), made in {time.perf_counter() - t0:.1f} s; "
              f"{os.cpu_count()} CPUs", flush=True)

        print("\nwithout a judge (processes)")
        base = None
        for jobs in [int(x) for x in args.jobs.split(",")]:
            seconds, roster = timed_grade(tmp / "class", tmp / "out", "--jobs", str(jobs))
            assert roster["graded"] == args.n and not roster["flags"], roster["flags"][:3]
            base = base or seconds
            print(f"  --jobs {jobs:3d}: {seconds:7.2f} s  {args.n / seconds:6.1f} submissions/s  "
                  f"x{base / seconds:.2f} vs --jobs {args.jobs.split(',')[0]}", flush=True)

        print(f"\nwith a fake judge answering in {args.latency:g} s (threads; {WRITTEN} written items each)")
        base = None
        with slow_judge(args.latency) as (url, served):
            for jobs in [int(x) for x in args.judge_jobs.split(",")]:
                before = served["requests"]
                seconds, roster = timed_grade(tmp / "class", tmp / "out", "--jobs", str(jobs), "--judge", url,
                                              "--judge-model", "bench", "--judge-cache", str(tmp / f"cache-{jobs}"))
                asked = served["requests"] - before
                assert roster["judge"]["requests"] == asked == args.n * WRITTEN, (roster["judge"], asked)
                floor = -(-args.n // jobs) * args.latency
                base = base or seconds
                print(f"  --jobs {jobs:3d}: {seconds:7.2f} s  {asked} requests  {asked / seconds:6.1f} req/s  "
                      f"latency floor {floor:6.1f} s  x{base / seconds:.2f} vs --jobs {args.judge_jobs.split(',')[0]}",
                      flush=True)


if __name__ == "__main__":
    main()
