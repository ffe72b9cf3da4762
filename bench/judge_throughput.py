"""Benchmark: N judge requests, one at a time vs concurrently.

Compute-bound (default): against `harness serve` on a model, in this process on 127.0.0.1 (as
`--judge local:MODEL` does); the server batches the requests that arrive together. The requests
are rubric prompts over the lab's compare10 questions, greedy, with a fixed max_tokens, so both
sides generate the same tokens.

Latency-bound (`--latency-ms 200`): against a stand-in for a remote judge API, a 127.0.0.1 HTTP
server that answers every request after a fixed delay and does no work, so the time is all
waiting; sequential vs each of `--levels` (default 1, 8, 32). Close to linear speed-up is expected
up to the concurrency, as long as there are enough requests.

The client is the judge's own in both (openai AsyncOpenAI, bounded concurrency, no cache).

    python bench/judge_throughput.py [--model smollm2-135m-instruct] [--n 16] [--concurrency 8] [--max-tokens 48]
    python bench/judge_throughput.py --latency-ms 200 [--n 64] [--levels 1,8,32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

from harness.models.backends import make_backend
from harness.models.checkpoint import resolve_checkpoint
from harness.models.openai_client import ChatClient, ChatRequest, EndpointSettings
from harness.serve.app import build_app, serve_in_background
from harness.suite import load_suite
from judges.prompt_templates import template_for


def judge_requests(n: int, max_tokens: int) -> list[ChatRequest]:
    prompts = [s["prompt"] for s in load_suite("lab1", tasks=["compare10"]).tasks["compare10"].samples]
    out = []
    for i in range(n):
        question = prompts[i % len(prompts)]
        answer = f"Answer number {i}: a short reply to the question."  # distinct, so nothing is deduplicated
        messages = template_for("rubric", question).render(question=question, answer=answer)
        out.append(ChatRequest(messages, {"temperature": 0.0, "max_tokens": max_tokens}))
    return out


def timed(url: str, model: str, requests: list[ChatRequest], concurrency: int):
    client = ChatClient(EndpointSettings(base_url=url, concurrency=concurrency, timeout_s=600, retries=0), model)
    t0 = time.perf_counter()
    replies = client.complete_all(requests)
    elapsed = time.perf_counter() - t0
    failed = [r.error for r in replies if not r.ok]
    if failed:
        raise SystemExit(f"judge requests failed: {failed[0]}")
    return elapsed, replies


class _RemoteLike(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of concurrent requests must not be dropped at accept


@contextlib.contextmanager
def remote_like_judge(latency_s: float):
    """An OpenAI-compatible endpoint that answers every chat completion after `latency_s`."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(latency_s)
            body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "remote",
                               "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                   "role": "assistant", "content": "instruction_following: 7\nformat_compliance: 7\n"
                                   "safety: 10\nfluency: 8\nReason: fine."}}],
                               "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = _RemoteLike(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def latency_bound(args) -> None:
    levels = [int(x) for x in args.levels.split(",")]
    requests = judge_requests(args.n, args.max_tokens)
    with remote_like_judge(args.latency_ms / 1000) as url:
        timed(url, "remote", requests[:1], 1)  # warm-up: the openai client's import and first connection
        times = {c: timed(url, "remote", requests, c)[0] for c in levels}
    base = times[levels[0]]
    print(f"latency-bound: a stand-in remote judge answering after {args.latency_ms:g} ms; {args.n} requests")
    for c, t in times.items():
        ideal = min(c, args.n) / min(levels[0], args.n)
        print(f"concurrency {c:>3}: {t:7.2f} s  {args.n / t:7.2f} req/s  speed-up {base / t:6.2f}x (ideal {ideal:g}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="what --judge local:MODEL takes")
    parser.add_argument("--n", type=int, default=16, help="judge requests per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--latency-ms", type=float, help="latency-bound mode: a stand-in remote judge with this delay")
    parser.add_argument("--levels", default="1,8,32", help="latency-bound mode: concurrency levels, the first is the baseline")
    args = parser.parse_args()
    if args.latency_ms is not None:
        latency_bound(args)
        return

    app = build_app(make_backend(resolve_checkpoint(args.model)), "judge", max_batch_size=args.concurrency)
    requests = judge_requests(args.n, args.max_tokens)
    with serve_in_background(app) as url:
        timed(url, "judge", requests[:1], 1)  # warm-up
        t_seq, seq = timed(url, "judge", requests, 1)
        start = len(app.state.generator.batches)
        t_con, con = timed(url, "judge", requests, args.concurrency)
        batches = app.state.generator.batches[start:]
    tokens_seq = sum(r.completion_tokens for r in seq)
    tokens_con = sum(r.completion_tokens for r in con)
    same = sum(a.content == b.content for a, b in zip(seq, con))
    print(f"model: {args.model}  requests: {args.n}  max_tokens: {args.max_tokens}  threads: {torch.get_num_threads()}  greedy")
    print(f"sequential (concurrency 1):  {t_seq:7.2f} s  {tokens_seq:5d} tokens  {args.n / t_seq:6.2f} req/s")
    print(f"concurrent (concurrency {args.concurrency:>2}): {t_con:7.2f} s  {tokens_con:5d} tokens  {args.n / t_con:6.2f} req/s  "
          f"server batches: {batches}")
    print(f"speed-up (sequential time / concurrent time): {t_seq / t_con:.2f}x; identical replies: {same}/{args.n}")


if __name__ == "__main__":
    main()
