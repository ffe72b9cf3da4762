"""A data recipe: which sources, how they are normalised, deduplicated, mixed, split and exported.

    seed: 42                          # one seed for every shuffle and draw
    sources:
      - name: cmath                   # names the rows' `source` and the counts table
        path: raw/cmath.jsonl         # .jsonl / .json / .csv, relative to the recipe file
        # hub: owner/name, split: train   (a hub dataset instead of a path)
        format: fields                # auto (default) | messages | sharegpt | alpaca | fields
        fields: {user: question, assistant: golden}
        tags: [math, zh]
        weight: 0.4                   # relative; normalised to sum 1 (all zero: equal)
        max_chars: 3000               # optional: reject longer conversations
    dedup:
      near: {threshold: 0.8}          # optional MinHash near-duplicate clusters (report only
                                      # unless drop: true)
    mix:
      mode: interleave                # or resample
      total: 30000                    # interleave: stop here (default: every source exhausted);
                                      # resample: the exact size (default: all unique rows)
      max_upsample: 3                 # resample: warn when a source is repeated more than this
    split: {valid_ratio: 0.02, min_valid: 100}
    output: {dir: data/mix, arrow: true, jsonl: true}

Every key is checked on load; an error names the recipe file, the line and the valid keys.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from datapipe.normalize import FORMATS
from harness.errors import HarnessError
from harness.io.yaml_lines import check_keys, key_line, line_of, load_yaml

LOCAL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class SourceSpec:
    name: str
    path: Path | None = None  # a local file, resolved against the recipe's folder
    hub: str | None = None
    split: str = "train"
    format: str = "auto"
    fields: dict | None = None
    tags: list[str] = field(default_factory=list)
    weight: float = 1.0
    max_chars: int | None = None


@dataclass
class NearDupSpec:
    threshold: float = 0.8  # estimated Jaccard similarity of shingle sets
    num_perm: int = 128
    shingle: int = 5  # characters per shingle (works for text without spaces, e.g. Chinese)
    drop: bool = False  # keep one row per cluster (else only report the clusters)


@dataclass
class MixSpec:
    mode: str = "interleave"
    total: int | None = None
    max_upsample: float = 3.0


@dataclass
class SplitSpec:
    valid_ratio: float = 0.02
    min_valid: int = 100


@dataclass
class OutputSpec:
    dir: Path | None = None
    arrow: bool = True
    jsonl: bool = True


@dataclass
class Recipe:
    path: Path
    name: str
    seed: int
    sources: list[SourceSpec]
    near_dup: NearDupSpec | None
    mix: MixSpec
    split: SplitSpec
    output: OutputSpec
    digest: str  # sha256 of the recipe file: recorded in build_report.json

    def weights(self) -> list[float]:
        return normalized_weights([s.weight for s in self.sources])


def normalized_weights(weights: list[float]) -> list[float]:
    """Relative weights summing to 1; all zero means equal shares."""
    total = sum(weights)
    if total <= 0:
        return [1 / len(weights)] * len(weights)
    return [w / total for w in weights]


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"recipe not found: {path} (a YAML file; see docs/data.md)")
    raw = load_yaml(path)
    if not isinstance(raw, dict):
        raise HarnessError(f"{path}: a recipe is a mapping with at least 'sources:'")
    check_keys(raw, {"seed", "sources", "dedup", "mix", "split", "output"}, path, "recipe")
    base = path.parent
    sources_raw = raw.get("sources")
    if not isinstance(sources_raw, list) or not sources_raw:
        raise HarnessError(f"{path}:{key_line(raw, 'sources')}: 'sources' must be a non-empty list of sources")
    sources = [_source(s, base, path) for s in sources_raw]
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise HarnessError(f"{path}: two sources are named {name!r}; names must be unique")
    seed = raw.get("seed", 42)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise HarnessError(f"{path}:{key_line(raw, 'seed')}: seed must be a non-negative integer")
    recipe = Recipe(
        path=path, name=path.stem, seed=seed, sources=sources,
        near_dup=_near_dup(raw.get("dedup"), path), mix=_mix(raw.get("mix"), path),
        split=_split(raw.get("split"), path), output=_output(raw.get("output"), base, path),
        digest=hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    return recipe


def _mapping(value, path: Path, where_line: int, what: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HarnessError(f"{path}:{where_line}: '{what}' must be a mapping")
    return value


def _number(m: dict, key: str, path: Path, *, kind=float, low=None, high=None, default=None, what: str):
    value = m.get(key, default)
    if value is None:
        return None
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and kind is int:
        ok = float(value).is_integer()
    if ok and low is not None:
        ok = value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        bounds = f" >= {low}" if low is not None and high is None else (f" in [{low}, {high}]" if low is not None else "")
        noun = "an integer" if kind is int else "a number"
        raise HarnessError(f"{path}:{key_line(m, key)}: {what}.{key} must be {noun}{bounds}, got {value!r}")
    return kind(value)


def _source(s, base: Path, path: Path) -> SourceSpec:
    if not isinstance(s, dict):
        raise HarnessError(f"{path}: each source is a mapping with a name and a path (or hub)")
    check_keys(s, {"name", "path", "hub", "split", "format", "fields", "tags", "weight", "max_chars"}, path, "source")
    line = line_of(s)
    name = s.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise HarnessError(f"{path}:{line}: a source needs a 'name' (letters, digits, _ . -), got {name!r}")
    what = f"source {name}"
    if ("path" in s) == ("hub" in s):
        raise HarnessError(f"{path}:{line}: {what}: give exactly one of 'path' (a local file) or 'hub' (a dataset id)")
    spec = SourceSpec(name=name)
    if "path" in s:
        spec.path = (base / str(s["path"])).resolve() if not Path(str(s["path"])).is_absolute() else Path(s["path"])
        if spec.path.suffix.lower() not in LOCAL_SUFFIXES:
            raise HarnessError(f"{path}:{key_line(s, 'path')}: {what}: {s['path']} is not {', '.join(LOCAL_SUFFIXES)}")
        if not spec.path.is_file():
            raise HarnessError(f"{path}:{key_line(s, 'path')}: {what}: file not found: {spec.path} "
                               "(paths are relative to the recipe file)")
    else:
        spec.hub = str(s["hub"])
        spec.split = str(s.get("split", "train"))
    spec.format = s.get("format", "auto")
    if spec.format not in FORMATS:
        raise HarnessError(f"{path}:{key_line(s, 'format')}: {what}: format must be one of {', '.join(FORMATS)}, got {spec.format!r}")
    fields = s.get("fields")
    if spec.format == "fields" or fields is not None:
        if not isinstance(fields, dict) or not isinstance(fields.get("user"), str) or not isinstance(fields.get("assistant"), str):
            raise HarnessError(f"{path}:{key_line(s, 'fields') if fields is not None else line}: {what}: "
                               "format fields needs fields: {user: COLUMN, assistant: COLUMN} (system optional)")
        check_keys(fields, {"user", "assistant", "system"}, path, f"{what} fields")
        spec.fields = {k: str(v) for k, v in fields.items()}
        spec.format = "fields"
    tags = s.get("tags", [])
    if isinstance(tags, str):
        tags = [tags]
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise HarnessError(f"{path}:{key_line(s, 'tags')}: {what}: tags must be a list of strings")
    spec.tags = list(tags)
    spec.weight = _number(s, "weight", path, low=0, default=1.0, what=what)
    spec.max_chars = _number(s, "max_chars", path, kind=int, low=1, what=what)
    return spec


def _near_dup(value, path: Path) -> NearDupSpec | None:
    dedup = _mapping(value, path, 0, "dedup")
    check_keys(dedup, {"near"}, path, "dedup")
    near = dedup.get("near")
    if near is None or near is False:
        return None
    near = {} if near is True else _mapping(near, path, key_line(dedup, "near"), "dedup.near")
    check_keys(near, {"threshold", "num_perm", "shingle", "drop"}, path, "dedup.near")
    spec = NearDupSpec()
    spec.threshold = _number(near, "threshold", path, low=0.05, high=1.0, default=spec.threshold, what="dedup.near")
    spec.num_perm = _number(near, "num_perm", path, kind=int, low=16, default=spec.num_perm, what="dedup.near")
    spec.shingle = _number(near, "shingle", path, kind=int, low=1, default=spec.shingle, what="dedup.near")
    spec.drop = bool(near.get("drop", False))
    return spec


def _mix(value, path: Path) -> MixSpec:
    mix = _mapping(value, path, 0, "mix")
    check_keys(mix, {"mode", "total", "max_upsample"}, path, "mix")
    spec = MixSpec()
    spec.mode = mix.get("mode", spec.mode)
    if spec.mode not in ("interleave", "resample"):
        raise HarnessError(f"{path}:{key_line(mix, 'mode')}: mix.mode must be interleave or resample, got {spec.mode!r}")
    spec.total = _number(mix, "total", path, kind=int, low=1, what="mix")
    spec.max_upsample = _number(mix, "max_upsample", path, low=1, default=spec.max_upsample, what="mix")
    return spec


def _split(value, path: Path) -> SplitSpec:
    split = _mapping(value, path, 0, "split")
    check_keys(split, {"valid_ratio", "min_valid"}, path, "split")
    spec = SplitSpec()
    spec.valid_ratio = _number(split, "valid_ratio", path, low=0, high=0.9, default=spec.valid_ratio, what="split")
    spec.min_valid = _number(split, "min_valid", path, kind=int, low=0, default=spec.min_valid, what="split")
    if spec.valid_ratio == 0 and spec.min_valid == 0:
        raise HarnessError(f"{path}: split: valid_ratio and min_valid are both 0; a build always has a validation split")
    return spec


def _output(value, base: Path, path: Path) -> OutputSpec:
    out = _mapping(value, path, 0, "output")
    check_keys(out, {"dir", "arrow", "jsonl"}, path, "output")
    spec = OutputSpec(arrow=bool(out.get("arrow", True)), jsonl=bool(out.get("jsonl", True)))
    if out.get("dir"):
        spec.dir = base / str(out["dir"])
    if not (spec.arrow or spec.jsonl):
        raise HarnessError(f"{path}: output: arrow and jsonl are both off; nothing would be written")
    return spec
