"""Perplexity of a loglikelihood task: each sample's NLL sum over its counted tokens.

The metric is exp(sum of NLL / sum of tokens) over the samples (aggregate "perplexity"), so each
sample's score carries its NLL sum as the value and its token count as the weight.
"""

from __future__ import annotations

from harness.scorers import Score, scorer, unscored


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
