"""The metrics of loglikelihood tasks: each is transform(sum of NLL / sum of a per-sample count).

    perplexity     exp(sum nll / sum n_tokens): per token of the model's own tokenizer
    bits_per_byte  sum nll / (ln 2 * sum n_bytes): per UTF-8 byte of the scored text

Perplexity depends on the tokenizer (a model whose tokenizer cuts text into fewer, longer tokens
has fewer, harder predictions), so two models with different tokenizers cannot be compared by it.
Bits per byte divides the same total NLL by the UTF-8 byte count of the scored text, which is the
same for every tokenizer: models with different tokenizers compare on it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

LN2 = math.log(2)


@dataclass(frozen=True)
class LoglikelihoodMetric:
    name: str
    denominator: str  # the record field the NLL sum is divided by
    transform: Callable


LOGLIKELIHOOD_METRICS = {
    "perplexity": LoglikelihoodMetric("perplexity", "n_tokens", np.exp),
    "bits_per_byte": LoglikelihoodMetric("bits_per_byte", "n_bytes", lambda x: x / LN2),
}
