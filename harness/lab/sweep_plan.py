"""What `harness sweep` runs: variants of one training config, each a set of overrides.

    grid      --grid KEY=V1,V2 (repeatable): every combination, the first values first
    variants  --variant KEY=V[,KEY=V...] (repeatable): exactly these, in this order
    staged    --plan staged: one parameter at a time, each stage keeping the previous stages'
              winners; the lab's search order by default (learning rate, then epochs, then LoRA
              rank with alpha = 2 x rank, then the effective batch), or the --grid keys in the
              order given

A plan is data (sweep.json in the sweep directory), so a sweep run again with the same command
finds what is done: a finished variant is not rerun, a killed one resumes from its checkpoint.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from harness.errors import HarnessError

PLAN_FILE = "sweep.json"
KINDS = ("grid", "variants", "staged")
# Keys a variant may not set: the sweep owns where each variant writes and how it resumes.
RESERVED = {"output_dir", "resume_from_checkpoint"}
# Short names for directory names (anything else: the key's last part).
SHORT = {"learning_rate": "lr", "lora.r": "r", "lora.alpha": "alpha", "lora.dropout": "dropout", "epochs": "ep",
         "max_steps": "steps", "gradient_accumulation_steps": "ga", "per_device_batch_size": "bs", "warmup_ratio": "warmup"}


@dataclass
class Variant:
    name: str  # its directory under the sweep directory
    overrides: dict[str, str]  # dotted config key -> value as typed (applied like `--set KEY=VALUE`)
    stage: int | None = None  # staged plans: the stage it belongs to (0-based)
    status: str = "planned"  # planned | smoke-failed | done
    note: str = ""  # e.g. why the smoke test stopped it
    steps: int | None = None  # optimizer steps it trains (known once resolved)
    elapsed_s: float | None = None  # wall time of its training and rescoring, once done
    smoke: str = ""  # the smoke test's verdict, when one ran

    def sets(self) -> list[str]:
        return [f"{k}={v}" for k, v in self.overrides.items()]


@dataclass
class Stage:
    parameter: str  # what the stage varies, e.g. "learning_rate" or "lora.r (alpha = 2 x r)"
    choices: list[dict[str, str]]  # each choice: the overrides it sets
    winner: str | None = None  # the winning variant's name, once the stage ran
    why: str = ""  # the winner's metric value and CI


@dataclass
class SweepPlan:
    kind: str
    config: str  # the base training config file
    config_sha256: str
    base_sets: list[str]  # --set items applied to every variant
    metric: str  # what ranks variants and picks stage winners
    variants: list[Variant] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    smoke_steps: int | None = None

    def identity(self) -> dict:
        """What must match for a sweep directory to be resumed with this plan."""
        return {"kind": self.kind, "config_sha256": self.config_sha256, "base_sets": self.base_sets,
                "metric": self.metric, "variants": [v.overrides for v in self.variants if v.stage is None],
                "stages": [s.choices for s in self.stages]}

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SweepPlan":
        return cls(d["kind"], d["config"], d["config_sha256"], list(d["base_sets"]), d["metric"],
                   [Variant(**v) for v in d.get("variants", [])], [Stage(**s) for s in d.get("stages", [])],
                   d.get("smoke_steps"))

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


def parse_assignments(text: str, where: str) -> dict[str, str]:
    """'lora.r=8,lora.alpha=16' -> {lora.r: 8, lora.alpha: 16} (a comma starts a new KEY= only
    before a key, so a value may hold commas: target_modules=[q_proj,v_proj])."""
    parts = re.split(r",(?=\s*[A-Za-z_][\w.]*\s*=)", text)
    out = {}
    for part in parts:
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key or not value.strip():
            raise HarnessError(f"{where} {text!r}: expected KEY=VALUE[,KEY=VALUE...], e.g. lora.r=8,lora.alpha=16")
        _check_key(key, where)
        out[key] = value.strip()
    return out


def parse_grid(items: list[str]) -> list[tuple[str, list[str]]]:
    """['learning_rate=2e-5,2e-4', 'lora.r=32,8'] -> [(learning_rate, [2e-5, 2e-4]), (lora.r, [32, 8])]."""
    grid = []
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        choices = [v.strip() for v in _split_values(values)] if sep else []
        if not key or not choices or any(not v for v in choices):
            raise HarnessError(f"--grid {item!r}: expected KEY=V1,V2[,...], e.g. --grid learning_rate=2e-5,2e-4")
        _check_key(key, "--grid")
        if any(key == k for k, _ in grid):
            raise HarnessError(f"--grid {item!r}: {key} is given twice; list all its values in one --grid")
        if len(set(choices)) != len(choices):
            raise HarnessError(f"--grid {item!r}: a value is listed twice")
        grid.append((key, choices))
    return grid


def _split_values(text: str) -> list[str]:
    """Split on commas outside brackets (a value may be a YAML list)."""
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur]


def _check_key(key: str, where: str) -> None:
    if key in RESERVED:
        raise HarnessError(f"{where}: {key} is set by the sweep itself (each variant writes to its own directory); sweep other keys")


def variant_name(overrides: dict[str, str], prefix: str = "") -> str:
    parts = [f"{SHORT.get(k, k.rsplit('.', 1)[-1])}{v}" for k, v in overrides.items()]
    name = prefix + ("_".join(parts) or "base")
    return re.sub(r"[^\w.+-]+", "-", name)[:120]


def _unique(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, int] = {}
    for v in variants:
        n = seen.get(v.name, 0)
        seen[v.name] = n + 1
        if n:
            v.name = f"{v.name}-{n + 1}"
    return variants


def grid_variants(grid: list[tuple[str, list[str]]]) -> list[Variant]:
    keys = [k for k, _ in grid]
    combos = itertools.product(*[values for _, values in grid])
    return _unique([Variant(variant_name(dict(zip(keys, c))), dict(zip(keys, c))) for c in combos])


def explicit_variants(items: list[str]) -> list[Variant]:
    variants = [parse_assignments(item, "--variant") for item in items]
    for i, v in enumerate(variants):
        if v in variants[:i]:
            raise HarnessError(f"--variant {items[i]!r} is listed twice")
    return _unique([Variant(variant_name(v), v) for v in variants])


def default_stages(config: dict) -> list[Stage]:
    """The lab's search order, from the base config (`config`: its resolved keys):
    1. learning rate: QLoRA 1e-4, 2e-4, 3e-4 (plain LoRA: 1e-5, 2e-5, 5e-5)
    2. training length: 1, 2, 3 epochs (or 1x, 2x, 3x max_steps when the config counts steps)
    3. LoRA rank 8, 16, 32, 64 with alpha = 2 x rank
    4. effective batch 16, 32, 64 through gradient accumulation (those the per-device batch divides)
    """
    lrs = ["1e-4", "2e-4", "3e-4"] if config.get("quantization", "nf4") == "nf4" else ["1e-5", "2e-5", "5e-5"]
    stages = [Stage("learning_rate", [{"learning_rate": v} for v in lrs])]
    steps = int(config.get("max_steps") or -1)
    if steps > 0:
        stages.append(Stage("max_steps (the config counts steps, not epochs)", [{"max_steps": str(steps * k)} for k in (1, 2, 3)]))
    else:
        stages.append(Stage("epochs", [{"epochs": str(k)} for k in (1, 2, 3)]))
    stages.append(Stage("lora.r (alpha = 2 x r)", [{"lora.r": str(r), "lora.alpha": str(2 * r)} for r in (8, 16, 32, 64)]))
    per_device = int(config.get("per_device_batch_size") or 1)
    batches = [b for b in (16, 32, 64) if b % per_device == 0]
    stages.append(Stage(f"effective batch ({per_device} per device x gradient_accumulation_steps)",
                        [{"gradient_accumulation_steps": str(b // per_device)} for b in batches]))
    return stages


def grid_stages(grid: list[tuple[str, list[str]]]) -> list[Stage]:
    return [Stage(key, [{key: v} for v in values]) for key, values in grid]


def stage_variants(plan: SweepPlan, index: int) -> list[Variant]:
    """The variants of stage `index`: its choices on top of the earlier stages' winners."""
    fixed: dict[str, str] = {}
    for stage in plan.stages[:index]:
        if stage.winner is None:
            raise HarnessError(f"stage {index + 1} needs the winner of stage {plan.stages.index(stage) + 1} first")
        fixed.update(plan.variant(stage.winner).overrides)
    out = []
    for choice in plan.stages[index].choices:
        overrides = {**fixed, **choice}
        existing = next((v for v in plan.variants if v.overrides == overrides), None)
        out.append(existing or Variant(variant_name(overrides, prefix=f"s{index + 1}-"), overrides, stage=index))
    return out


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def read_plan(sweep_dir: str | Path) -> SweepPlan | None:
    f = Path(sweep_dir) / PLAN_FILE
    if not f.is_file():
        return None
    try:
        return SweepPlan.from_dict(json.loads(f.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as e:
        raise HarnessError(f"{f}: not a sweep plan this version can read ({e}); use another --out directory") from None


def write_plan(sweep_dir: str | Path, plan: SweepPlan) -> None:
    f = Path(sweep_dir) / PLAN_FILE
    tmp = f.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(f)  # a kill mid-write leaves the old plan, never half of one
