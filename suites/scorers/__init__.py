"""Scorers used by suites. Importing this package registers every built-in scorer.

Adding a scorer: write a factory in a module here, decorate it with `@scorer("name")` (from
harness.scorers), import the module below. Suites then name it in their YAML.
"""

from suites.scorers import capability, caution, json_checks, markdown, perplexity, refusal_scorer, text_checks, usability  # noqa: F401  (registration)
