"""LLM-as-judge over OpenAI-compatible endpoints (docs/judge.md).

    scorers           the judges as batch scorers (judge_pairwise, judge_rubric, judge_refusal),
                      each configured by a YAML file in configs/: template, completion, parser
    options           what --judge asked for (URL or local:MODEL, key env var name, retries, ...)
    prompt_templates  prompt templates (judges/templates/*.md, en/zh), hashed into config.json
    verdicts          strict parsing of judge replies (tolerant of case, spacing, full-width, zero-width)
    cache             disk cache of judge replies (a rerun sends no request)
    client            prompts -> replies through the cache and harness.models.openai_client (retries, concurrency)
    local             local:MODEL: `harness serve` in-process while the judges score
    summary           summary.json's judge section (win/tie/loss, swap agreement, judge vs classifier)
    agreement         Cohen's kappa and raw agreement (harness judge-agreement)
"""
