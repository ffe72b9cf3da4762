"""The scorer of capability tasks: lm-evaluation-harness's own per-document verdicts.

lm-eval computes each document's metrics (its task's `process_results`: acc, acc_norm,
exact_match after a filter, IFEval's checks, ...) when the task runs; the record keeps them
(`lm_eval.metrics`), and this scorer turns one of them into a score entry, so summary, compare,
gate and baseline treat it like any other score. A list of verdicts (IFEval's instruction-level
metrics) becomes passed / all with the count as weight (aggregate `ratio`).
"""

from __future__ import annotations

from harness.scorers import Score, scorer, unscored


@scorer("lm_eval_metric", task_kinds=("capability",))
def lm_eval_metric(metric: str, aggregate: str = "mean"):
    """One of lm-eval's per-document metrics of a capability task (e.g. acc, exact_match)."""

    def score(sample, record):
        if record.unsupported:
            return unscored(record.unsupported, label="unsupported")
        metrics = (record.lm_eval or {}).get("metrics") or {}
        if metric not in metrics:
            return None  # a document of an lm-eval task that does not keep this metric
        value = metrics[metric]
        target = str(sample.get("target"))[:80]
        if isinstance(value, list) and all(isinstance(v, (bool, int, float)) for v in value) and value:
            passed = float(sum(value))
            if aggregate == "ratio":
                return Score(passed, f"lm-eval {metric}: {passed:g} of {len(value)}", weight=len(value))
            return Score(passed / len(value), f"lm-eval {metric}: {passed:g} of {len(value)}")
        if isinstance(value, (bool, int, float)):
            return Score(float(value), f"lm-eval {metric} = {float(value):g} (target {target})")
        return unscored(f"lm-eval's {metric} is a {type(value).__name__} per document, not a number "
                        "(a corpus-level metric); it has no per-sample value")

    return score
