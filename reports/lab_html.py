"""report.html: report.md rendered (markdown-it, CommonMark plus tables) into one self-contained
page: images inlined as data: URIs, the style sheet inlined, no script and nothing fetched from a
network, so the file alone is what a student hands in."""

from __future__ import annotations

import base64
import html
import mimetypes
import re
from pathlib import Path

from harness.errors import HarnessError

STYLE = """
body { font-family: -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", Helvetica, Arial, sans-serif;
       max-width: 1200px; margin: 2em auto; padding: 0 1.5em; color: #1f2328; line-height: 1.5; }
h1, h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3em; }
table { border-collapse: collapse; margin: 1em 0; display: block; overflow-x: auto; }
th, td { border: 1px solid #d0d7de; padding: 6px 10px; vertical-align: top; }
th { background: #f6f8fa; }
tr:nth-child(2n) td { background: #fbfcfd; }
img { max-width: 100%; border: 1px solid #d0d7de; }
code { background: #f6f8fa; padding: .1em .3em; border-radius: 4px; font-size: 90%; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
details summary { cursor: pointer; color: #0969da; }
"""


def slug(text: str) -> str:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def inline_images(body: str, folder: Path) -> str:
    def data_uri(m: re.Match) -> str:
        src = html.unescape(m.group(2))
        if re.match(r"^[a-z]+:", src):
            raise HarnessError(f"report.md links the image {src}; a self-contained report only has images from its own folder")
        path = folder / src
        if not path.is_file():
            raise HarnessError(f"report.md shows {src}, which is not in {folder}")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f'{m.group(1)}"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"'

    return re.sub(r'(<img[^>]*?\bsrc=)"([^"]*)"', data_uri, body)


def render_html(markdown: str, folder: Path, title: str) -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown)
    body = re.sub(r"<(h[1-4])>(.*?)</\1>", lambda m: f'<{m.group(1)} id="{slug(re.sub("<[^>]+>", "", m.group(2)))}">'
                  f"{m.group(2)}</{m.group(1)}>", body)
    body = inline_images(body, folder)
    return (f"<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{html.escape(title)}</title>\n"
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")
