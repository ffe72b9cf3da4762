"""The fine-tuned adapter's README.md (its model card): which base it adapts, how it was trained,
and the evaluation of the final adapter against that base (harness run's numbers, with CIs)."""

from __future__ import annotations


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def render_model_card(base: str, training: dict, final_scores: dict | None, report: str | None) -> str:
    """`base`: the portable name adapter_config.json records; `training`: a few settings worth
    naming; `final_scores`: scores.jsonl's line of the final adapter (None when not rescored)."""
    lines = ["---", f"base_model: {base}", "library_name: peft", "pipeline_tag: text-generation",
             "tags:", "- lora", "- sft", "- sft-harness", "---", "",
             "# LoRA adapter (QLoRA SFT, sft-harness)", "",
             f"A LoRA adapter fine-tuned from **{base}**. Load it with its base, e.g. "
             f"`harness run --ckpt <this folder>` or PEFT's `PeftModel.from_pretrained`.", "",
             "## Training", ""]
    lines += [f"- {key}: {value}" for key, value in training.items() if value is not None]
    lines += ["", "## Evaluation", ""]
    if not final_scores:
        lines.append("Not evaluated (the training config turned the final rescore off): run "
                     "`harness run --ckpt <this folder>` for its scores.")
        return "\n".join(lines) + "\n"
    lines += ["The final adapter against its base, each on the same samples (paired delta, 95% bootstrap CI):", "",
              "| metric | base | adapter | delta [95% CI] | n |", "|---|---|---|---|---|"]
    for name, m in final_scores["metrics"].items():
        if m.get("ckpt") is None and m.get("base") is None:
            continue
        ci = m.get("delta_ci")
        delta = "-" if m.get("delta") is None else f"{m['delta']:+.4g}" + (f" [{ci[0]:+.4g}, {ci[1]:+.4g}]" if ci else "")
        lines.append(f"| {name} | {_num(m.get('base'))} | {_num(m.get('ckpt'))} | {delta} | {m.get('n', '-')} |")
    if report:
        lines += ["", f"Full report (answers, flips, CIs): `{report}`"]
    return "\n".join(lines) + "\n"
