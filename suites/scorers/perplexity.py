"""The scorers of loglikelihood tasks: each sample's NLL sum, weighted by what it is divided by.

    perplexity     exp(sum NLL / sum tokens) (aggregate "perplexity"): per token of the model's own
                   tokenizer
    bits_per_byte  sum NLL / (ln 2 * sum bytes) (aggregate "ratio"): per UTF-8 byte of the scored text

Perplexity depends on the tokenizer (a tokenizer that cuts text into fewer, longer tokens makes
fewer, harder predictions), so models with different tokenizers cannot be compared by it. Bits per
byte divides the same total NLL by the byte count of the scored text, the same for every
tokenizer: models with different tokenizers compare on it directly.
"""

from __future__ import annotations

import math

from harness.scorers import Score, scorer, unscored

LN2 = math.log(2)


@scorer("perplexity", higher_is_better=False, aggregate="perplexity", task_kinds=("loglikelihood",))
def perplexity():
    """Perplexity over the counted tokens (the task's mask): NLL sum weighted by token count."""

    def score(sample, record):
        if record.unsupported:
            return unscored(record.unsupported, label="unsupported")
        if record.nll_sum is None or not record.n_tokens:
            return unscored("no counted tokens (the mask selected none)")
        return Score(record.nll_sum, f"NLL {record.nll_sum:.3f} over {record.n_tokens} tokens", weight=record.n_tokens)

    return score


@scorer("bits_per_byte", higher_is_better=False, aggregate="ratio", task_kinds=("loglikelihood",))
def bits_per_byte():
    """Bits per UTF-8 byte of the scored text: NLL / ln 2 weighted by byte count (tokenizer-independent)."""

    def score(sample, record):
        if record.unsupported:
            return unscored(record.unsupported, label="unsupported")
        if record.nll_sum is None or not record.n_bytes:
            return unscored("no byte count of the scored text (a run made before bits per byte was recorded)")
        return Score(record.nll_sum / LN2, f"{record.nll_sum / LN2:.1f} bits over {record.n_bytes} bytes",
                     weight=record.n_bytes)

    return score
