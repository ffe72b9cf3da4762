"""The run files' JSONL layer (harness/io/jsonl.py), directly: a line torn by a kill is cut with one
warning and never takes a good line with it, a whole last line that only lost its newline is
kept, damage elsewhere is an error naming file:line, and rows with lone surrogates round-trip."""

from __future__ import annotations

import json
import warnings

import pytest

from harness.errors import HarnessError
from harness.io.jsonl import JsonlAppender, TornLineWarning, iter_complete_rows, read_jsonl, repair_torn_tail

ROWS = [{"id": "a", "output": "first"}, {"id": "b", "output": "二"}]


def _write(path, text: bytes):
    path.write_bytes(text)
    return path


def _lines(*rows) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows)


def test_a_torn_last_line_is_skipped_then_cut_with_one_warning(tmp_path):
    torn = json.dumps({"id": "c", "output": "cut here"}).encode()[:15]
    path = _write(tmp_path / "samples.jsonl", _lines(*ROWS) + torn)
    assert list(iter_complete_rows(path)) == ROWS  # reading never fails on it
    with pytest.warns(TornLineWarning, match=r"samples.jsonl:3: the last line was cut mid-write \(15 bytes"):
        repair_torn_tail(path)
    assert path.read_bytes() == _lines(*ROWS)  # both good lines kept, byte for byte
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second repair has nothing to do and says nothing
        assert repair_torn_tail(path) is None
        with JsonlAppender(path) as out:
            out.write({"id": "c", "output": "again"})
    assert [r["id"] for r in iter_complete_rows(path)] == ["a", "b", "c"]


def test_a_whole_last_line_without_its_newline_is_kept(tmp_path):
    path = _write(tmp_path / "scores.jsonl", _lines(ROWS[0]) + json.dumps(ROWS[1], ensure_ascii=False).encode())
    assert list(iter_complete_rows(path)) == ROWS  # read as the good line it is
    with pytest.warns(TornLineWarning, match="lost its newline"):
        JsonlAppender(path).close()
    assert path.read_bytes() == _lines(*ROWS)


def test_a_torn_multibyte_character_is_a_torn_line_too(tmp_path):
    whole = json.dumps({"id": "c", "output": "中文"}, ensure_ascii=False).encode()
    path = _write(tmp_path / "samples.jsonl", _lines(*ROWS) + whole[: whole.index("文".encode()) + 1])
    assert list(iter_complete_rows(path)) == ROWS
    with pytest.warns(TornLineWarning):
        repair_torn_tail(path)
    assert path.read_bytes() == _lines(*ROWS)


def test_damage_before_the_last_line_is_an_error_naming_the_line(tmp_path):
    path = _write(tmp_path / "samples.jsonl", _lines(ROWS[0]) + b'{"id": "b", "out\n' + _lines(ROWS[1]))
    with pytest.raises(HarnessError, match=r"samples.jsonl:2: not valid JSON .* restore it, or delete the line"):
        list(iter_complete_rows(path))


def test_read_jsonl_names_the_line_of_bytes_that_are_not_utf8(tmp_path):
    path = _write(tmp_path / "answers.jsonl", _lines(ROWS[0]) + b'{"id": "b", "response": "\xff\xfe"}\n')
    with pytest.raises(HarnessError, match=r"answers.jsonl:2: not UTF-8 text"):
        read_jsonl(path)


def test_rows_with_lone_surrogates_round_trip(tmp_path):
    path = tmp_path / "samples.jsonl"
    row = {"id": "s", "output": "bad \ud800 half and NUL \x00"}
    with JsonlAppender(path) as out:
        out.write(row)
        out.write(ROWS[0])
    assert list(iter_complete_rows(path)) == [row, ROWS[0]]
    path.read_bytes().decode("utf-8")  # the file itself is valid UTF-8
