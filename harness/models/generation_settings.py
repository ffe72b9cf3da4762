"""Generation settings: defaults, validation and merging.

Greedy decoding is the default (temperature 0), so the same run twice gives the same outputs.
A temperature above 0 turns sampling on, seeded by `seed`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from harness.errors import HarnessError


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    min_p: float = 0.0  # 0 = off
    repetition_penalty: float = 1.0
    seed: int = 42
    enable_thinking: bool | None = None  # passed to the chat template when set (Qwen3)

    @property
    def do_sample(self) -> bool:
        return self.temperature > 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, overrides: dict[str, Any], where: str) -> "GenerationSettings":
        """Return a copy with `overrides` applied; unknown keys or bad values raise HarnessError."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, raw in overrides.items():
            if key not in known:
                raise HarnessError(
                    f"{where}: unknown generation setting '{key}'; valid settings: "
                    + ", ".join(sorted(known))
                )
            clean[key] = _coerce(key, raw, getattr(self, key), where)
        new = replace(self, **clean)
        new._validate(where)
        return new

    def _validate(self, where: str) -> None:
        checks = [
            (self.max_new_tokens >= 1, "max_new_tokens must be >= 1"),
            (self.temperature >= 0, "temperature must be >= 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.top_k >= 0, "top_k must be >= 0"),
            (0 <= self.min_p < 1, "min_p must be in [0, 1)"),
            (self.repetition_penalty > 0, "repetition_penalty must be > 0"),
        ]
        for ok, msg in checks:
            if not ok:
                raise HarnessError(f"{where}: {msg}")


def _coerce(key: str, raw: Any, current: Any, where: str) -> Any:
    if key == "enable_thinking":
        if isinstance(raw, bool) or raw is None:
            return raw
        text = str(raw).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise HarnessError(f"{where}: enable_thinking must be true or false, got {raw!r}")
    kind = int if isinstance(current, int) and not isinstance(current, bool) else float
    try:
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        return kind(raw) if kind is float else int(str(raw)) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise HarnessError(
            f"{where}: generation setting '{key}' must be {'an integer' if kind is int else 'a number'}, got {raw!r}"
        ) from None


def parse_cli_overrides(items: list[str] | None) -> dict[str, str]:
    """`--gen key=value` items from the command line into a dict (values coerced later)."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--gen {item!r}: expected KEY=VALUE, e.g. --gen temperature=0.7")
        out[key.strip()] = value.strip()
    return out
