"""DecodeStream with a real (tiny, locally trained) tokenizer: streamed pieces never show a stop
string, not even its first characters, nor half a character; they join to the final answer."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from harness.models.decode_stream import DecodeStream, token_pieces


@pytest.fixture(scope="module")
def tok(tiny_model):
    return AutoTokenizer.from_pretrained(tiny_model)


def _feed(tok, text: str, **kw) -> tuple[DecodeStream, list[str]]:
    shown: list[str] = []
    stream = DecodeStream(tok, {tok.eos_token_id}, limit=10_000, on_text=shown.append, **kw)
    stream.push_all(tok(text, add_special_tokens=False)["input_ids"])
    stream.finish()
    return stream, shown


def test_a_stop_string_is_never_shown_even_in_part(tok):
    stop = "<<STOP>>"
    assert len(tok(stop, add_special_tokens=False)["input_ids"]) > 2  # it arrives over several tokens
    stream, shown = _feed(tok, "The quick brown fox <<STOP>> jumps over", stop=(stop, "never"))
    assert stream.text == "The quick brown fox " and stream.finish_reason == "stop"
    assert "".join(shown) == "The quick brown fox "
    assert not any("<" in piece for piece in shown)


def test_half_characters_are_held_back_until_whole(tok):
    text = "用三句话介绍量子计算，写一首关于春天的五言绝句"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert any(tok.decode(ids[:k]).endswith("\ufffd") for k in range(1, len(ids)))  # some character spans tokens
    stream, shown = _feed(tok, text)
    assert "".join(shown) == text == stream.text and stream.finish_reason == "length"
    assert not any("\ufffd" in piece for piece in shown)


def test_end_of_turn_and_limit(tok):
    ids = tok("a | b |", add_special_tokens=False)["input_ids"]
    stream = DecodeStream(tok, {tok.eos_token_id}, limit=100)
    stream.push_all(ids + [tok.eos_token_id] + ids)
    assert stream.text == "a | b |" and stream.finish_reason == "stop" and stream.completion_tokens == len(ids) + 1
    short = DecodeStream(tok, {tok.eos_token_id}, limit=2)
    short.push_all(ids)
    assert short.finish_reason == "length" and short.token_ids == ids[:2]


def test_token_pieces_join_to_the_text(tok):
    text = "The quick brown fox 量子计算 jumps"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    pieces = token_pieces(tok, ids)
    assert len(pieces) == len(ids) and "".join(pieces) == text and "" in pieces  # a split character adds ""
