"""Markdown table check: a table as GitHub renders it, then the task's asks (columns, data rows).

What is a table is GFM's table extension (the GitHub Flavored Markdown spec, "Tables (extension)"),
as markdown-it-py's table rule implements it on CommonMark: a header row, a delimiter row of cells
made of hyphens with optional colons (`|-|:-:|` counts, one hyphen is enough) with as many cells as
the header, then data rows until a blank line or another block. A data row with fewer cells gets
empty ones and one with more loses the excess, as GitHub shows it; a table inside a code fence is
code, not a table. tests/test_gfm_tables.py checks this against the spec's examples.
"""

from __future__ import annotations

from dataclasses import dataclass

from markdown_it import MarkdownIt

from harness.scorers import passed, scorer

# The renderer as GitHub would show the text (the spec examples are checked with it); scoring needs
# only the blocks, and skipping inline parsing keeps it linear (markdown-it-py's link parsing of a
# megabyte of "[" takes minutes). Cells keep their raw text, escaped pipes unescaped.
RENDERER = MarkdownIt("commonmark", {"html": False}).enable("table")
_BLOCKS = MarkdownIt("commonmark", {"html": False}).enable("table").disable(["inline", "text_join"])


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]  # data rows, each as many cells as the header (GFM pads or cuts them)


def find_table(text: str) -> Table | None:
    """The first table GitHub would render from `text`, or None."""
    tokens = _BLOCKS.parse(text)
    start = next((i for i, t in enumerate(tokens) if t.type == "table_open"), None)
    if start is None:
        return None
    header: list[str] = []
    rows: list[list[str]] = []
    row: list[str] | None = None
    in_head = False
    for token in tokens[start + 1:]:
        if token.type == "table_close":
            break
        if token.type in ("thead_open", "thead_close"):
            in_head = token.type == "thead_open"
        elif token.type == "tr_open":
            row = []
        elif token.type == "inline" and row is not None:
            row.append(token.content.strip())
        elif token.type == "tr_close" and row is not None:
            if in_head:
                header = row
            else:
                rows.append(row)
            row = None
    return Table(header, rows)


@scorer("markdown_table")
def markdown_table():
    """A table GitHub renders (GFM), with the asked number of columns and at least `min_rows` data rows."""

    def score(sample, answer):
        if sample.get("check") != "markdown_table":
            return None
        table = find_table(answer.text)
        if table is None:
            return passed(False, "no table GitHub would render (a header row, then a delimiter row such as |---|---| "
                                 "with as many cells as the header)")
        width = len(table.header)
        want_cols = sample.get("columns")
        if want_cols and width != want_cols:
            return passed(False, f"{width} columns, asked for {want_cols}")
        data_rows = len(table.rows)
        min_rows = int(sample.get("min_rows", 1))
        if data_rows < min_rows:
            return passed(False, f"{data_rows} data rows, asked for at least {min_rows}")
        return passed(True, f"table {width} columns x {data_rows} rows")

    return score
