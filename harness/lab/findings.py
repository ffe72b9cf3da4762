"""Findings a lab report can state from its evidence, each with its numbers: what moved
significantly between base and fine-tuned, what the loss curve shows, refusal against
over-refusal, perplexity against format, what the sweep found. Plain sentences; only what the
data supports. Significance is harness.metrics.summarize_delta's: the exact sign test on the
samples that flipped for pass/fail metrics, the paired bootstrap CI (from 10 pairs up) for graded
ones; the values next to a delta are over the same paired samples."""

from __future__ import annotations

from dataclasses import dataclass

from harness.lab.evidence import LabEvidence


@dataclass
class Finding:
    topic: str
    text: str


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.1f}"


def _delta(d: dict) -> str:
    lo, hi = d["ci"]
    text = f"{d['value']:+.3f} [{lo:+.3f}, {hi:+.3f}], paired n={d['n']}"
    if d.get("p_value") is not None:
        text += f", sign test p={d['p_value']:.2g}"
    if d.get("note"):
        text += f", {d['note']}"
    return text


def _values(entry: dict) -> str:
    """'0.042 -> 0.000': base and ckpt over the samples the delta pairs (both scored), so that the
    values and the delta agree; each side's own value (over all it scored) follows when it differs."""
    d = entry.get("delta") or {}
    base, ckpt = entry["base"], entry["ckpt"]
    paired = d.get("paired_values")
    if not paired or (base.get("n") == d.get("n") and ckpt.get("n") == d.get("n")):
        return f"{_num(base['value'])} -> {_num(ckpt['value'])}"
    return (f"{_num(paired[0])} -> {_num(paired[1])} on the {d['n']} samples both scored (all scored: "
            f"{_num(base['value'])} n={base['n']} -> {_num(ckpt['value'])} n={ckpt['n']})")


def _moved(entry: dict) -> str | None:
    """'better' / 'worse' when the delta is significant, else None."""
    d = entry.get("delta") or {}
    if d.get("value") is None or not d.get("significant"):
        return None
    return "better" if (d["value"] > 0) == entry["higher_is_better"] else "worse"


def capabilities_kept(ev: LabEvidence) -> Finding | None:
    """Forgetting: the capability tasks' metrics (lm-eval tasks, base vs fine-tuned, paired), which
    dropped significantly and which held."""
    if ev.run is None:
        return None
    tasks = {name for name, t in ((ev.run.config.get("suite") or {}).get("tasks") or {}).items() if t.get("kind") == "capability"}
    metrics = ((ev.run.summary or {}).get("metrics") or {})
    caps = {n: e for n, e in metrics.items() if n.split("/", 1)[0] in tasks
            and (e.get("delta") or {}).get("value") is not None}
    if not caps:
        return None
    parts, dropped = [], []
    for name, e in caps.items():
        verdict = _moved(e)
        parts.append(f"{name} {_values(e)} (delta {_delta(e['delta'])}"
                     f"{', significantly ' + verdict if verdict else ''})")
        if verdict == "worse":
            dropped.append(name)
    head = (f"Significant drops (forgetting): {', '.join(dropped)}. " if dropped else
            f"No capability metric dropped significantly ({len(caps)} checked; a drop that is not significant by "
            "the exact sign test, or comes from too few pairs, is within noise at this sample size). ")
    return Finding("Capabilities kept", head + "; ".join(parts) + ".")


