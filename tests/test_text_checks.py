"""`contains`, `regex` and `exact_match` named in a suite's YAML, with parameters, no Python:
scored through `harness score` on given answers."""

from __future__ import annotations

import json

from conftest import load_json, only_run_dir
from test_cli_errors import assert_one_line_error

from harness.rundir import RunDir

SUITE = """name: capitals
tasks:
  capital:
    samples: capital.jsonl
    scorers:
      - contains: {value: "paris", ignore_case: true}
      - {contains: {id: says_answer, field: answer}}
      - regex: {pattern: '^[A-Z][a-z]+\\.?$', full: true}
      - exact_match: {field: answer}
    metrics:
      mentions_paris: {scorer: contains}
      exact: {scorer: exact_match}
"""
SAMPLES = [{"id": "q1", "prompt": "Capital of France?", "answer": "Paris"},
           {"id": "q2", "prompt": "Capital of France, one word?", "answer": "Paris"},
           {"id": "q3", "prompt": "Capital of Italy?", "answer": "Rome"},
           {"id": "q4", "prompt": "Anything?"}]  # no answer field: unscored where a field is needed
ANSWERS = {"q1": "The capital is PARIS.", "q2": " Paris ", "q3": "Rome.", "q4": "Paris"}


def _suite(tmp_path, text=SUITE):
    (tmp_path / "capital.jsonl").write_text("".join(json.dumps(s) + "\n" for s in SAMPLES))
    (tmp_path / "capitals.yaml").write_text(text)
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in ANSWERS.items()))
    return tmp_path / "capitals.yaml"


def test_text_checks_named_in_yaml_score_each_answer(harness_cli, tmp_path):
    suite = _suite(tmp_path)
    code, out, err = harness_cli("score", "--suite", suite, "--task", "capital", "--responses", tmp_path / "answers.jsonl",
                                 "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    scores = {r.id: {k: e.value for k, e in r.scores.items()} for r in RunDir(run).scored()}
    assert scores["q1"] == {"contains": 1.0, "says_answer": 0.0, "regex": 0.0, "exact_match": 0.0}  # PARIS != Paris
    assert scores["q2"] == {"contains": 1.0, "says_answer": 1.0, "regex": 1.0, "exact_match": 1.0}  # stripped
    assert scores["q3"] == {"contains": 0.0, "says_answer": 1.0, "regex": 1.0, "exact_match": 0.0}  # "Rome." != "Rome"
    assert scores["q4"] == {"contains": 1.0, "says_answer": None, "regex": 1.0, "exact_match": None}
    reason = next(r for r in RunDir(run).scored() if r.id == "q4").scores["exact_match"].reason
    assert "no 'answer' field" in reason
    metrics = load_json(run / "summary.json")["metrics"]
    assert metrics["capital/mentions_paris"]["ckpt"]["value"] == 0.75
    assert metrics["capital/exact"]["ckpt"]["value"] == 1 / 3 and metrics["capital/exact"]["ckpt"]["unscored"] == 1


def test_a_text_check_without_its_expected_text_is_one_line_with_the_line(harness_cli, tmp_path):
    suite = _suite(tmp_path, "name: capitals\ntasks:\n  capital:\n    samples: capital.jsonl\n    scorers:\n      - contains: {ignore_case: true}\n")
    code, _, err = harness_cli("score", "--suite", suite, "--task", "capital", "--responses", tmp_path / "answers.jsonl", "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, f"{suite}:4", "scorer 'contains'", "exactly one of value")
    suite.write_text("name: capitals\ntasks:\n  capital:\n    samples: capital.jsonl\n    scorers:\n      - regex: {pattern: '(['}\n")
    code, _, err = harness_cli("score", "--suite", suite, "--task", "capital", "--responses", tmp_path / "answers.jsonl", "--runs-dir", tmp_path / "r")
    assert_one_line_error(code, err, "scorer 'regex'", "not a valid regular expression")


# ---- json_schema by path: one schema file for every answer of a task -----------------------------
SCHEMA_SUITE = """name: people
tasks:
  person:
    samples: person.jsonl
    scorers:
      - json_schema: {path: schemas/person.json}
      - {json_schema: {id: inline, schema: {type: object, required: [age]}}}
    metrics:
      schema_pass_rate: {scorer: json_schema}
"""
PERSON_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
                 "required": ["name", "age"], "additionalProperties": False}


def _schema_suite(tmp_path, text=SCHEMA_SUITE, schema=PERSON_SCHEMA):
    (tmp_path / "schemas").mkdir(exist_ok=True)
    (tmp_path / "schemas" / "person.json").write_text(json.dumps(schema) if isinstance(schema, dict) else schema)
    (tmp_path / "person.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "prompt": "A person as JSON."}) + "\n" for i in range(4)))
    answers = {"p0": '{"name": "Ada", "age": 36}', "p1": 'Here: ```json\n{"name": "Bo", "age": -1}\n```',
               "p2": '{"name": "Cy"}', "p3": "no JSON at all"}
    (tmp_path / "answers.jsonl").write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in answers.items()))
    (tmp_path / "people.yaml").write_text(text)
    return tmp_path / "people.yaml"


def test_json_schema_from_a_file_beside_the_suite_checks_every_answer(harness_cli, tmp_path, monkeypatch):
    suite = _schema_suite(tmp_path)
    monkeypatch.chdir(tmp_path.parent)  # the path is relative to the suite file, not to where harness runs
    code, _, err = harness_cli("score", "--suite", suite, "--task", "person", "--responses", tmp_path / "answers.jsonl", "--runs-dir", tmp_path / "runs")
    assert code == 0, err
    run = only_run_dir(tmp_path / "runs")
    scored = {r.id: r.scores for r in RunDir(run).scored()}
    assert {k: s["json_schema"].value for k, s in scored.items()} == {"p0": 1.0, "p1": 0.0, "p2": 0.0, "p3": 0.0}
    assert "age" in scored["p1"]["json_schema"].reason and "minimum" in scored["p1"]["json_schema"].reason
    assert "'age' is a required property" in scored["p2"]["json_schema"].reason
    assert {k: s["inline"].value for k, s in scored.items()} == {"p0": 1.0, "p1": 1.0, "p2": 0.0, "p3": 0.0}
    assert load_json(run / "summary.json")["metrics"]["person/schema_pass_rate"]["ckpt"]["value"] == 0.25


def test_a_missing_or_broken_schema_file_is_one_line_with_the_suite_line(harness_cli, tmp_path):
    suite = _schema_suite(tmp_path, SCHEMA_SUITE.replace("schemas/person.json", "schemas/nope.json"))
    args = ("score", "--suite", suite, "--task", "person", "--responses", tmp_path / "answers.jsonl", "--runs-dir", tmp_path / "runs")
    code, _, err = harness_cli(*args)
    assert_one_line_error(code, err, f"{suite}:4", "scorer 'json_schema'", "cannot read the schema file", "nope.json")
    _schema_suite(tmp_path, schema="{not json")
    code, _, err = harness_cli(*args)
    assert_one_line_error(code, err, "scorer 'json_schema'", "person.json is not JSON")
    _schema_suite(tmp_path, schema={"type": "objekt"})
    code, _, err = harness_cli(*args)
    assert_one_line_error(code, err, "scorer 'json_schema'", "invalid JSON Schema")
    assert not (tmp_path / "runs").exists()
