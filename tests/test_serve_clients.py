"""`harness serve` for real clients, spoken to with the real openai client over 127.0.0.1: SSE
streaming, stop sequences, /v1/completions with logprobs and echo (what lm-evaluation-harness's
local-completions model sends), chat logprobs, /health, the tokenizer routes, and the OpenAI
error shape for refusals, validation errors and unknown routes."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import openai
import pytest
import torch

from harness.models.backends.hf import HFBackend
from harness.models.checkpoint import resolve_checkpoint
from harness.serve.app import build_app, serve_in_background

HELLO = [{"role": "user", "content": "用三句话介绍量子计算"}]
TEXT = "The quick brown fox jumps over the lazy dog."


@pytest.fixture(scope="module")
def backend(tiny_adapter):
    return HFBackend(resolve_checkpoint(str(tiny_adapter)))


@pytest.fixture(scope="module")
def url(backend):
    with serve_in_background(build_app(backend, "tiny-sft")) as base:
        yield base


def _client(url):
    return openai.OpenAI(base_url=url, api_key="EMPTY", max_retries=0, timeout=60)


def _chat(url, **kw):
    return _client(url).chat.completions.create(model="tiny-sft", messages=HELLO, **({"max_tokens": 24} | kw))


def _raw(url: str, path: str, body: dict | None = None, method: str | None = None) -> tuple[int, dict]:
    root = url.removesuffix("/v1")
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(root + path, data=data, method=method or ("POST" if data else "GET"),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---- streaming and stop sequences ----------------------------------------------------------
def test_streamed_chat_is_the_same_answer_in_pieces(url):
    whole = _chat(url)
    chunks = list(_chat(url, stream=True, stream_options={"include_usage": True}))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(pieces) == whole.choices[0].message.content and len(pieces) > 3
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == [whole.choices[0].finish_reason]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.object == "chat.completion.chunk" and c.model == "tiny-sft" for c in chunks)


def test_stop_sequence_cuts_the_answer_before_it_streamed_or_not(url):
    free = _chat(url).choices[0].message.content
    stop = free[8:11]  # a piece the greedy answer is known to contain
    cut = free[: free.index(stop)]
    resp = _chat(url, stop=[stop, "never-there"])
    assert resp.choices[0].message.content == cut and resp.choices[0].finish_reason == "stop"
    assert resp.usage.completion_tokens < 24
    streamed = "".join(c.choices[0].delta.content or "" for c in _chat(url, stop=stop, stream=True) if c.choices)
    assert streamed == cut


def test_streamed_completion_and_its_stop(url):
    client = _client(url)
    whole = client.completions.create(model="tiny-sft", prompt=TEXT, max_tokens=20, temperature=0)
    text = whole.choices[0].text
    stream = client.completions.create(model="tiny-sft", prompt=TEXT, max_tokens=20, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in stream) == text
    stop = text[6:9]
    cut = client.completions.create(model="tiny-sft", prompt=TEXT, max_tokens=20, temperature=0, stop=stop)
    assert cut.choices[0].text == text[: text.index(stop)] and cut.choices[0].finish_reason == "stop"


# ---- completions with logprobs (lm-evaluation-harness) -------------------------------------
def _reference_logprobs(backend, ids: list[int]) -> list[float]:
    with torch.no_grad():
        logits = backend.model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    return torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0].tolist()


def test_completion_echo_logprobs_score_the_prompt_like_lm_eval_asks(url, backend):
    """lm-eval's loglikelihood request: token ids, max_tokens 1, echo, logprobs 1, temperature 0."""
    ids = backend.encode_text(TEXT)
    resp = _client(url).completions.create(model="tiny-sft", prompt=[ids], max_tokens=1, echo=True, logprobs=1,
                                           temperature=0, seed=1234)
    lp = resp.choices[0].logprobs
    assert len(lp.token_logprobs) == len(ids) + 1 and lp.token_logprobs[0] is None and lp.top_logprobs[0] is None
    assert lp.token_logprobs[1 : len(ids)] == pytest.approx(_reference_logprobs(backend, ids), abs=1e-4)
    generated = lp.token_logprobs[-1]
    assert generated == pytest.approx(max(lp.top_logprobs[-1].values()), abs=1e-6)  # greedy: the likeliest token
    assert resp.choices[0].text.startswith(backend.tokenizer.decode(ids))
    assert "".join(lp.tokens) == resp.choices[0].text and lp.text_offset[:2] == [0, len(lp.tokens[0])]
    assert resp.usage.prompt_tokens == len(ids) and resp.usage.completion_tokens == 1


def test_max_tokens_zero_with_echo_scores_the_prompt_only_and_batches_prompts(url, backend):
    texts = [TEXT, "a | b |"]
    resp = _client(url).completions.create(model="tiny-sft", prompt=texts, max_tokens=0, echo=True, logprobs=0)
    assert [c.index for c in resp.choices] == [0, 1]
    for text, choice in zip(texts, resp.choices):
        ids = backend.encode_text(text)
        assert choice.text == text and choice.logprobs.token_logprobs[1:] == pytest.approx(_reference_logprobs(backend, ids), abs=1e-4)
    assert resp.usage.completion_tokens == 0


def test_chat_logprobs_cover_the_answer_tokens(url):
    resp = _chat(url, logprobs=True, top_logprobs=3, max_tokens=6)
    content = resp.choices[0].logprobs.content
    assert len(content) == resp.usage.completion_tokens == 6
    assert "".join(t.token for t in content) == resp.choices[0].message.content
    for t in content:  # greedy: the chosen token is the likeliest
        assert len(t.top_logprobs) == 3 and t.logprob == pytest.approx(t.top_logprobs[0].logprob, abs=1e-6)
        assert bytes(t.bytes).decode("utf-8") == t.token