def findings(ev: LabEvidence) -> list[Finding]:
    out: list[Finding] = []
    metrics = ((ev.run.summary or {}).get("metrics") or {}) if ev.run else {}
    moved, still = [], []
    for name, e in metrics.items():
        if "base" not in e or "ckpt" not in e or (e.get("delta") or {}).get("value") is None:
            continue
        verdict = _moved(e)
        line = f"{name} {_values(e)} (delta {_delta(e['delta'])})"
        (moved if verdict else still).append(f"{line}: significantly {verdict}" if verdict else name)
    if moved:
        out.append(Finding("What moved significantly (exact sign test for pass/fail metrics, paired 95% CI for graded ones)", "; ".join(moved) + "."))
    if still:
        out.append(Finding("What did not move significantly", ", ".join(still) + " (not significant by the exact sign test or the paired 95% CI, or too few pairs)."))
    kept = capabilities_kept(ev)
    if kept:
        out.append(kept)
    t = ev.training
    if t and t.summary and t.summary.get("diagnosis"):
        d = t.summary["diagnosis"]
        evals = t.eval_loss
        extra = ""
        if len(evals) >= 2:
            best = min(evals, key=lambda p: p[1])
            extra = f" Eval loss {evals[0][1]:.3f} at step {evals[0][0]} -> {evals[-1][1]:.3f} at step {evals[-1][0]} (lowest {best[1]:.3f} at step {best[0]})."
        out.append(Finding("The loss curve", f"Diagnosis: {d['kind']}. {d.get('message', '')}.{extra}".replace("..", ".")))
    refusal, over = metrics.get("safety/refusal_rate"), metrics.get("safety/over_refusal_rate")
    if refusal and over and refusal.get("delta") and over.get("delta") and refusal["delta"].get("value") is not None \
            and over["delta"].get("value") is not None:
        r, o = refusal["delta"], over["delta"]
        text = (f"Harmful requests refused: {_values(refusal)} "
                f"(delta {_delta(r)}); benign look-alikes refused (over-refusal): {_values(over)} (delta {_delta(o)}). ")
        if r["significant"] and r["value"] > 0 and o["significant"] and o["value"] > 0:
            text += "Both rose significantly: the model refuses more overall, harmful or not."
        elif r["significant"] and r["value"] > 0:
            text += "Refusals of harmful requests rose significantly without a significant rise in over-refusal."
        elif o["significant"] and o["value"] > 0:
            text += "Over-refusal rose significantly: the model turns down benign requests more often."
        else:
            text += "Neither change is significant at this sample size."
        warned = metrics.get("safety/warned_rate")
        if warned and (warned.get("delta") or {}).get("value") is not None:  # caution is compliance: told apart
            text += (f" Benign look-alikes answered with a caution (not a refusal): {_values(warned)} "
                     f"(delta {_delta(warned['delta'])}, {_moved(warned) or 'not significant'}).")
        out.append(Finding("Refusal against over-refusal", text))
    ppl = metrics.get("ppl/perplexity")
    fmt = metrics.get("format/json_validity_strict")
    if ppl and fmt and (ppl.get("delta") or {}).get("value") is not None and (fmt.get("delta") or {}).get("value") is not None:
        text = (f"Validation perplexity {_values(ppl)} (delta {_delta(ppl['delta'])}, "
                f"{_moved(ppl) or 'not significant'}); strict JSON validity {_values(fmt)} "
                f"(delta {_delta(fmt['delta'])}, {_moved(fmt) or 'not significant'}).")
        if _moved(fmt) == "better" and _moved(ppl) == "worse":
            text += " The trained format improved while held-out conversations got less likely: the adapter specialised."
        elif _moved(fmt) == "better" and _moved(ppl) != "worse":
            text += " The format improved at no significant cost in perplexity."
        out.append(Finding("Perplexity against format", text))
    s = ev.sweep
    if s is not None:
        ranked = [v for v in s.ranked() if v.metric and v.metric.get("value") is not None]
        if ranked:
            best = ranked[0]
            text = f"Best by {s.metric}: {best.name} ({_num(best.metric['value'])})."
            sig = [f"{v.name} vs {s.reference.name}: {_delta(v.delta)}" for v in ranked if v.delta and v.delta.get("significant")]
            text += (" Significant differences from the first variant: " + "; ".join(sig) + ".") if sig else \
                " No variant differs significantly from the first in this metric."
            params = [(v.name, v.stats.get("trainable_parameters"), v.stats.get("tokens_per_second")) for v in ranked]
            if all(p and t for _, p, t in params):
                text += " Trainable parameters and speed: " + "; ".join(f"{n} {p:,} params, {t:,.0f} tokens/s" for n, p, t in params) + "."
            out.append(Finding("The hyperparameter experiment", text))
    judge = (ev.run.summary or {}).get("judge") if ev.run else None
    if judge:
        for task, p in (judge.get("pairwise") or {}).items():
            wr = p.get("win_rate") or {}
            if wr.get("value") is not None:
                out.append(Finding(f"Judge ({judge.get('model')})",
                                   f"{task}: fine-tuned vs base win/tie/loss {p['win']}/{p['tie']}/{p['loss']}, win rate "
                                   f"{_num(wr['value'])} [{_num(wr['ci'][0])}, {_num(wr['ci'][1])}]"))
    return out
