"""`harness data build`: a recipe's sources -> normalised -> deduplicated -> mixed -> split -> exported.

The stages, in order:

1. read and normalise each source; a row that cannot be normalised is rejected with its reason
2. exact dedup within each source, then save each source (Arrow)
3. exact dedup across sources (the first source listed keeps the row). This is the seed's
   "final dedup", run before mixing so that resample's repeats are not undone
4. optional near-duplicate clusters (MinHash), reported, or reduced to one row with drop: true
5. mix by weight (interleave or resample), 6. split, 7. export

Every row read is accounted for in the counts: rejected (with reasons), duplicate, near-duplicate
dropped, or not drawn by the mix. The same recipe, sources and seed give byte-identical files.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from datasets import Dataset, concatenate_datasets, load_from_disk

from datapipe import export
from datapipe.dedup import across_sources, conversation_text, first_occurrences, hash_array, near_duplicate_clusters
from datapipe.mix import mix, seeded_keys, split
from datapipe.recipe import Recipe
from datapipe.sources import read_normalized

PREVIEW_CHARS = 80
POOL_COLUMNS = ["id", "messages", "source", "tags", "tools", "message_keys", "hash", "where"]


@dataclass
class SourceCounts:
    name: str
    where: str
    weight: float  # normalised
    read: int = 0  # rows read (blank lines are not rows)
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)  # reason (numbers as N) -> rows
    duplicates: int = 0  # exact duplicates within the source
    cross_duplicates: int = 0  # exact duplicates of a row of an earlier source
    near_dropped: int = 0  # near-duplicates dropped (dedup.near.drop)
    unique: int = 0  # rows available to the mix
    sampled: int = 0  # rows the mix drew (may repeat rows with resample)
    train: int = 0
    validation: int = 0

    @property
    def normalized(self) -> int:
        return self.read - self.rejected


@dataclass
class BuildReport:
    recipe: str
    recipe_sha256: str
    seed: int
    mode: str
    sources: list[SourceCounts]
    train: int = 0
    validation: int = 0
    warnings: list[str] = field(default_factory=list)
    near_duplicate_clusters: int | None = None  # None: the pass was off
    near_duplicate_rows: int = 0
    files: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        for s, counts in zip(d["sources"], self.sources):
            s["normalized"] = counts.normalized
        return d


def build(recipe: Recipe, out: Path, log: Callable[[str], None] = lambda _line: None) -> BuildReport:
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()  # the stage lines say what happens
    out = Path(out)
    export.check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.build-", dir=out.parent))
    try:
        report = _build(recipe, work, log)
        export.swap_in(work / "out", out, work / "old")
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(recipe: Recipe, work: Path, log) -> BuildReport:
    staged = work / "out"
    staged.mkdir()
    weights = recipe.weights()
    counts = [SourceCounts(s.name, _as_in_recipe(s, recipe), w) for s, w in zip(recipe.sources, weights)]
    report = BuildReport(recipe=recipe.path.name, recipe_sha256=recipe.digest, seed=recipe.seed,
                         mode=recipe.mix.mode, sources=counts)

    # Fingerprints from the recipe and the sources' bytes: the Arrow files' state.json is then
    # the same in every build of the same inputs, and datasets need not hash our index arrays.
    fingerprint = hashlib.sha256(f"{recipe.digest}:{_source_digests(recipe)}".encode()).hexdigest()[:16]
    pools, hashes, rejects = [], [], []
    for spec, c in zip(recipe.sources, counts):
        log(f"read {spec.name}: {_display(spec)}")
        pool, pool_hashes, bad = _read_source(spec, c, recipe, work, staged, fingerprint)
        pools.append(pool)
        hashes.append(pool_hashes)
        if bad is not None:
            rejects.append(bad)

    # From here on a row is a number: kept[i] holds the rows of pool i still in play.
    log("dedup across sources")
    kept = across_sources(hashes)
    for c, pool, k in zip(counts, pools, kept):
        c.cross_duplicates = len(pool) - len(k)
    if recipe.near_dup:
        log("near-duplicates (MinHash)")
        kept = _near_duplicates(recipe, pools, kept, counts, report, staged)
    for c, k in zip(counts, kept):
        c.unique = len(k)

    log(f"mix ({recipe.mix.mode})")
    mixed = mix([len(k) for k in kept], [s.name for s in recipe.sources], weights, recipe.mix, recipe.seed)
    report.warnings += mixed.warnings
    for c, n in zip(counts, mixed.counts):
        c.sampled = n
    drawn = _drawn_rows(mixed, kept, pools)
    train_pos, val_pos = split(seeded_keys(np.concatenate(hashes)[drawn], recipe.seed), recipe.split, recipe.seed)
    splits = {"train": drawn[train_pos], "validation": drawn[val_pos]}
    for name, pos in (("train", train_pos), ("validation", val_pos)):
        for c, n in zip(counts, np.bincount(mixed.source[pos], minlength=len(pools))):
            setattr(c, name, int(n))
    report.train, report.validation = len(train_pos), len(val_pos)

    log("export")
    features = export.arrow_features(*export.optional_message_keys(pools)) if recipe.output.arrow else None
    # All pools, memory-mapped, one after the other: what the row numbers in `splits` point into.
    everything = export.RowTaker(concatenate_datasets(pools).data.table.select(export.EXPORTED))
    arrow = {}
    for name, rows in splits.items():
        written = export.export_split(
            everything, rows, staged / f"{name}.jsonl" if recipe.output.jsonl else None,
            (work / f"{name}.arrow", features, f"{fingerprint}-{name}") if recipe.output.arrow else None)
        if written is not None:
            arrow[name] = written
    if arrow:
        export.save_arrow(arrow, staged)
    if rejects:
        export.write_rejects(rejects, staged / "rejects.jsonl")
    report.files = sorted(str(p.relative_to(staged)) for p in staged.iterdir()) + [export.REPORT]
    export.write_json(report.to_dict(), staged / export.REPORT)
    return report


def _read_source(spec, c: SourceCounts, recipe: Recipe, work: Path, staged: Path, fingerprint: str):
    """Stages 1-2 for one source: (its pool of unique rows, their hashes, its rejected rows or None)."""
    rows = read_normalized(spec, work, _display(spec))
    status = value_counts(rows, "status")
    c.read = len(rows) - status.get("blank", 0)
    c.rejected = status.get("rejected", 0)
    bad = None
    if c.rejected:
        bad = _where_status(rows, "rejected", f"{fingerprint}-{spec.name}-rejected")
        for reason, n in sorted(value_counts(bad, "reason").items()):
            kind = re.sub(r"\d+", "N", reason)
            c.reasons[kind] = c.reasons.get(kind, 0) + n
    ok = _where_status(rows, "ok", f"{fingerprint}-{spec.name}-ok")
    ok_hashes = hash_array(ok)
    keep = first_occurrences(ok_hashes)
    c.duplicates = len(ok) - len(keep)
    # The per-source save. Later stages keep their index arrays in memory and
    # write their files to the work folder, so nothing else lands beside it.
    pool_dir = (staged / "sources" if recipe.output.arrow else work / "pools") / spec.name
    pool = ok.select(keep, new_fingerprint=f"{fingerprint}-{spec.name}-unique")
    pool.select_columns(POOL_COLUMNS, new_fingerprint=f"{fingerprint}-{spec.name}").save_to_disk(str(pool_dir))
    return load_from_disk(str(pool_dir)), ok_hashes[keep], bad


def _drawn_rows(mixed, kept: list[np.ndarray], pools: list[Dataset]) -> np.ndarray:
    """Each row the mix drew, as a row number of all pools concatenated."""
    offsets = np.cumsum([0] + [len(p) for p in pools[:-1]])
    drawn = np.empty(len(mixed.source), dtype=np.int64)
    for i, k in enumerate(kept):
        mask = mixed.source == i
        drawn[mask] = offsets[i] + k[mixed.rank[mask]]
    return drawn


def value_counts(ds: Dataset, column: str) -> dict[str, int]:
    """How often each value of a string column occurs (Arrow batches, no Python list of the rows)."""
    import pyarrow.compute as pc

    counts: dict[str, int] = {}
    for batch in ds.select_columns([column]).with_format("arrow").iter(batch_size=10_000):
        for item in pc.value_counts(batch[column]).to_pylist():
            counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]
    return counts


def _where_status(rows: Dataset, status: str, fingerprint: str) -> Dataset:
    return rows.filter(lambda values: [v == status for v in values], input_columns=["status"], batched=True,
                       batch_size=10_000, new_fingerprint=fingerprint)


def _display(spec) -> str:
    """A source's location as the user reads it: relative to the working directory when inside it."""
    if spec.hub:
        return f"{spec.hub}[{spec.split}]"
    try:
        return str(spec.path.relative_to(Path.cwd()))
    except ValueError:
        return str(spec.path)


