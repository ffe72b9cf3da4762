"""Which tokens of a conversation a loglikelihood counts, and the UTF-8 bytes they spell.

Shared by every backend that computes loglikelihoods (hf in process; openai and vllm over
`/v1/completions` with echo), so perplexity and bits per byte count the same tokens everywhere.
"""

from __future__ import annotations

from harness.models.chat_template import assistant_mask, training_chat_template


class CountedTokens:
    """A tokenizer's view of conversations as loglikelihood scores them."""

    def __init__(self, tokenizer, where: str):
        self.tokenizer, self.where = tokenizer, where
        self._training_template: str | None = None

    def tokens(self, messages: list[dict], mask: str = "assistant") -> tuple[list[int], list[int]]:
        """(token ids, 0/1 per token: counted or not). mask="assistant" counts the assistant's tokens
        (end-of-turn included) as the chat template marks them; mask="all" every token after the first."""
        if mask == "assistant":
            if self._training_template is None:
                self._training_template = training_chat_template(self.tokenizer, self.where)
            ids, m = assistant_mask(self.tokenizer, messages, self._training_template)
            return list(ids), list(m)
        ids = self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        return list(ids), [0] + [1] * (len(ids) - 1)

    def counted_bytes(self, ids: list[int], mask: list[int]) -> int:
        """UTF-8 bytes of the text the counted tokens spell, special tokens (end of turn) left out."""
        total, span = 0, []
        for token, counted in zip(ids[1:] + [None], mask[1:] + [0]):
            if counted:
                span.append(token)
            elif span:
                total += len(self.tokenizer.decode(span, skip_special_tokens=True).encode("utf-8"))
                span = []
        return total
