"""Markdown table check: header, separator row, enough data rows, one column count throughout."""

from __future__ import annotations

import re

from harness.scorers import passed, scorer

_SEPARATOR_CELL = re.compile(r"^:?-{3,}:?$")


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|"):
        line = line[:-1]
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)]


def find_table(text: str) -> tuple[list[list[str]], str] | tuple[None, str]:
    """The first Markdown table: (rows including the header, '') or (None, why not)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1):
        if "|" not in lines[i]:
            continue
        sep = _cells(lines[i + 1])
        if not sep or not all(_SEPARATOR_CELL.match(c) for c in sep):
            continue
        header = _cells(lines[i])
        rows = [header]
        for line in lines[i + 2 :]:
            if "|" not in line or not line.strip():
                break
            rows.append(_cells(line))
        if len(sep) != len(header):
            return None, f"separator has {len(sep)} columns, header {len(header)}"
        return rows, ""
    return None, "no Markdown table (a header row followed by a |---| separator row)"


@scorer("markdown_table")
def markdown_table():
    """A Markdown table with at least `min_rows` data rows and the same column count in every row."""

    def score(sample, answer):
        if sample.get("check") != "markdown_table":
            return None
        rows, why = find_table(answer.text)
        if rows is None:
            return passed(False, why)
        width = len(rows[0])
        want_cols = sample.get("columns")
        if want_cols and width != want_cols:
            return passed(False, f"{width} columns, asked for {want_cols}")
        ragged = [i for i, r in enumerate(rows[1:], 1) if len(r) != width]
        if ragged:
            return passed(False, f"row {ragged[0]} has {len(rows[ragged[0]])} cells, header has {width}")
        data_rows = len(rows) - 1
        min_rows = int(sample.get("min_rows", 1))
        if data_rows < min_rows:
            return passed(False, f"{data_rows} data rows, asked for at least {min_rows}")
        return passed(True, f"table {width} columns x {data_rows} rows")

    return score
