"""Bad input: one clear line on stderr naming what/where, exit code 2, nothing half-written."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import build_tiny_model


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error:")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_checkpoint_path(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tmp_path / "out" / "final", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "checkpoint not found", "out/final")
    assert not (tmp_path / "runs").exists()


def test_missing_relative_checkpoint_that_looks_like_a_hub_id(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", "out/final", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "checkpoint not found", "out/final")


def test_adapter_whose_base_cannot_be_found(harness_cli, tiny_adapter, tmp_path):
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_adapter, adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "gone-base")
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("run", "--ckpt", adapter, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "base model", "gone-base", "--base")


def test_base_override_fixes_a_missing_base(harness_cli, tiny_adapter, tiny_model, tmp_path):
    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_adapter, adapter)
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tmp_path / "gone-base")
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    code, _, err = harness_cli("run", "--ckpt", adapter, "--base", tiny_model, "--task", "ppl", "--runs-dir", tmp_path / "runs")
    assert code == 0, err


def test_unknown_suite(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--suite", "lab9", "--ckpt", tiny_model, "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "unknown suite 'lab9'", "lab1")


def test_unknown_task(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "nope", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "unknown task 'nope'", "compare10")


def test_suite_yaml_syntax_error_names_file_and_line(harness_cli, tiny_model, tmp_path):
    suite = tmp_path / "broken.yaml"
    suite.write_text("name: broken\ntasks:\n  t:\n    samples: x.jsonl\n    scorers: [json_schema\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{suite}:", "YAML error")


def test_suite_unknown_scorer_names_file_and_line(harness_cli, tiny_model, tmp_path):
    (tmp_path / "x.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ntasks:\n  t:\n    samples: x.jsonl\n    scorers: [no_such_scorer]\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{suite}:4", "unknown scorer 'no_such_scorer'", "json_schema")


def test_malformed_jsonl_names_file_and_line(harness_cli, tiny_model, tmp_path):
    data = tmp_path / "val.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    data.write_text(good + "\n" + good + "\n{not json\n")
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--data", data, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{data}:3", "not valid JSON")


def test_messages_out_of_order_name_file_and_line(harness_cli, tiny_model, tmp_path):
    data = tmp_path / "val.jsonl"
    data.write_text(json.dumps({"messages": [{"role": "assistant", "content": "yo"}, {"role": "user", "content": "hi"}]}) + "\n")
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--task", "ppl", "--data", data, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{data}:1", "roles out of order")


def test_tokenizer_without_chat_template(harness_cli, tmp_path):
    model = build_tiny_model(tmp_path / "no-template", chat_template=None)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    code, _, err = harness_cli("run", "--ckpt", model, "--task", "format", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "no chat template", str(model))


def test_unknown_generation_setting_on_the_command_line(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--gen", "temprature=0.7", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "unknown generation setting 'temprature'", "temperature")


def test_unknown_generation_setting_in_a_suite(harness_cli, tiny_model, tmp_path):
    (tmp_path / "x.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    suite = tmp_path / "s.yaml"
    suite.write_text("name: s\ntasks:\n  t:\n    samples: x.jsonl\n    generation: {max_tokens: 5}\n")
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"{suite}:5", "unknown generation setting 'max_tokens'", "max_new_tokens")


def test_bad_generation_value(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--gen", "top_p=high", "--runs-dir", tmp_path)
    assert_one_line_error(code, err, "top_p", "number")


def test_resume_of_a_directory_that_is_not_a_run(harness_cli, tmp_path):
    code, _, err = harness_cli("run", "--resume", tmp_path)
    assert_one_line_error(code, err, "not a run directory")


def test_suites_lists_lab1(harness_cli):
    code, out, _ = harness_cli("suites")
    assert code == 0 and "lab1" in out and "safety" in out and "over_refusal_rate" in out


TWO_LL_SUITE = """name: two
tasks:
  val_a: {kind: loglikelihood, samples: v.jsonl}
  val_b: {kind: loglikelihood, samples: v.jsonl}
"""
NO_LL_SUITE = """name: none
tasks:
  t: {samples: p.jsonl}
"""


@pytest.mark.parametrize("suite_text, tasks", [(TWO_LL_SUITE, "val_a, val_b"), (NO_LL_SUITE, "t")])
def test_bare_data_is_ambiguous_unless_the_suite_has_one_loglikelihood_task(harness_cli, tiny_model, tmp_path, suite_text, tasks):
    (tmp_path / "v.jsonl").write_text(json.dumps({"id": "1", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}) + "\n")
    (tmp_path / "p.jsonl").write_text('{"id": "a", "prompt": "hi"}\n')
    suite = tmp_path / "s.yaml"
    suite.write_text(suite_text)
    code, _, err = harness_cli("run", "--suite", suite, "--ckpt", tiny_model, "--data", tmp_path / "v.jsonl", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, f"--data {tmp_path / 'v.jsonl'}: say which task", f"--data TASK={tmp_path / 'v.jsonl'}",
                          f"(tasks: {tasks})")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("data", ["{missing}", "ppl={missing}", "format={missing}"])
def test_missing_data_file(harness_cli, tiny_model, tmp_path, data):
    missing = tmp_path / "no-such-file.jsonl"
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--data", data.format(missing=missing), "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "--data: file not found", str(missing))
    assert not (tmp_path / "runs").exists()


def test_data_for_a_task_the_suite_lacks(harness_cli, tiny_model, tmp_path):
    data = tmp_path / "x.jsonl"
    data.write_text('{"id": "a", "prompt": "hi"}\n')
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--data", f"formats={data}", "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "unknown task 'formats'", "format")


@pytest.mark.parametrize("size", ["0", "-3"])
def test_batch_size_below_one(harness_cli, tiny_model, tmp_path, size):
    code, _, err = harness_cli("run", "--ckpt", tiny_model, "--batch-size", size, "--runs-dir", tmp_path / "runs")
    assert_one_line_error(code, err, "--batch-size must be >= 1")
    assert not (tmp_path / "runs").exists()
