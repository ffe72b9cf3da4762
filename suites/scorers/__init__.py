"""Scorers used by suites. Importing this package registers every built-in scorer.

Adding a scorer: write a factory in a module here, decorate it with `@scorer("name")`, import
the module below. Suites then name it in their YAML.
"""

from suites.scorers import json_checks, markdown, safety, usability  # noqa: F401  (registration)
from suites.scorers.base import Answer, Score, ScorerInfo, passed, registered_scorers, scorer, unscored

__all__ = ["Answer", "Score", "ScorerInfo", "passed", "registered_scorers", "scorer", "unscored"]
