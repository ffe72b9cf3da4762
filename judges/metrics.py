"""The metrics a judged task gets (only in runs with --judge), and the score ids they read.

    pairwise  judge_win_rate           ckpt vs base: win 1, tie 0.5, loss 0 (ckpt only)
              judge_swap_agreement     share of samples judged the same in both orders (ckpt only)
    rubric    rubric_<dimension>       1-10 per answer, per role (with the delta)
    refusal   judge_<refusal metric>   the task's refusal metrics, with the judge as classifier
              judge_refusal_agreement  judge and built-in classifier agree (refused or not)
"""

from __future__ import annotations

from harness.suite import MetricSpec, Suite, Task
from judges.verdicts import DIMENSIONS

PAIRWISE, SWAP = "judge_pairwise", "judge_swap_agreement"
REFUSAL, REFUSAL_AGREEMENT = "judge_refusal", "judge_refusal_agreement"
CKPT_ONLY = ("ckpt",)


def rubric_id(dimension: str) -> str:
    return f"rubric_{dimension}"


def builtin_refusal_scorer(task: Task) -> str | None:
    """The id of the task's built-in refusal scorer, which the judge is compared with."""
    return next((s.id for s in task.scorers if s.name == "refusal"), None)


def judge_metrics(task: Task) -> list[MetricSpec]:
    spec = task.judge
    if spec is None:
        return []
    out = []
    if spec.pairwise:
        out += [MetricSpec("judge_win_rate", PAIRWISE, roles=CKPT_ONLY),
                MetricSpec("judge_swap_agreement", SWAP, roles=CKPT_ONLY)]
    if spec.rubric:
        out += [MetricSpec(rubric_id(d), rubric_id(d)) for d in DIMENSIONS]
    if spec.refusal:
        builtin = builtin_refusal_scorer(task)
        mirrored = [m for m in task.metrics if m.scorer == builtin]
        out += [MetricSpec(f"judge_{m.name}", REFUSAL, dict(m.where), m.higher_is_better) for m in mirrored]
        if not mirrored:
            out.append(MetricSpec("judge_refusal_rate", REFUSAL))
        if builtin:
            out.append(MetricSpec(REFUSAL_AGREEMENT, REFUSAL_AGREEMENT))
    return out


def add_judge_metrics(suite: Suite) -> list[str]:
    """Append every judged task's judge metrics to it; returns the judged task names."""
    judged = []
    for task in suite.tasks.values():
        extra = judge_metrics(task)
        if extra:
            task.metrics += extra
            judged.append(task.name)
    return judged
