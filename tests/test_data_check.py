"""`harness data check`: schema problems with file and line, template rendering, the mask audit
summary, token-length statistics and the recommended max_length."""

from __future__ import annotations

import json

import pytest

from datapipe.check import check, power_of_two_at_least
from test_cli_errors import assert_one_line_error


def conv(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def write_jsonl(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


GOOD = [conv(f"Only output a JSON object with keys name and score for student {i}.", json.dumps({"name": f"s{i}", "score": i}))
        for i in range(6)]


def test_problems_are_listed_with_file_and_line(harness_cli, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", [
        GOOD[0],
        "{broken",
        conv("question", ""),
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]},
        GOOD[1],
    ])
    with open(data, "ab") as f:
        f.write(b'{"messages": "\xff\xfe"}\n')  # not UTF-8
    code, out, err = harness_cli("data", "check", data, "--model", tiny_model)
    assert code == 1, err
    assert "checked 7 rows" in out and "5 rows with problems" in out
    assert f"{data}:7: not UTF-8 text" in out
    assert f"{data}:2: not valid JSON" in out
    assert f"{data}:3: message 1: empty assistant turn" in out
    assert f"{data}:4: no 'messages' list" in out and "harness data build" in out
    assert f"{data}:5: the last turn is 'user'" in out
    assert "examples audited: 2" in out  # the two good rows still get the audit and lengths


def test_clean_file_reports_lengths_and_recommends_a_power_of_two(harness_cli, tiny_model, tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", GOOD)
    code, out, err = harness_cli("data", "check", data, "--model", tiny_model, "--max-length", "20")
    assert code == 0, err
    assert "system/user tokens trained: 0/0" in out and "end-of-turn trained: 6/6" in out
    row = next(line for line in out.splitlines() if line.startswith("│"))
    rows, mean, median, p95, longest, truncated, recommended = [c.strip() for c in row.strip("│").split("│")]
    assert rows == "6" and truncated == "6 (100.0%)"  # every row is longer than 20 tokens
    expected = next(2**k for k in range(16) if 2**k >= float(p95))  # the smallest power of two >= p95
    assert int(recommended) == expected
    assert "6 rows have no assistant token within max_length 20" in out


def test_a_build_output_directory_checks_both_splits(harness_cli, tiny_model, tmp_path):
    (tmp_path / "mix").mkdir()
    write_jsonl(tmp_path / "mix" / "train.jsonl", GOOD[:4])
    write_jsonl(tmp_path / "mix" / "validation.jsonl", GOOD[4:])
    code, out, err = harness_cli("data", "check", tmp_path / "mix", "--model", tiny_model)
    assert code == 0, err
    assert "checked 6 rows" in out and "validation.jsonl" in out


def test_a_template_that_cannot_render_a_row_is_a_problem(tiny_model, tmp_path):
    from harness.models.backends.hf import end_of_turn_ids
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    template = ("{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
                "{% endif %}{{ '<|im_start|>' + m['role'] + '\n' }}{% if m['role'] == 'assistant' %}{% generation %}"
                "{{ m['content'] + '<|im_end|>' }}{% endgeneration %}{% else %}{{ m['content'] + '<|im_end|>' }}{% endif %}"
                "{{ '\n' }}{% endfor %}")
    with_system = {"messages": [{"role": "system", "content": "Be brief."}, *GOOD[0]["messages"]]}
    data = write_jsonl(tmp_path / "train.jsonl", [GOOD[0], with_system])
    report = check(data, tok, template, end_of_turn_ids(tok), max_length=256)
    assert report.problems == [(f"{data}:2", "the chat template does not render it: System role not supported")]
    assert report.lengths.rows == 1 and not report.ok


def test_missing_data_is_one_line(harness_cli, tiny_model, tmp_path):
    code, _, err = harness_cli("data", "check", tmp_path / "nope.jsonl", "--model", tiny_model)
    assert_one_line_error(code, err, "data not found", "nope.jsonl")


@pytest.mark.parametrize("x, expected", [(1, 1), (3, 4), (64, 64), (64.2, 128), (700, 1024)])
def test_power_of_two_at_least(x, expected):
    assert power_of_two_at_least(x) == expected
