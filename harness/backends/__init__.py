"""Model backends: turn chat messages into text, and conversations into per-token NLL.

`hf` (harness.backends.hf: transformers + peft) runs locally. Every backend exposes the same two
calls: `generate(batch, settings, role)` and `loglikelihood(batch, mask, role)`. The package
does not import torch by itself, so scoring answers made elsewhere loads no model code.
"""

from harness.backends.base import Generation, split_thinking

__all__ = ["Generation", "split_thinking"]
