"""The judge client against real HTTP servers on 127.0.0.1 with the real openai client:
retries with backoff on 500/429/timeouts (capped, honouring Retry-After), no retry on 4xx,
give-up on a dead endpoint, bounded concurrency, the disk cache (a rerun sends no request), and an
embedded `local:` judge never sees the user's API key.

Waits between retries are recorded through the client's `sleep` hook instead of slept, and
concurrency is checked with a barrier in the server, so no test here depends on the clock."""

from __future__ import annotations

import pytest
from judge_servers import ScriptedJudge, closed_port, running

from harness.models.openai_client import MAX_BACKOFF_S, ChatClient, ChatRequest, EndpointSettings
from judges.cache import JudgeCache
from judges.client import Judge
from judges.local import JudgeTarget
from judges.options import JudgeOptions

PAIR_PROMPT = [{"role": "user", "content": "[The Start of Answer A]\nlong answer\n[The End of Answer A]\n\n"
                                           "[The Start of Answer B]\nshort\n[The End of Answer B]"}]


class Waits(list):
    """The client's `sleep`: records each wait instead of sleeping."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _client(url, **kw) -> ChatClient:
    settings = dict(base_url=url, retries=3, backoff_s=0.01, timeout_s=5.0) | kw
    return ChatClient(EndpointSettings(**settings), "scripted-judge")


def test_retries_500_and_429_then_succeeds():
    judge = ScriptedJudge(fail_first=[500, 429, 503])
    with running(judge) as url:
        client = _client(url)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    assert reply.ok, reply.error
    assert "Verdict: [[A]]" in reply.content
    assert reply.attempts == 4 and judge.requests == 4 and client.retries == 3


def test_gives_up_after_the_retries_with_the_last_error():
    judge = ScriptedJudge(fail_first=[500] * 10)
    with running(judge) as url:
        (reply,) = _client(url, retries=2).complete_all([ChatRequest(PAIR_PROMPT)])
    assert not reply.ok and judge.requests == 3
    assert "HTTP 500" in reply.error and "scripted failure 500" in reply.error and "3 attempts" in reply.error


def test_a_client_error_is_not_retried():
    judge = ScriptedJudge(fail_first=[400])
    with running(judge) as url:
        (reply,) = _client(url).complete_all([ChatRequest(PAIR_PROMPT)])
    assert not reply.ok and judge.requests == 1 and reply.error.startswith("HTTP 400")


def test_a_timeout_is_retried():
    judge = ScriptedJudge(stall_first_s=3.0, stall_count=1)
    with running(judge) as url:
        client = _client(url, timeout_s=1.0)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    assert reply.ok and reply.attempts == 2 and judge.requests == 2


def test_a_dead_endpoint_fails_fast_and_gives_up():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    client = _client(url, retries=1, concurrency=2, give_up_after=3)
    replies = client.complete_all([ChatRequest(PAIR_PROMPT)] * 20)  # fast: counted by attempts, not timed
    assert all(not r.ok for r in replies)
    assert "connection error" in replies[0].error
    assert sum("gave up: the endpoint failed 3 requests in a row" in r.error for r in replies) >= 15
    assert client.http_attempts <= 2 * 5  # only the first few were ever sent


def test_concurrency_is_bounded_and_used():
    """The server holds each request until 4 are in flight at once (a barrier), then 0.3 s more:
    a client sending one at a time never gets past the barrier (the test fails on its hold limit),
    one sending all 8 at once shows more than 4 in flight."""
    judge = ScriptedJudge(hold_until_in_flight=4, then_hold_s=0.3)
    with running(judge) as url:
        replies = _client(url, concurrency=4).complete_all([ChatRequest(PAIR_PROMPT)] * 8)
    assert all(r.ok for r in replies) and judge.requests == 8
    assert judge.max_in_flight == 4


def test_backoff_doubles():
    waits = Waits()
    judge = ScriptedJudge(fail_first=[500, 500, 500])
    with running(judge) as url:
        client = ChatClient(EndpointSettings(base_url=url, retries=3, backoff_s=0.5), "m", sleep=waits)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    assert reply.ok and waits == [0.5, 1.0, 2.0] == client.waits


def test_backoff_is_capped():
    waits = Waits()
    judge = ScriptedJudge(fail_first=[500, 500, 500])
    with running(judge) as url:
        client = ChatClient(EndpointSettings(base_url=url, retries=3, backoff_s=10.0), "m", sleep=waits)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    assert reply.ok and MAX_BACKOFF_S == 30.0
    assert waits == [10.0, 20.0, 30.0]  # not 40: the third wait hits the cap


@pytest.mark.parametrize("retry_after, expected", [("7", [7.0]), ("100", [100.0]), ("soon", [0.5]), ("3600", None)])
def test_a_429_waits_its_retry_after(retry_after, expected):
    """Retry-After replaces the backoff (which would wait 0.5 s); a value that is not a number
    falls back to the backoff; a wait over 2 minutes is not waited for: the request fails."""
    waits = Waits()
    judge = ScriptedJudge(fail_first=[429], retry_after=retry_after)
    with running(judge) as url:
        client = ChatClient(EndpointSettings(base_url=url, retries=2, backoff_s=0.5), "m", sleep=waits)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    if expected is None:
        assert not reply.ok and reply.attempts == 1 and waits == [] and reply.error.startswith("HTTP 429")
    else:
        assert reply.ok and reply.attempts == 2 and waits == expected


@pytest.mark.parametrize("status", [401, 404])
def test_a_bad_key_or_an_unknown_model_is_not_retried(status):
    waits = Waits()
    judge = ScriptedJudge(fail_first=[status])
    with running(judge) as url:
        client = ChatClient(EndpointSettings(base_url=url, retries=3, backoff_s=0.01), "m", sleep=waits)
        (reply,) = client.complete_all([ChatRequest(PAIR_PROMPT)])
    assert not reply.ok and reply.error.startswith(f"HTTP {status}") and "scripted failure" in reply.error
    assert judge.requests == 1 and client.http_attempts == 1 and waits == []


def test_a_local_judge_never_receives_the_users_key(tiny_model, monkeypatch):
    """`--judge local:MODEL` starts harness serve in this process; requests to it carry the
    placeholder key, never the one in OPENAI_API_KEY (meant for a remote judge)."""
    import harness.serve.app
    from judges.client import Judge
    from judges.local import judge_target

    monkeypatch.setenv("OPENAI_API_KEY", "sk-user-secret-for-a-remote-judge")
    seen: list[str] = []
    real_build_app = harness.serve.app.build_app

    def recording_build_app(*args, **kwargs):
        app = real_build_app(*args, **kwargs)

        @app.middleware("http")
        async def record(request, call_next):
            seen.append(request.headers.get("authorization", ""))
            return await call_next(request)

        return app

    monkeypatch.setattr(harness.serve.app, "build_app", recording_build_app)
    opts = JudgeOptions(url=f"local:{tiny_model}", max_tokens=2, endpoint=EndpointSettings(backoff_s=0.0)).check()
    with judge_target(opts) as target:
        (reply,) = Judge(opts, target).ask_all([PAIR_PROMPT])
    assert reply.error is None and reply.text is not None
    assert seen == ["Bearer EMPTY"]


def test_cache_makes_a_rerun_free_and_keys_on_the_prompt(tmp_path):
    judge = ScriptedJudge()
    prompts = [PAIR_PROMPT, [{"role": "user", "content": "other"}], PAIR_PROMPT]
    with running(judge) as url:
        opts = JudgeOptions(url=url, model="scripted-judge", cache_dir=str(tmp_path), endpoint=EndpointSettings(backoff_s=0.01))
        target = JudgeTarget(url, "scripted-judge", "scripted-judge", "OPENAI_API_KEY")
        first = Judge(opts, target, cache=JudgeCache(tmp_path)).ask_all(prompts)
        assert judge.requests == 2  # the repeated prompt is sent once
        assert [r.cached for r in first] == [False, False, True]
        second_judge = Judge(opts, target, cache=JudgeCache(tmp_path))
        second = second_judge.ask_all(prompts)
        assert judge.requests == 2 and second_judge.http_requests == 0
        assert all(r.cached for r in second) and [r.text for r in second] == [r.text for r in first]
        opts.max_tokens = 77  # other settings: other key
        Judge(opts, target, cache=JudgeCache(tmp_path)).ask_all([PAIR_PROMPT])
        assert judge.requests == 3


def test_failures_are_not_cached(tmp_path):
    judge = ScriptedJudge(fail_first=[400])
    with running(judge) as url:
        opts = JudgeOptions(url=url, model="m", endpoint=EndpointSettings(backoff_s=0.01))
        target = JudgeTarget(url, "m", "m", "OPENAI_API_KEY")
        (bad,) = Judge(opts, target, cache=JudgeCache(tmp_path)).ask_all([PAIR_PROMPT])
        (good,) = Judge(opts, target, cache=JudgeCache(tmp_path)).ask_all([PAIR_PROMPT])
    assert bad.error and not bad.cached
    assert good.text and not good.cached and judge.requests == 2
