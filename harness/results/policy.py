"""Gate policies: per metric, the rules a run must meet. YAML, checked against the suite's metrics.

    suite: lab1                        # optional: refuse to gate a run of another suite
    metrics:
      ppl/perplexity:
        max_drop: 0.5                  # worst allowed change vs the baseline, in the bad direction
        significant: true              # ... and only a significant drop counts (docs/gating.md: exact
                                       #     sign test for pass/fail metrics, paired bootstrap for graded)
      safety/refusal_rate: {min: 0.8}  # absolute bounds on the run's value: min, max

A "drop" is a fall for higher-is-better metrics and a rise for lower-is-better ones (perplexity,
over_refusal_rate); `significant` defaults to true. The built-in policy of suite S is
suites/policies/S.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError
from harness.suite import BUILTIN_SUITES
from harness.io.yaml_lines import check_keys, key_line, load_yaml

POLICIES_DIR = BUILTIN_SUITES / "policies"
RULE_KEYS = {"min", "max", "max_drop", "significant"}


@dataclass
class Rule:
    metric: str
    line: int  # where the metric is named in the policy file
    min: float | None = None
    max: float | None = None
    max_drop: float | None = None
    significant: bool = True  # a drop beyond max_drop fails only if significant


@dataclass
class Policy:
    path: Path
    suite: str | None
    rules: list[Rule]


def default_policy_path(suite_name: str) -> Path:
    path = POLICIES_DIR / f"{suite_name}.yaml"
    if not path.is_file():
        raise HarnessError(f"suite '{suite_name}' has no built-in gate policy ({path}); pass one with --policy FILE")
    return path


def load_policy(path: str | Path, metric_names: list[str], suite_name: str) -> Policy:
    """Read and check a policy for a run of `suite_name`, whose suite defines `metric_names`."""
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"policy file not found: {path} (check the path)")
    doc = load_yaml(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("metrics"), dict) or not doc["metrics"]:
        raise HarnessError(f"{path}: a gate policy needs a 'metrics' mapping naming at least one metric (see docs/gating.md)")
    check_keys(doc, {"suite", "metrics"}, path, "policy")
    if doc.get("suite") is not None and str(doc["suite"]) != suite_name:
        raise HarnessError(
            f"{path}:{key_line(doc, 'suite')}: this policy is for suite '{doc['suite']}', the run is of suite '{suite_name}'"
        )
    metrics = doc["metrics"]
    rules = [_rule(name, metrics[name], key_line(metrics, name), path, metric_names) for name in metrics]
    return Policy(path, doc.get("suite"), rules)


def _rule(name, spec, line: int, path: Path, metric_names: list[str]) -> Rule:
    where = f"{path}:{line}"
    if name not in metric_names:
        raise HarnessError(f"{where}: unknown metric {name!r}; valid metrics: {', '.join(metric_names)}")
    if not isinstance(spec, dict) or not spec:
        raise HarnessError(f"{where}: metric '{name}' needs a mapping of rules, e.g. {{max_drop: 0.05}}; rules: min, max, max_drop, significant")
    check_keys(spec, RULE_KEYS, path, f"metric '{name}'")
    if not {"min", "max", "max_drop"} & set(spec):
        raise HarnessError(f"{where}: metric '{name}' has no rule; give min, max or max_drop")
    rule = Rule(name, line)
    for key in ("min", "max", "max_drop"):
        if key in spec:
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise HarnessError(f"{path}:{key_line(spec, key)}: metric '{name}': {key} must be a number, got {value!r}")
            if key == "max_drop" and value < 0:
                raise HarnessError(f"{path}:{key_line(spec, key)}: metric '{name}': max_drop must be >= 0 (a drop is measured in the bad direction), got {value}")
            setattr(rule, key, float(value))
    if "significant" in spec:
        if not isinstance(spec["significant"], bool):
            raise HarnessError(f"{path}:{key_line(spec, 'significant')}: metric '{name}': significant must be true or false, got {spec['significant']!r}")
        rule.significant = spec["significant"]
    return rule
