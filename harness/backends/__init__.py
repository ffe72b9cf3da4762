"""Model backends: turn chat messages into text, and conversations into per-token NLL.

`hf` (transformers + peft) runs locally. Every backend exposes the same two calls:
`generate(batch, settings, role)` and `loglikelihood(batch, mask, role)`.
"""

from harness.backends.base import Generation, split_thinking
from harness.backends.hf import HFBackend

__all__ = ["Generation", "HFBackend", "split_thinking"]