# ---- health, tokenizer routes ------------------------------------------------------------------
def test_health_and_the_tokenizer_routes(url, backend):
    assert _raw(url, "/health") == (200, {"status": "ok", "model": "tiny-sft"})
    status, info = _raw(url, "/tokenizer_info")
    assert status == 200 and info["eos_token"] == "<|im_end|>" and "im_start" in info["chat_template"]
    status, tok = _raw(url, "/tokenize", {"prompt": TEXT, "add_special_tokens": False})
    assert status == 200 and tok["tokens"] == backend.encode_text(TEXT) and tok["count"] == len(tok["tokens"])
    # the tiny model's position limit (its tokenizer records none: transformers says 1e30 there)
    assert tok["max_model_len"] == 1024 == info["model_max_length"]
    assert _raw(url, "/detokenize", {"tokens": tok["tokens"]}) == (200, {"prompt": TEXT})


# ---- errors: the OpenAI shape, one clear message -------------------------------------------
@pytest.mark.parametrize("kwargs, fragment", [
    ({"extra_body": {"tools": [{"type": "function"}]}}, "field 'tools' is not supported"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}},
     "cannot constrain decoding to JSON"),
    ({"response_format": {"type": "json_object"}}, "cannot constrain decoding to JSON"),
    ({"presence_penalty": 0.5}, "presence_penalty is not supported"),
    ({"logit_bias": {"5": 1.0}}, "logit_bias is not supported"),
    ({"logprobs": True, "stream": True}, "logprobs with stream: true is not supported"),
    ({"top_logprobs": 2}, "top_logprobs needs logprobs: true"),
    ({"stop": [""]}, "stop must be 1 to 16 non-empty strings"),
    ({"temperature": "hot"}, "temperature: Input should be a valid number"),
    ({"extra_body": {"stream": "maybe"}}, "stream: Input should be a valid boolean"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages.0.content: Input should be a valid"),
    ({"extra_body": {"chat_template_kwargs": {"reasoning_effort": "high"}}}, "field 'chat_template_kwargs.reasoning_effort' is not supported"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role"),
    ({"messages": []}, "messages: List should have at least 1 item"),
])
def test_chat_fields_it_cannot_honour_are_refused_not_dropped(url, kwargs, fragment):
    args = {"model": "tiny-sft", "messages": HELLO, "max_tokens": 3} | kwargs
    with pytest.raises(openai.BadRequestError) as e:
        _client(url).chat.completions.create(**args)
    assert fragment in e.value.body["message"], e.value.body
    assert e.value.body["type"] == "invalid_request_error"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"max_tokens": 0}, "max_tokens 0 needs echo: true"),
    ({"suffix": "end"}, "suffix (insertion) is not supported"),
    ({"best_of": 2}, "only best_of=1"),
    ({"n": 2}, "only n=1"),
    ({"echo": True, "stream": True}, "echo and logprobs with stream: true are not supported"),
    ({"prompt": [[10**7]]}, "prompt token ids must be in [0,"),
    ({"prompt": ""}, "the prompt is empty"),
])
def test_completion_fields_it_cannot_honour_are_refused(url, kwargs, fragment):
    args = {"model": "tiny-sft", "prompt": TEXT, "max_tokens": 3} | kwargs
    with pytest.raises(openai.BadRequestError) as e:
        _client(url).completions.create(**args)
    assert fragment in e.value.body["message"], e.value.body


def test_unknown_routes_wrong_methods_and_bad_json_have_the_openai_error_shape(url):
    status, body = _raw(url, "/v1/embeddings", {"input": "x"})
    assert status == 404 and set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == "not_found_error" and "/v1/embeddings" in body["error"]["message"]
    status, body = _raw(url, "/v1/chat/completions", method="GET")
    assert status == 405 and body["error"]["type"] == "invalid_request_error"
    req = urllib.request.Request(url + "/chat/completions", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=30)
    assert e.value.code == 400 and json.loads(e.value.read())["error"]["message"] == "the request body is not valid JSON"
    with pytest.raises(openai.NotFoundError) as e:  # through the openai client too
        _client(url).post("/no-such-route", cast_to=object, body={})
    assert "no route POST /v1/no-such-route" in e.value.body["message"]


def test_a_client_that_leaves_mid_stream_stops_its_row(backend):
    app = build_app(backend, "tiny-sft")
    generator = app.state.generator
    with serve_in_background(app) as base:
        stream = _chat(base, stream=True, max_tokens=900)
        next(c for c in stream if c.choices and c.choices[0].delta.content)  # generation is under way
        stream.close()  # the client goes away
        deadline = time.time() + 60
        while not generator.finish_reasons and time.time() < deadline:
            time.sleep(0.05)
        assert generator.finish_reasons == ["cancelled"]
        assert _raw(base, "/health")[0] == 200 and _chat(base, max_tokens=2).usage.completion_tokens <= 2


def test_health_needs_no_key_the_api_does(backend):
    with serve_in_background(build_app(backend, "tiny-sft", api_key="sk-test")) as base:
        assert _raw(base, "/health")[0] == 200
        status, body = _raw(base, "/v1/models")
        assert status == 401 and body["error"]["type"] == "authentication_error"
