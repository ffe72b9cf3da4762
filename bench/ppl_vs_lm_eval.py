"""Benchmark: our perplexity vs lm-evaluation-harness on the same model and the same token ids.

Extra install step (lm-eval is not a dependency of this package):

    .venv/bin/pip install lm-eval
    .venv/bin/python bench/ppl_vs_lm_eval.py [--ckpt smollm2-135m-instruct] [--batch-size 8] [--threads 1]

The lab1 `ppl` conversations are scored twice by each side, float32, model load excluded:
- every token (`mask: all`): ours (HFBackend.loglikelihood, mask="all") vs lm-eval's
  `loglikelihood_rolling` on the rendered conversation. lm-eval puts its prefix token (for
  SmolLM2 the bos token <|im_start|>, which is also the template's first token) in front of the
  text, so the text is given without that first token: both sides then score the same tokens
  given the same first token;
- assistant tokens (`mask: assistant`, the lab's perplexity): ours vs lm-eval's conditional
  `loglikelihood` of each assistant turn (content + end of turn) given the conversation before it,
  summed per conversation.
For each it prints both perplexities, their relative difference, both token counts, both wall
times and the ratio, and our bits per byte. Ours batches like the runner does (token order).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from harness.models.backends import make_backend
from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.generate import pending_work
from harness.suite import load_suite


def ours(backend: HFBackend, suite, mask: str, batch_size: int) -> tuple[float, int, int, float]:
    """(nll sum, tokens, bytes, seconds): batches in the runner's order for loglikelihood tasks."""
    suite.tasks["ppl"].mask = mask
    batches = pending_work(suite, ["ckpt"], [], batch_size, loglikelihood_length=backend.loglikelihood_length)
    t0 = time.perf_counter()
    results = [r for b in batches for r in backend.loglikelihood([s["messages"] for s in b.samples], mask=mask)]
    seconds = time.perf_counter() - t0
    return sum(r.nll_sum for r in results), sum(r.n_tokens for r in results), sum(r.n_bytes for r in results), seconds


def lm_eval_rolling(lm, tokenizer, conversations) -> tuple[float, int, float]:
    from lm_eval.api.instance import Instance

    texts = []
    for messages in conversations:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        if ids[0] != lm.prefix_token_id:
            raise SystemExit(f"the template's first token {ids[0]} is not lm-eval's prefix token {lm.prefix_token_id}")
        texts.append(tokenizer.decode(ids[1:]))  # lm-eval's prefix token stands in for the first token
    requests = [Instance(request_type="loglikelihood_rolling", doc={}, arguments=(t,), idx=i) for i, t in enumerate(texts)]
    t0 = time.perf_counter()
    logprobs = lm.loglikelihood_rolling(requests, disable_tqdm=True)
    seconds = time.perf_counter() - t0
    n_tokens = sum(len(lm.tok_encode(t)) for t in texts)
    return -sum(logprobs), n_tokens, seconds


def lm_eval_conditional(lm, tokenizer, conversations) -> tuple[float, int, float]:
    """Each assistant turn: context = the rendered conversation before its content, continuation =
    content + end of turn (what our assistant mask counts)."""
    from lm_eval.api.instance import Instance

    pairs = []
    for messages in conversations:
        for k, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            before = tokenizer.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True)
            upto = tokenizer.apply_chat_template(messages[: k + 1], tokenize=False)
            turn = upto[len(before):]
            end = turn.index("<|im_end|>") + len("<|im_end|>")  # ChatML: the turn's counted part ends here
            pairs.append((before, turn[:end]))
    requests = [Instance(request_type="loglikelihood", doc={}, arguments=p, idx=i) for i, p in enumerate(pairs)]
    t0 = time.perf_counter()
    results = lm.loglikelihood(requests, disable_tqdm=True)
    seconds = time.perf_counter() - t0
    n_tokens = sum(len(lm.tok_encode(c + x)) - len(lm.tok_encode(c)) for c, x in pairs)
    return -sum(logprob for logprob, _ in results), n_tokens, seconds


def line(name: str, nll_a: float, n_a: int, t_a: float, nll_b: float, n_b: int, t_b: float) -> None:
    ppl_a, ppl_b = math.exp(nll_a / n_a), math.exp(nll_b / n_b)
    print(f"{name}: ours {ppl_a:.5f} ({n_a} tokens, {t_a:.2f} s)  lm-eval {ppl_b:.5f} ({n_b} tokens, {t_b:.2f} s)  "
          f"relative difference {100 * (ppl_a - ppl_b) / ppl_b:+.4f}%  time ours/lm-eval {t_a / t_b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    try:
        from lm_eval.models.huggingface import HFLM
    except ImportError:
        raise SystemExit("lm-eval is not installed: run `.venv/bin/pip install lm-eval` first (see the docstring)")
    torch.set_num_threads(args.threads)

    backend = make_backend(resolve_checkpoint(args.ckpt), device=torch.device("cpu"))
    backend.model.float()
    lm = HFLM(pretrained=backend.model, tokenizer=backend.tokenizer, batch_size=args.batch_size, device="cpu")
    suite = load_suite("lab1", tasks=["ppl"])
    conversations = [s["messages"] for s in suite.tasks["ppl"].samples]
    print(f"{len(conversations)} conversations, {args.ckpt}, float32, {args.threads} thread(s), batch {args.batch_size}")

    ours(backend, suite, "all", args.batch_size)  # warm-up (one pass each side)
    lm_eval_rolling(lm, backend.tokenizer, conversations[:2])
    nll, n, n_bytes, t = ours(backend, suite, "all", args.batch_size)
    nll_r, n_r, t_r = lm_eval_rolling(lm, backend.tokenizer, conversations)
    line("every token (mask all) vs loglikelihood_rolling", nll, n, t, nll_r, n_r, t_r)
    print(f"  ours bits per byte {nll / n_bytes / math.log(2):.5f} ({n_bytes} bytes)")
    nll, n, n_bytes, t = ours(backend, suite, "assistant", args.batch_size)
    nll_c, n_c, t_c = lm_eval_conditional(lm, backend.tokenizer, conversations)
    line("assistant tokens (mask assistant) vs conditional loglikelihood", nll, n, t, nll_c, n_c, t_c)
    print(f"  ours bits per byte {nll / n_bytes / math.log(2):.5f} ({n_bytes} bytes of assistant text)")


if __name__ == "__main__":
    main()
