"""One generated sequence, decoded as it grows: where it ends (end-of-turn token, a stop string,
the token limit, a client that went away) and which text is safe to show while it is still
growing.

The hf backend feeds every generated token through a `DecodeStream`, during generation when
someone watches (stop strings, streaming, cancellation: then a finished row stops generating) and
after it otherwise; either way the final text is `tokenizer.decode(tokens, skip_special_tokens=True)`
cut before the first stop string, so streamed and non-streamed answers are the same text.

While streaming, the tail that could still turn into a stop string is held back (a stop string
is never shown, even in part), and so is a trailing U+FFFD: a character whose bytes are split
across tokens is shown once it is whole.
"""

from __future__ import annotations

import threading
from typing import Callable

REPLACEMENT = "\ufffd"


class DecodeStream:
    def __init__(self, tokenizer, eos_ids: set[int], limit: int, *, stop: tuple[str, ...] = (),
                 on_text: Callable[[str], None] | None = None, cancelled: threading.Event | None = None):
        self.tokenizer = tokenizer
        self.eos_ids = eos_ids
        self.limit = limit  # max new tokens (an end-of-turn token counts)
        self.stop = tuple(s for s in stop if s)
        self.on_text = on_text  # called with each new piece of visible text (streaming)
        self.cancelled = cancelled
        self.token_ids: list[int] = []  # generated tokens, the end-of-turn token excluded
        self.finish_reason: str | None = None  # "stop" | "length" | "cancelled" once done
        self.consumed = 0  # tokens generated for this row (end-of-turn included)
        self._text = ""  # decoded tokens, uncut
        self._cut: int | None = None  # index of the first stop string in _text
        self._shown = 0  # characters handed to on_text

    @property
    def watched(self) -> bool:
        """Whether generation must consult this stream after every token."""
        return bool(self.stop or self.on_text or self.cancelled)

    @property
    def done(self) -> bool:
        return self.finish_reason is not None

    @property
    def text(self) -> str:
        """The answer: everything decoded, cut before the first stop string."""
        return self._text if self._cut is None else self._text[: self._cut]

    @property
    def answer(self) -> str:
        """The text as an answer to score: a byte-level tokenizer spreads one Chinese character over
        several tokens, so the token limit can cut one in half and its bytes decode to U+FFFD.
        Nothing follows a cut answer: those are dropped. (`text` keeps them: it must match the
        token pieces a server reports.)"""
        return self.text.rstrip(REPLACEMENT) if self.finish_reason == "length" else self.text

    @property
    def completion_tokens(self) -> int:
        return self.consumed

    def push(self, token_id: int) -> bool:
        """Take the next generated token; True once the sequence is finished."""
        if self.done:
            return True
        if self.cancelled is not None and self.cancelled.is_set():
            self.finish_reason = "cancelled"
            return True
        self.consumed += 1
        if token_id in self.eos_ids:
            self._end("stop")
            return True
        self.token_ids.append(token_id)
        if self.watched:
            self._decode()
            if self._cut is not None:
                self._end("stop")
                return True
            self._show(self._safe_end())
        if self.consumed >= self.limit:
            self._end("length")
        return self.done

    def push_all(self, token_ids: list[int]) -> None:
        for t in token_ids:
            if self.push(t):
                break

    def finish(self) -> None:
        """Generation ended: whatever is not finished yet hit the token limit."""
        if not self.done:
            self._end("length")

    def kept_tokens(self) -> list[int]:
        """The generated tokens that make up `text` (with a stop string: those up to the one that
        completes the text before it)."""
        if self._cut is None:
            return list(self.token_ids)
        for k in range(len(self.token_ids) + 1):
            if len(self.tokenizer.decode(self.token_ids[:k], skip_special_tokens=True)) >= self._cut:
                return self.token_ids[:k]
        return list(self.token_ids)

    # ---- internals ------------------------------------------------------------------------
    def _decode(self) -> None:
        self._text = self.tokenizer.decode(self.token_ids, skip_special_tokens=True)
        hits = [i for i in (self._text.find(s) for s in self.stop) if i >= 0]
        if hits:
            self._cut = min(hits)

    def _end(self, reason: str) -> None:
        if not self.watched:
            self._decode()
        self.finish_reason = reason
        self._show(len(self.text))

    def _safe_end(self) -> int:
        """How much of the text can be shown now: not a tail that may still become a stop string,
        not a half character."""
        end = len(self._text)
        for s in self.stop:
            for k in range(min(len(s) - 1, end), 0, -1):
                if self._text.endswith(s[:k]):
                    end = min(end, len(self._text) - k)
                    break
        while end > self._shown and self._text[end - 1] == REPLACEMENT:
            end -= 1
        return end

    def _show(self, end: int) -> None:
        if self.on_text and end > self._shown:
            piece = self.text[self._shown : end]
            self._shown = end
            self.on_text(piece)


def token_pieces(tokenizer, ids: list[int], window: int = 6) -> list[str]:
    """The text each token adds, so that the pieces join to the decoded text: a token that ends
    inside a multi-byte character adds "" and the token completing it adds the character.
    Each token is decoded with a few tokens before it (not alone), so tokenizers that drop a
    leading space at the start of a decode still give it back here."""
    pieces: list[str] = []
    emitted = 0  # tokens whose text is in `pieces`
    for i in range(len(ids)):
        start = max(0, emitted - window)
        before = tokenizer.decode(ids[start:emitted])
        after = tokenizer.decode(ids[start : i + 1])
        if after.endswith(REPLACEMENT) and i + 1 < len(ids):
            pieces.append("")
            continue
        pieces.append(after[len(before):])
        emitted = i + 1
    return pieces
