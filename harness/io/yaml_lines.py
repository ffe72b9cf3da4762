"""Line-aware YAML: every mapping remembers the line it starts on and the line of each key, so
errors in suites, policies and training configs can name `file:line`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError


class _Node(dict):
    line: int = 0  # where the mapping starts
    key_lines: dict  # key -> the line the key is on


class LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings remember the line they start on (for error messages)."""


def _construct_mapping(loader, node):
    mapping = _Node()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    yield mapping
    mapping.update(loader.construct_mapping(node))


LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


def load_yaml(path: str | Path) -> Any:
    """Parse a YAML file whose mappings know the line of each key (`key_line`); errors name file:line."""
    try:
        return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=LineLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise HarnessError(f"{where}: YAML error: {getattr(e, 'problem', None) or e}") from None


def line_of(node) -> int:
    """The line a mapping from load_yaml starts on (0 for anything else)."""
    return getattr(node, "line", 0)


def key_line(mapping, key: str) -> int:
    """The line `key` is on in a mapping from load_yaml (the mapping's own line if unknown)."""
    return getattr(mapping, "key_lines", {}).get(key, line_of(mapping))


def check_keys(mapping: dict, allowed: set[str], path: Path, what: str) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise HarnessError(
            f"{path}:{key_line(mapping, unknown[0])}: {what}: unknown key {unknown[0]!r}; valid keys: {', '.join(sorted(allowed))}"
        )
