"""Loglikelihoods over an OpenAI-compatible `/v1/completions` endpoint: the conversation's token ids
are sent as the prompt with `echo: true, logprobs: 1, max_tokens: 0`, and the server returns each
prompt token's log-probability (vLLM and `harness serve` both do). Which tokens count, and the bytes
they spell, come from the model's tokenizer here (harness.models.loglikelihood_tokens), so
perplexity and bits per byte count exactly what the hf backend counts.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from harness.errors import HarnessError
from harness.models.backends.base import Loglikelihood
from harness.models.loglikelihood_tokens import CountedTokens
from harness.models.openai_client import EndpointSettings, api_key_from_env


class EchoLoglikelihood:
    """Scores conversations at `endpoint` (concurrently, `concurrency` requests at a time)."""

    def __init__(self, counted: CountedTokens, endpoint: EndpointSettings):
        import openai

        self.counted, self.endpoint = counted, endpoint
        self._client = openai.OpenAI(base_url=endpoint.base_url, api_key=api_key_from_env(endpoint.api_key_env),
                                     max_retries=endpoint.retries, timeout=endpoint.timeout_s)

    def length(self, messages: list[dict], mask: str) -> int:
        return len(self.counted.tokens(messages, mask)[0])

    def loglikelihood(self, batch: list[list[dict]], mask: str, model: str) -> list[Loglikelihood]:
        rows = [self.counted.tokens(messages, mask) for messages in batch]
        with ThreadPoolExecutor(max_workers=max(1, self.endpoint.concurrency)) as pool:
            logprobs = list(pool.map(lambda row: self.prompt_logprobs(row[0], model), rows))
        out = []
        for (ids, m), lps in zip(rows, logprobs):
            nll = -sum(lp for lp, counted in zip(lps[1:], m[1:]) if counted)
            out.append(Loglikelihood(nll, sum(m[1:]), self.counted.counted_bytes(ids, m)))
        return out

    def prompt_logprobs(self, ids: list[int], model: str) -> list[float | None]:
        """Per prompt token its log-probability given the tokens before it (None for the first)."""
        import openai

        try:
            resp = self._client.completions.create(model=model, prompt=ids, max_tokens=0, echo=True, logprobs=1,
                                                   temperature=0.0)
        except openai.APIError as e:
            raise HarnessError(f"loglikelihood at {self.endpoint.base_url} ({model}): {type(e).__name__}: {e}") from None
        logprobs = resp.choices[0].logprobs
        values = list(logprobs.token_logprobs) if logprobs else []
        if len(values) != len(ids):
            raise HarnessError(f"loglikelihood at {self.endpoint.base_url} ({model}): the server returned {len(values)} "
                               f"prompt logprobs for {len(ids)} tokens (it must echo the prompt's logprobs)")
        return values

    def close(self) -> None:
        self._client.close()
