"""Files: strict JSONL, atomic writes, line-aware YAML and --include folders."""