def _as_in_recipe(spec, recipe: Recipe) -> str:
    """A source's location relative to the recipe's folder (the same wherever the build runs)."""
    if spec.hub:
        return f"{spec.hub}[{spec.split}]"
    return os.path.relpath(spec.path, recipe.path.parent.resolve())


def _source_digests(recipe: Recipe) -> str:
    parts = []
    for s in recipe.sources:
        if s.path:
            h = hashlib.sha256()
            with s.path.open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            parts.append(h.hexdigest())
        else:
            parts.append(f"{s.hub}[{s.split}]")
    return ",".join(parts)


def _near_duplicates(recipe: Recipe, pools: list[Dataset], kept: list[np.ndarray], counts: list[SourceCounts],
                     report: BuildReport, staged: Path) -> list[np.ndarray]:
    """Clusters over the rows still in play (numbered pool after pool); with drop, all but the
    first row of each cluster leave `kept`."""
    import json

    def texts():
        for pool, k in zip(pools, kept):
            for start in range(0, len(k), 2000):
                batch = pool.select_columns(["messages"])[k[start:start + 2000].tolist()]  # read, nothing written
                yield [conversation_text(json.loads(m)) for m in batch["messages"]]

    clusters = near_duplicate_clusters(texts(), recipe.near_dup, recipe.seed)
    starts = np.cumsum([0] + [len(k) for k in kept])

    def locate(g: int) -> tuple[int, int]:
        i = int(np.searchsorted(starts, g, side="right") - 1)
        return i, g - int(starts[i])

    dropped: list[set[int]] = [set() for _ in pools]
    with (staged / "near_duplicates.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for number, cluster in enumerate(clusters, 1):
            members = []
            for rank, g in enumerate(cluster.members):
                i, j = locate(g)
                row = pools[i][int(kept[i][j])]
                text = conversation_text(json.loads(row["messages"]))
                members.append({"source": row["source"], "id": row["id"], "where": row["where"],
                                "kept": rank == 0 or not recipe.near_dup.drop,
                                "preview": text[:PREVIEW_CHARS].replace("\n", " ")})
                if rank and recipe.near_dup.drop:
                    dropped[i].add(j)
            f.write(export.dumps({"cluster": number, "size": len(members), "rows": members}) + "\n")
    report.near_duplicate_clusters = len(clusters)
    report.near_duplicate_rows = sum(len(c.members) for c in clusters)
    if not recipe.near_dup.drop:
        return kept
    for c, drop in zip(counts, dropped):
        c.near_dropped = len(drop)
    return [np.delete(k, sorted(drop)) for k, drop in zip(kept, dropped)]
