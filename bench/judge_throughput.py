"""Benchmark: N judge requests against `harness serve`, one at a time vs concurrently.

The server runs in this process on 127.0.0.1 (as `--judge local:MODEL` does) and batches the
requests that arrive together; the client is the judge's own (openai AsyncOpenAI, bounded
concurrency, no cache). The requests are rubric prompts over the lab's compare10 questions, greedy,
with a fixed max_tokens, so both sides generate the same tokens.

    python bench/judge_throughput.py [--model smollm2-135m-instruct] [--n 16] [--concurrency 8] [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import time

import torch

from harness.backends.hf import HFBackend
from harness.checkpoint import resolve_checkpoint
from harness.openai_client import ChatClient, ChatRequest, EndpointSettings
from harness.serve import build_app, serve_in_background
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="what --judge local:MODEL takes")
    parser.add_argument("--n", type=int, default=16, help="judge requests per side")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    app = build_app(HFBackend(resolve_checkpoint(args.model)), "judge", max_batch_size=args.concurrency)
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
