"""`harness data build`: a recipe's sources -> normalised -> deduplicated -> mixed -> split -> exported.

The stages, in order (seed 003, section 3.2):

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

from datasets import Dataset, load_from_disk

from datapipe import export
from datapipe.dedup import across_sources, conversation_text, first_occurrences, hash_array, near_duplicate_clusters
from datapipe.mix import mix, split, value_counts
from datapipe.recipe import Recipe
from datapipe.sources import read_normalized

PREVIEW_CHARS = 80


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
        report = _build(recipe, out, work, log)
        export.swap_in(work / "out", out, work / "old")
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(recipe: Recipe, out: Path, work: Path, log) -> BuildReport:
    staged = work / "out"
    staged.mkdir()
    weights = recipe.weights()
    counts = [SourceCounts(s.name, _as_in_recipe(s, recipe), w) for s, w in zip(recipe.sources, weights)]
    report = BuildReport(recipe=recipe.path.name, recipe_sha256=recipe.digest, seed=recipe.seed,
                         mode=recipe.mix.mode, sources=counts)

    # Fingerprints from the recipe and the sources' bytes: the Arrow files' state.json is then
    # the same in every build of the same inputs (datasets would otherwise draw random ones).
    fingerprint = hashlib.sha256(f"{recipe.digest}:{_source_digests(recipe)}".encode()).hexdigest()[:16]
    pools, rejects = [], []
    for spec, c in zip(recipe.sources, counts):
        log(f"read {spec.name}: {_display(spec)}")
        rows = read_normalized(spec, work, _display(spec), f"{fingerprint}-{spec.name}-normalized")
        status = value_counts(rows, "status")
        c.read = len(rows) - status.get("blank", 0)
        c.rejected = status.get("rejected", 0)
        ok = _where_status(rows, "ok")
        if c.rejected:
            bad = _where_status(rows, "rejected")
            rejects.append(bad)
            for reason, n in sorted(value_counts(bad, "reason").items()):
                kind = re.sub(r"\d+", "N", reason)
                c.reasons[kind] = c.reasons.get(kind, 0) + n
        keep = first_occurrences(hash_array(ok))
        c.duplicates = len(ok) - len(keep)
        pool_dir = work / "pools" / spec.name  # later stages write their cache files beside it
        pool = ok.select(keep).select_columns(["id", "messages", "source", "tags", "tools", "message_keys", "hash", "where"],
                                              new_fingerprint=f"{fingerprint}-{spec.name}")
        pool.save_to_disk(str(pool_dir))
        if recipe.output.arrow:
            shutil.copytree(pool_dir, staged / "sources" / spec.name)
        pools.append(load_from_disk(str(pool_dir)))

    log("dedup across sources")
    keeps = across_sources([hash_array(p) for p in pools])
    for i, keep in enumerate(keeps):
        counts[i].cross_duplicates = len(pools[i]) - len(keep)
        pools[i] = pools[i].select(keep)

    if recipe.near_dup:
        log("near-duplicates (MinHash)")
        pools = _near_duplicates(recipe, pools, counts, report, staged)
    for c, p in zip(counts, pools):
        c.unique = len(p)

    log(f"mix ({recipe.mix.mode})")
    mixed = mix(pools, [s.name for s in recipe.sources], weights, recipe.mix, recipe.seed)
    report.warnings += mixed.warnings
    for c, n in zip(counts, mixed.counts):
        c.sampled = n
    train, validation = split(mixed.dataset, recipe.split, recipe.seed)
    report.train, report.validation = len(train), len(validation)
    for name, ds in (("train", train), ("validation", validation)):
        per_source = value_counts(ds, "source")
        for c in counts:
            setattr(c, name, per_source.get(c.name, 0))

    log("export")
    if recipe.output.jsonl:
        export.write_jsonl(train, staged / "train.jsonl")
        export.write_jsonl(validation, staged / "validation.jsonl")
    if recipe.output.arrow:
        features = export.arrow_features(*export.optional_message_keys([train, validation]))
        export.save_arrow({"train": export.to_arrow(train, features, f"{fingerprint}-train"),
                           "validation": export.to_arrow(validation, features, f"{fingerprint}-validation")}, staged)
    if rejects:
        export.write_rejects(rejects, staged / "rejects.jsonl")
    report.files = sorted(str(p.relative_to(staged)) for p in staged.iterdir()) + [export.REPORT]
    export.write_json(report.to_dict(), staged / export.REPORT)
    return report


def _where_status(rows: Dataset, status: str) -> Dataset:
    return rows.filter(lambda values: [v == status for v in values], input_columns=["status"], batched=True,
                       batch_size=10_000)


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


def _near_duplicates(recipe: Recipe, pools: list[Dataset], counts: list[SourceCounts], report: BuildReport,
                     staged: Path) -> list[Dataset]:
    import json

    def texts():
        for p in pools:
            for batch in p.select_columns(["messages"]).iter(batch_size=2000):
                yield [conversation_text(json.loads(m)) for m in batch["messages"]]

    clusters = near_duplicate_clusters(texts(), recipe.near_dup, recipe.seed)
    starts, total = [], 0
    for p in pools:
        starts.append(total)
        total += len(p)

    def locate(g: int) -> tuple[int, int]:
        i = max(k for k, s in enumerate(starts) if s <= g and len(pools[k]))
        return i, g - starts[i]

    dropped: list[set[int]] = [set() for _ in pools]
    with (staged / "near_duplicates.jsonl").open("w", encoding="utf-8", newline="\n") as f:
        for number, cluster in enumerate(clusters, 1):
            members = []
            for rank, g in enumerate(cluster.members):
                i, j = locate(g)
                row = pools[i][j]
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
        return pools
    out = []
    for p, drop, c in zip(pools, dropped, counts):
        c.near_dropped = len(drop)
        out.append(p.select([j for j in range(len(p)) if j not in drop]) if drop else p)
    return out
