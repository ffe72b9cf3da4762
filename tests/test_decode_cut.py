"""An answer the token limit cuts inside a multi-byte character ends at the last whole character,
not in U+FFFD; a finished answer is decoded as it is."""

from __future__ import annotations

from harness.models.decode_stream import DecodeStream


def decoded(tok, ids: list[int], limit: int) -> str:
    stream = DecodeStream(tok, eos_ids={tok.eos_token_id}, limit=limit)
    stream.push_all(ids)
    stream.finish()
    return stream.answer


def test_a_character_cut_in_half_is_dropped(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    ids = tok.encode("答案是：量", add_special_tokens=False)
    whole = tok.decode(ids)
    assert whole == "答案是：量"
    assert decoded(tok, ids, limit=100) == whole
    # cut the last character's bytes short, token by token, as max_new_tokens would
    cut_points = [k for k in range(1, len(ids)) if tok.decode(ids[:k]).endswith("\ufffd")]
    assert cut_points, "the tokenizer should split a Chinese character over several tokens"
    for k in cut_points:
        text = decoded(tok, ids[:k], limit=k)
        assert "\ufffd" not in text and whole.startswith(text) and len(text) == len(tok.decode(ids[:k])) - 1
