"""Gate policies and the gate's rules, on runs made by `harness score` (no model needed)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO
from harness.errors import HarnessError
from harness.results.policy import default_policy_path, load_policy
from harness.suite import load_suite
from test_cli_errors import assert_one_line_error
from test_compare import F02_OK, F03_OK, scored_run

LAB1_METRICS = [m.name for m in load_suite(str(REPO / "suites" / "lab1.yaml")).metric_definitions()]


@pytest.fixture
def two_runs(harness_cli, tmp_path):
    """A: both JSON answers valid; B: one of them broken."""
    a = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK, "f03": F03_OK})
    b = scored_run(harness_cli, tmp_path / "b", {"f02": F02_OK, "f03": "Alice: 93"})
    return a, b


def gate(harness_cli, tmp_path, run, policy_text: str, *extra):
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    return harness_cli("gate", run, "--policy", policy, "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md", *extra)


def test_the_lab1_policy_ships_with_the_suite_and_names_real_metrics():
    path = default_policy_path("lab1")
    assert path == REPO / "suites" / "policies" / "lab1.yaml"
    policy = load_policy(path, LAB1_METRICS, "lab1")
    assert {r.metric for r in policy.rules} == set(LAB1_METRICS)  # every lab1 metric is gated
    assert '"policies/*.yaml"' in (REPO / "pyproject.toml").read_text()  # installed with the package


def test_unknown_metric_names_file_line_and_the_valid_names(harness_cli, two_runs, tmp_path):
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], "suite: lab1\nmetrics:\n  format/json_validity_strict: {min: 0.5}\n\n  format/json_valdity:\n    min: 0.5\n")
    assert_one_line_error(code, err, f"{tmp_path / 'policy.yaml'}:5", "unknown metric 'format/json_valdity'",
                          "valid metrics:", "format/json_validity_strict", "ppl/perplexity", "usability/usability_rate")


@pytest.mark.parametrize("text, where, fragment", [
    ("metrics:\n  ppl/perplexity: {max_drop: lots}\n", 2, "max_drop must be a number"),
    ("metrics:\n  ppl/perplexity:\n    max_drop: -1\n", 3, "max_drop must be >= 0"),
    ("metrics:\n  ppl/perplexity:\n    max_drop: 1\n    signifcant: false\n", 4, "unknown key 'signifcant'"),
    ("metrics:\n  ppl/perplexity: {max_drop: 1, significant: maybe}\n", 2, "significant must be true or false"),
    ("metrics:\n  ppl/perplexity: {significant: true}\n", 2, "has no rule"),
    ("metrics:\n  ppl/perplexity: 0.5\n", 2, "needs a mapping of rules"),
    ("suite: lab2\nmetrics:\n  ppl/perplexity: {max: 9}\n", 1, "this policy is for suite 'lab2'"),
    ("metric:\n  ppl/perplexity: {max: 9}\n", None, "needs a 'metrics' mapping"),
    ("metrics:\n  ppl/perplexity: {max: 9\n", 3, "YAML error"),
])
def test_bad_policies_fail_with_file_and_line(harness_cli, two_runs, tmp_path, text, where, fragment):
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], text)
    located = f"{tmp_path / 'policy.yaml'}:{where}" if where else str(tmp_path / "policy.yaml")
    assert_one_line_error(code, err, located, fragment)
    assert not (tmp_path / "j.xml").exists()  # nothing written on a usage error


def test_max_drop_needs_a_baseline(harness_cli, two_runs, tmp_path):
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], "metrics:\n  format/json_validity_strict: {min: 0}\n  ppl/perplexity: {max_drop: 1}\n")
    assert_one_line_error(code, err, "policy.yaml:3", "max_drop", "--baseline")


def test_absolute_rules_gate_without_a_baseline(harness_cli, two_runs, tmp_path):
    policy = "metrics:\n  format/json_validity_strict: {min: 0.6}\n  usability/usability_rate: {min: 0.9, max: 1}\n"
    code, out, _ = gate(harness_cli, tmp_path, two_runs[1], policy)
    assert code == 1
    assert "FAIL format/json_validity_strict  0.5 < min 0.6" in out
    assert "PASS usability/usability_rate     1 >= min 0.9; 1 <= max 1" in out
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "j.xml").getroot().iter("testcase")}
    assert cases["format/json_validity_strict"].find("failure") is not None
    assert cases["usability/usability_rate"].find("failure") is None
    code, _, _ = gate(harness_cli, tmp_path, two_runs[0], policy)
    assert code == 0


def test_a_metric_with_no_data_fails(harness_cli, two_runs, tmp_path):
    code, out, _ = gate(harness_cli, tmp_path, two_runs[1], "metrics:\n  format/table_pass_rate: {min: 0}\n")
    assert code == 1 and "FAIL format/table_pass_rate  no data in this run (n=0" in out


def test_a_drop_fails_only_when_significant_unless_told_otherwise(harness_cli, two_runs, tmp_path):
    a, b = two_runs
    baseline = tmp_path / "baseline.json"
    assert harness_cli("baseline", "save", a, "--out", baseline)[0] == 0
    # one of two samples went pass -> fail: a drop of 0.5, but two samples cannot make it significant
    code, out, _ = gate(harness_cli, tmp_path, b, "metrics:\n  format/json_validity_strict: {max_drop: 0.1}\n", "--baseline", baseline)
    assert code == 0 and "drop 0.5 > max_drop 0.1 but not significant" in out
    code, out, _ = gate(harness_cli, tmp_path, b, "metrics:\n  format/json_validity_strict: {max_drop: 0.1, significant: false}\n",
                        "--baseline", baseline)
    assert code == 1 and "drop 0.5 > max_drop 0.1, significance not required" in out
    summary = (tmp_path / "s.md").read_text()
    assert "Samples that went pass -> fail" in summary and "| format/json_validity_strict | format/f03 | pass -> fail |" in summary


def test_lower_is_better_metrics_drop_upwards(harness_cli, tmp_path):
    refuses = "I'm sorry, but I can't help with that."
    complies = "Use `kill <pid>` or `pkill python`; on Windows, Task Manager > End task. First find the pid with `ps aux | grep python`."
    ids = [f"s{i:02d}" for i in range(25, 49)]  # the benign look-alikes (expect: comply)
    a = scored_run(harness_cli, tmp_path / "a", {sid: complies for sid in ids}, task="safety")
    b = scored_run(harness_cli, tmp_path / "b", {sid: refuses for sid in ids}, task="safety")
    baseline = tmp_path / "baseline.json"
    assert harness_cli("baseline", "save", a, "--out", baseline)[0] == 0
    code, out, _ = gate(harness_cli, tmp_path, b, "metrics:\n  safety/over_refusal_rate: {max_drop: 0.1}\n", "--baseline", baseline)
    assert code == 1 and "FAIL safety/over_refusal_rate  drop 1 > max_drop 0.1, significant (delta +1" in out
    code, out, _ = gate(harness_cli, tmp_path, a, "metrics:\n  safety/over_refusal_rate: {max_drop: 0.1}\n", "--baseline", baseline)
    assert code == 0


def test_bad_baseline_files(harness_cli, two_runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert harness_cli("baseline", "save", two_runs[0], "--out", baseline)[0] == 0
    policy = "metrics:\n  format/json_validity_strict: {max_drop: 0.1}\n"
    doc = json.loads(baseline.read_text())
    doc["samples"][0]["role"] = "teacher"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], policy, "--baseline", broken)
    assert_one_line_error(code, err, str(broken), "not a valid baseline file: at samples/0/role", "harness baseline save")
    broken.write_text(json.dumps({"metrics": {}}))
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], policy, "--baseline", broken)
    assert_one_line_error(code, err, str(broken), "not a baseline file")
    broken.write_text("{\n  oops\n")
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], policy, "--baseline", broken)
    assert_one_line_error(code, err, f"{broken}:2", "not valid JSON")
    code, _, err = harness_cli("baseline", "save", baseline, "--out", tmp_path / "again.json")
    assert_one_line_error(code, err, "not a run directory")
    code, _, err = harness_cli("baseline", "save", two_runs[0], "--out", tmp_path)
    assert_one_line_error(code, err, "is a directory", "lab1.json")
    doc["samples"][0]["role"] = "ckpt"
    doc["metrics"]["format/json_validity_strict"]["ckpt"]["value"] = "high"
    broken.write_text(json.dumps(doc))
    code, _, err = gate(harness_cli, tmp_path, two_runs[1], policy, "--baseline", broken)
    assert_one_line_error(code, err, "at metrics/format/json_validity_strict/ckpt/value")


def test_a_suite_without_a_default_policy_needs_one(harness_cli, tmp_path):
    from test_compare import _suite_copy

    suite = _suite_copy(tmp_path, edit="").read_text().replace("name: lab1", "name: lab1-copy")
    (tmp_path / "lab1-copy.yaml").write_text(suite)
    run = scored_run(harness_cli, tmp_path / "a", {"f02": F02_OK}, suite=str(tmp_path / "lab1-copy.yaml"))
    code, _, err = harness_cli("gate", run)
    assert_one_line_error(code, err, "suite 'lab1-copy' has no built-in gate policy", "--policy")


def test_load_policy_is_usable_as_a_library(tmp_path):
    policy = tmp_path / "p.yaml"
    policy.write_text("metrics:\n  ppl/perplexity: {max: 12.5, max_drop: 0.5, significant: false}\n")
    rule = load_policy(policy, LAB1_METRICS, "lab1").rules[0]
    assert (rule.metric, rule.line, rule.max, rule.max_drop, rule.significant, rule.min) == ("ppl/perplexity", 2, 12.5, 0.5, False, None)
    with pytest.raises(HarnessError, match="policy file not found"):
        load_policy(tmp_path / "none.yaml", LAB1_METRICS, "lab1")


def test_one_metric_is_singular_and_no_drop_has_no_minus_sign(harness_cli, two_runs, tmp_path):
    a, b = two_runs
    baseline_a, baseline_b = tmp_path / "a.json", tmp_path / "b.json"
    assert harness_cli("baseline", "save", a, "--out", baseline_a)[0] == 0
    assert harness_cli("baseline", "save", b, "--out", baseline_b)[0] == 0
    policy = "metrics:\n  format/json_validity_strict: {max_drop: 0.1}\n"  # higher is better: drop = -delta
    code, out, _ = gate(harness_cli, tmp_path, a, policy, "--baseline", baseline_a)
    assert code == 0 and "drop 0 <= max_drop 0.1 (delta +0 [+0, +0], n=2" in out and "-0" not in out
    assert "gate passed: 1 metric\n" in out and "1 metrics" not in out
    assert (tmp_path / "s.md").read_text().startswith("## ✅ Gate passed: 1 metric\n")
    code, out, _ = gate(harness_cli, tmp_path, a, policy, "--baseline", baseline_b)  # a is better than b
    assert code == 0 and "no drop (better by 0.5), max_drop 0.1" in out
