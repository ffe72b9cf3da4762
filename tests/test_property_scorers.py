"""Property-based tests (hypothesis) for every scorer and parser: whatever the answer (arbitrary
Unicode, lone surrogates, NUL bytes, mixed scripts, fences and brackets that never close, 10,000
levels of JSON nesting, megabyte answers), a scorer never raises and always returns a decided value
or "unscored" with a reason.

Scorers are taken from the registry (`registered_scorers`), so a scorer added or rewritten later
(the refusal classifier) is covered without touching this file; each gets the lab1 samples it
applies to. Examples are derandomized (the same on every run) and bounded in number, so the file
stays fast. The megabyte inputs run in a child process with a generous time limit: a regex with
catastrophic backtracking turns 1 MB into hours and is caught there; the time a scorer really
takes per input size is printed by `bench/scorer_scaling.py`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import REPO

from harness.records import SampleRecord
from harness.scorers import Score, registered_scorers
from harness.text import split_thinking

settings.register_profile("harness", max_examples=150, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("harness")

# Pieces that make scorers work: fences, brackets, table rules, thinking tags, refusal phrases in
# two languages, judge verdict lines, full-width and zero-width characters, other scripts, NUL,
# lone surrogates.
FRAGMENTS = [
    "```json\n", "```", "\n", " ", "{", "}", "[", "]", '"', ":", ",", "0", "-1e999", "null", '{"a": [1, {"b": 2}]}',
    "| a | b |\n", "|---|---|\n", "|:--|--:|", "\\|", "<think>", "</think>", "<THINK>", "I can't help with that. ",
    "I'm sorry, but ", "sorry, but ", "However, here is how: 1. ", "- step\n", "As an AI, ", "我不能帮你。", "但是",
    "抱歉，", "这是违法的。", "Verdict: [[A]]\n", "Verdict: [[tie]]", "Label: [[full_refusal]]\n", "Reason: ok\n",
    "instruction_following: 7\n", "fluency: 10/10\n", "ＶＥＲＤＩＣＴ：［［Ｂ］］", "\u200b", "\u202e", "\ufeff", "\x00",
    "\ud800", "\udfff", "😀", "مرحبا", "नमस्ते", "Привет", "カタカナ", "ﬁ", "Å", "\r\n", "\t",
]
answers = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=300),  # any code point, surrogates included
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=60).map("".join),
)


def _lab1_samples() -> list[dict]:
    """One sample of every shape lab1 has (json with and without schema, markdown tables, refuse,
    comply, a compare10 prompt), so each scorer meets the samples it applies to."""
    seen, out = set(), []
    for name in ("format.jsonl", "safety.jsonl", "compare10.jsonl"):
        for line in (REPO / "suites" / "data" / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            shape = (name, row.get("check"), "schema" in row, row.get("expect"))
            if shape not in seen:
                seen.add(shape)
                out.append(row)
    return out


SAMPLES = _lab1_samples()
# every scorer the package registers, and any a plugin adds; not the deliberately odd ones that other
# test modules register for their own tests (one raises on purpose)
PER_SAMPLE = {name: info for name, info in registered_scorers().items()
              if not info.batch and not info.factory.__module__.startswith("test_")}
MODES = {"json_valid": [{"mode": "strict"}, {"mode": "lenient"}],
         # the text checks need what to look for: a fixed string, and a sample field
         "contains": [{"value": "json"}, {"field": "prompt"}], "exact_match": [{"value": "yes"}],
         "regex": [{"pattern": r"\d+"}], "lm_eval_metric": [{"metric": "acc"}]}


def _instances():
    for name, info in sorted(PER_SAMPLE.items()):
        for params in MODES.get(name, [{}]):
            yield f"{name}{params or ''}", info, info.factory(**params)


INSTANCES = list(_instances())


def _record(text: str, finish_reason: str | None = "stop") -> SampleRecord:
    return SampleRecord("ckpt", "m", "t", "x", "prompt", {}, output=text, raw=text, finish_reason=finish_reason)


def assert_decided_or_unscored(score, label: str) -> None:
    assert score is None or isinstance(score, Score), label
    if score is None:
        return  # the scorer does not apply to this sample
    assert isinstance(score.reason, str) and score.reason, label
    if score.value is None:
        assert score.reason.startswith("unscored: "), (label, score)
    else:
        assert isinstance(score.value, float) and not math.isnan(score.value), (label, score)


def test_every_registered_per_sample_scorer_is_covered():
    # the registry has them all (a new scorer is picked up here) and each meets a sample it scores
    assert {"json_valid", "json_schema", "markdown_table", "refusal", "usability", "perplexity"} <= set(PER_SAMPLE)
    for label, info, fn in INSTANCES:
        if "generate" in info.task_kinds:
            assert any(fn(s, _record("x")) is not None for s in SAMPLES), f"{label} applies to no lab1 sample"


@given(text=answers, finish=st.sampled_from(["stop", "length", None]), sample=st.sampled_from(SAMPLES))
def test_generate_scorers_never_raise_and_always_decide_or_say_why(text, finish, sample):
    record = _record(text, finish)
    for label, info, fn in INSTANCES:
        if "generate" in info.task_kinds:
            assert_decided_or_unscored(fn(dict(sample), record), label)


@given(nll=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
       n=st.one_of(st.none(), st.integers(min_value=-3, max_value=10**9)),
       unsupported=st.one_of(st.none(), st.text(min_size=1, max_size=40)))
def test_loglikelihood_scorers_never_raise(nll, n, unsupported):
    record = SampleRecord("ckpt", "m", "ppl", "x", None, {}, nll_sum=nll, n_tokens=n, unsupported=unsupported)
    for label, info, fn in INSTANCES:
        if "loglikelihood" in info.task_kinds:
            score = fn({}, record)
            assert score is None or isinstance(score, Score), label
            if score is not None and score.value is None:
                assert score.reason.startswith("unscored: "), (label, score)


@settings(max_examples=25)  # each example is up to 20k characters through every scorer and sample
@example(nesting=10_000, opener="[", closed=True, prose=False)
@example(nesting=10_000, opener='{"a":', closed=False, prose=True)
@given(nesting=st.integers(min_value=1, max_value=10_000), opener=st.sampled_from(["[", '{"a":']),
       closed=st.booleans(), prose=st.booleans())
def test_deeply_nested_json_is_decided_or_unscored(nesting, opener, closed, prose):
    closer = "]" if opener == "[" else "}"
    text = opener * nesting + "1" + (closer * nesting if closed else "")
    if prose:
        text = f"Here you go: {text} done"
    record = _record(text)
    for label, info, fn in INSTANCES:
        if "generate" in info.task_kinds:
            for sample in SAMPLES:
                assert_decided_or_unscored(fn(dict(sample), record), label)


# ---- judge verdict parsers and the judge scorers' handling of a reply ----------------------
def _parsers():
    from judges.verdicts import parse_pairwise, parse_refusal, parse_rubric

    return {"pairwise": parse_pairwise, "rubric": parse_rubric, "refusal": parse_refusal}


@given(reply=answers)
def test_verdict_parsers_never_raise_and_either_parse_or_say_why(reply):
    from judges.verdicts import DIMENSIONS, PAIRWISE_CHOICES, REFUSAL_LABELS

    for kind, parse in _parsers().items():
        verdict = parse(reply)
        if verdict.ok:
            if kind == "pairwise":
                assert verdict.value in PAIRWISE_CHOICES
            elif kind == "refusal":
                assert verdict.value in REFUSAL_LABELS
            else:
                assert set(verdict.value) == set(DIMENSIONS) and all(1 <= v <= 10 for v in verdict.value.values())
        else:
            assert verdict.value is None and verdict.error, (kind, reply)


@given(reply=st.one_of(st.none(), answers), finish=st.sampled_from(["stop", "length", None]),
       error=st.one_of(st.none(), st.text(min_size=1, max_size=60)))
def test_registered_judge_scorers_turn_any_reply_into_a_verdict_or_a_reason(reply, finish, error):
    from judges.client import JudgeReply
    from judges.scorers import Job

    for name, info in registered_scorers().items():
        if not info.batch or info.factory.__module__.startswith("test_"):
            continue
        judge = info.factory()
        exchange = judge.exchange(Job(("ckpt", "t", "x"), None, "t", []), JudgeReply(reply, error, finish_reason=finish))
        assert exchange["status"] in {"ok", "parse_failure", "judge_error"}, name
        assert (exchange["status"] == "ok") == (exchange["error"] is None), (name, exchange)


# ---- thinking blocks: the linear scan gives what the regexes gave ---------------------------
def _split_thinking_by_regex(raw: str) -> str:
    """The earlier regex implementation (one `.*?` scan per unclosed tag: quadratic), as the oracle."""
    import re

    block = re.compile(r"<think>.*?</think>\s*", re.DOTALL | re.IGNORECASE)
    orphan = re.compile(r"^(?:(?!<think>).)*?</think>\s*", re.DOTALL | re.IGNORECASE)
    text = raw or ""
    end = text.lower().find("</think>")
    if end >= 0 and "<think>" not in text[:end].lower():
        text = orphan.sub("", text, count=1)
    text = block.sub("", text)
    match = re.search(r"<think>", text, re.IGNORECASE)
    return (text[: match.start()] if match else text).strip()


@given(st.lists(st.sampled_from(["<think>", "</think>", "<THINK>", "</Think>", " ", "\n", "a", "b c"]), max_size=12).map("".join))
def test_split_thinking_matches_the_regex_definition(raw):
    assert split_thinking(raw) == _split_thinking_by_regex(raw)


# ---- megabyte answers: no super-linear blow-up -----------------------------------------------
HUGE_CHECK = REPO / "bench" / "scorer_scaling.py"


def test_megabyte_answers_finish_in_every_scorer_and_parser():
    """A child process scores 1 MB answers of adversarial shapes with every scorer and parser;
    it must finish (catastrophic backtracking on 1 MB takes hours; linear code takes seconds even
    on a loaded 2-core machine), decide or say why, and never raise."""
    done = subprocess.run([sys.executable, str(HUGE_CHECK), "--sizes", "1000000", "--check"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "checked: every scorer decided or said why on every input" in done.stdout
