"""The data pipeline behind `harness data build` and `harness data check`.

    recipe.py     the recipe YAML: sources, dedup, mix, split, output (checked, file:line errors)
    schema.py     the `messages` schema and its rules
    normalize.py  the common dataset shapes -> the schema (messages, ShareGPT, Alpaca, fields)
    sources.py    reading a source into Arrow and normalising it
    dedup.py      exact dedup (MD5 of the normalised messages) and MinHash near-duplicate clusters
    mix.py        interleave / resample by weight, the train/validation split
    export.py     the output directory: JSONL, Arrow (save_to_disk), build_report.json, rejects
    build.py      the stages in order, with the counts of each
    check.py      checking a messages JSONL against the schema, a model's template and a max_length
"""
