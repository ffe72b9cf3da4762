"""Judge prompt templates: files in judges/templates/, `<kind>.<lang>.md`, hashed into config.json.

A template has a `[system]` and a `[user]` section; `{{question}}`, `{{answer}}`, `{{answer_a}}`
and `{{answer_b}}` are filled in one pass, so an answer that itself contains `{{answer_b}}` is
left as it is. The language is the question's: Chinese (any CJK character) or English.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from harness.io.includes import find as find_included
from harness.text import has_cjk

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
KINDS = ("pairwise", "rubric", "refusal")
LANGS = ("en", "zh")
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.MULTILINE)
_SLOT = re.compile(r"\{\{(question|answer|answer_a|answer_b)\}\}")


@dataclass(frozen=True)
class Template:
    name: str  # e.g. "pairwise.zh"
    system: str
    user: str
    sha256: str

    def render(self, **slots: str) -> list[dict]:
        def fill(text: str) -> str:
            return _SLOT.sub(lambda m: slots[m.group(1)], text)

        return [{"role": "system", "content": fill(self.system)}, {"role": "user", "content": fill(self.user)}]


def language_of(text: str) -> str:
    return "zh" if has_cjk(text) else "en"


@lru_cache(maxsize=None)
def load_template(kind: str, lang: str) -> Template:
    path = find_included("judges", "templates", f"{kind}.{lang}.md") or TEMPLATE_DIR / f"{kind}.{lang}.md"
    raw = path.read_text(encoding="utf-8")
    parts = _SECTION.split(raw)
    # split -> ['', 'system', text, 'user', text]
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ValueError(f"{path}: a judge template needs a [system] and a [user] section")
    return Template(f"{kind}.{lang}", sections["system"], sections["user"], hashlib.sha256(raw.encode()).hexdigest()[:16])


def template_for(kind: str, question: str) -> Template:
    return load_template(kind, language_of(question))


def template_hashes() -> dict[str, str]:
    """Every template's sha256 (16 hex), for config.json."""
    return {f"{k}.{lang}": load_template(k, lang).sha256 for k in KINDS for lang in LANGS}
