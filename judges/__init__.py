"""LLM-as-judge over OpenAI-compatible endpoints (docs/judge.md).

    options    what --judge asked for (URL or local:MODEL, key env var name, retries, ...)
    templates  prompt templates (judges/templates/*.md, en/zh), hashed into config.json
    verdicts   strict parsing of judge replies (tolerant of case, spacing, full-width, zero-width)
    cache      disk cache of judge replies (a rerun sends no request)
    client     prompts -> replies through the cache and harness.openai_client (retries, concurrency)
    local      local:MODEL: `harness serve` in-process for the judge phase
    phase      the judge phase of a run: plan requests, judge, write scores and judge.jsonl
    metrics    the metrics judged tasks get with --judge
    summary    summary.json's judge section (win/tie/loss, swap agreement, judge vs classifier)
    agreement  Cohen's kappa and raw agreement (harness judge-agreement)
"""
