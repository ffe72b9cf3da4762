"""The judge as a grader of a lab report's written analysis: one request per written section
(template judges/templates/lab_analysis.en.md), through the same client, cache and retries as
the judge scorers. A reply without a well-formed `Score:` line, or a failed request, leaves the
section to be graded by hand, with the reason; a score is never guessed."""

from __future__ import annotations

import re

from harness.lab.grading import RubricItem, WrittenVerdict
from judges.prompt_templates import load_template
from judges.verdicts import _reason, normalise

TEMPLATE = "lab_analysis"
_SCORE = re.compile(r"^score\s*:\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?))?$", re.IGNORECASE)


def parse_score(reply: str, maximum: float) -> WrittenVerdict:
    lines = normalise(reply)
    keyed = [line for line in lines if re.match(r"^score\s*:", line, re.IGNORECASE)]
    if len(keyed) != 1:
        return WrittenVerdict(None, error=f"parse failure: {len(keyed)} 'Score:' lines, expected one")
    m = _SCORE.match(keyed[0])
    if not m:
        return WrittenVerdict(None, error=f"parse failure: '{keyed[0][:80]}' is not 'Score: <number>'")
    score = float(m.group(1))
    if not 0 <= score <= maximum:
        return WrittenVerdict(None, error=f"parse failure: score {score:g} is outside 0-{maximum:g}")
    return WrittenVerdict(score, _reason(lines))


def question_text(item: RubricItem) -> str:
    return (f"Section: {item.title}\nQuestion: {item.question}\nWhat a good answer does: {item.criteria}\n"
            f"Maximum points: {item.points:g}")


def grade_written(items: list[RubricItem], texts: dict[str, str], options, *, target=None,
                  usage: dict | None = None) -> dict[str, WrittenVerdict]:
    """item id -> verdict for every item with text, asked in one batch. `target`: the judge's
    endpoint when the caller resolved it already (else it is resolved here, a local judge started);
    `usage`, when given, has the batch's requests, tokens, cached replies and errors added to it."""
    from judges.cache import JudgeCache
    from judges.client import Judge
    from judges.local import judge_target

    todo = [i for i in items if (texts.get(i.id) or "").strip()]
    if not todo:
        return {}
    template = load_template(TEMPLATE, "en")
    prompts = [template.render(question=question_text(i), answer=texts[i.id].strip()) for i in todo]
    if target is None:
        with judge_target(options) as resolved:
            judge = Judge(options, resolved, cache=JudgeCache(options.cache_dir))
            replies = judge.ask_all(prompts)
    else:
        judge = Judge(options, target, cache=JudgeCache(options.cache_dir))
        replies = judge.ask_all(prompts)
    if usage is not None:
        for key, value in (("asked", len(replies)), ("requests", sum(r.requests for r in replies)),
                           ("cached", sum(r.cached for r in replies)), ("errors", sum(r.error is not None for r in replies)),
                           ("prompt_tokens", sum(r.prompt_tokens or 0 for r in replies)),
                           ("completion_tokens", sum(r.completion_tokens or 0 for r in replies))):
            usage[key] = usage.get(key, 0) + value
    out = {}
    for item, reply in zip(todo, replies):
        if reply.error:
            out[item.id] = WrittenVerdict(None, error=f"judge error: {reply.error}")
        else:
            verdict = parse_score(reply.text, item.points)
            out[item.id] = WrittenVerdict(verdict.score, f"judge {judge.model}: {verdict.reason}".rstrip(": "), verdict.error)
    return out
