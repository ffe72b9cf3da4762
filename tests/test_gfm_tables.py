"""Markdown tables as GitHub renders them: the GFM spec's table examples (tests/data/gfm_tables,
CC-BY-SA 4.0), each a named case, then the scorer's own asks (columns, data rows) on top."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.models.backends.base import Generation
from suites.scorers.markdown import RENDERER, find_table, markdown_table

SPEC = Path(__file__).parent / "data" / "gfm_tables" / "spec_tables.txt"
FENCE = "`" * 32


def spec_examples() -> list:
    """(markdown, html) of each `example table` block; the spec writes a tab as →."""
    text = SPEC.read_text(encoding="utf-8")
    blocks = re.findall(rf"^{FENCE} example table\n(.*?)^{FENCE}$", text, flags=re.S | re.M)
    out = []
    for n, block in enumerate(blocks, 1):
        markdown, html = block.split("\n.\n", 1) if not block.startswith(".\n") else ("", block[2:])
        out.append(pytest.param(markdown.replace("→", "\t") + "\n", html, id=f"gfm-table-example-{n}"))
    return out


EXAMPLES = spec_examples()


def normalized(html: str) -> str:
    # markdown-it-py writes alignment as a style, the spec as the old align attribute: the same table
    html = re.sub(r' style="text-align:(left|center|right)"', r' align="\1"', html)
    return re.sub(r">\s+<", "><", html.strip())


def test_every_example_of_the_section_is_here():
    assert len(EXAMPLES) == 8


@pytest.mark.parametrize("markdown, html", EXAMPLES)
def test_renders_as_the_spec_says(markdown, html):
    assert normalized(RENDERER.render(markdown)) == normalized(html)
    found = find_table(markdown)
    if "<table>" in html:
        header = re.findall(r"<th[^>]*>(.*?)</th>", html.split("</thead>")[0])
        assert found is not None and len(found.header) == len(header)
        assert len(found.rows) == html.split("</thead>")[1].count("<tr>")
        assert all(len(row) == len(header) for row in found.rows)  # padded or cut, as rendered
    else:
        assert found is None


def ans(text: str) -> Generation:
    return Generation(raw=text, text=text, finish_reason="stop", prompt_tokens=0, completion_tokens=0)


SAMPLE = {"check": "markdown_table", "min_rows": 2, "columns": 3}


@pytest.mark.parametrize("text", [
    "| a | b | c |\n|-|-|-|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |",  # one hyphen per delimiter cell
    "a | b | c\n:-: | -: | :-\n1 | 2 | 3\n4 | 5 | 6",  # no outer pipes, alignments
    "| a | b | c |\n|---|---|---|\n| 1 | 2 |\n| 4 | 5 | 6 | 7 |",  # short and long rows: padded, cut
    "Here:\n\n> | a | b | c |\n> |---|---|---|\n> | 1 | 2 | 3 |\n> | 4 | 5 | 6 |",  # in a block quote
], ids=["one-hyphen", "no-outer-pipes", "ragged-rows", "in-blockquote"])
def test_what_github_renders_as_a_table_passes(text):
    score = markdown_table()(SAMPLE, ans(text))
    assert score.value == 1.0 and score.reason == "table 3 columns x 2 rows", score.reason


@pytest.mark.parametrize("text, reason", [
    ("| a | b | c |\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |", "no table GitHub would render"),  # no delimiter row
    ("| a | b | c |\n|---|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |", "no table GitHub would render"),  # delimiter 2 cells, header 3
    ("```\n| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |\n```", "no table GitHub would render"),  # code
    ("| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n\n| 4 | 5 | 6 |", "1 data rows, asked for at least 2"),  # blank line ends it
    ("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |", "2 columns, asked for 3"),
], ids=["no-delimiter", "delimiter-count", "in-code-fence", "blank-line-ends-table", "wrong-columns"])
def test_what_github_does_not_render_or_the_task_did_not_ask_fails(text, reason):
    score = markdown_table()(SAMPLE, ans(text))
    assert score.value == 0.0 and reason in score.reason, score.reason


def test_escaped_pipes_stay_in_their_cell():
    table = find_table("| a | b \\| c |\n|---|---|\n| 1 | `x \\| y` |")
    assert table.header == ["a", "b | c"] and table.rows == [["1", "`x | y`"]]
