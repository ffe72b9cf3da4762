"""`harness sweep`: variants of one training config, each a normal `harness train` run (every
checkpoint rescored, the full suite on the final adapter), then a table ranking them with 95% CIs
and paired deltas against the first variant, and their loss curves overlaid in one PNG.

    <out>/sweep.json          the plan and each variant's status (harness/lab/sweep_plan.py)
    <out>/<variant>/          a training output directory (docs/training.md)
    <out>/smoke/<variant>/    --smoke: the short run that checked the loss falls
    <out>/sweep_loss.png      every variant's smoothed train loss and eval loss
    <out>/sweep_summary.json  the ranking table as data

Run the same command again to resume: finished variants are kept, a killed one resumes from its
last checkpoint (optimizer and scheduler included), the rest run.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from rich.console import Console

from harness.errors import HarnessError
from harness.lab.sweep_plan import (SweepPlan, Variant, default_stages, explicit_variants, file_sha256, grid_stages,
                                grid_variants, parse_grid, read_plan, stage_variants, write_plan)
from harness.lab.sweep_results import EVAL_LOSS, METRIC_HELP, VAL_LOSS, SweepResults, load_sweep
from harness.lab.training_dir import TrainingDir
from reports.plots import plot_sweep
from reports.sweep import print_plan, print_results
from trainers.config import TrainConfig, load_train_config
from trainers.resume import STATE, checkpoints

DEFAULT_SMOKE_STEPS = 100  # the lab's smoke test: 100 steps, then look at the loss


def make_plan(config: str, sets: list[str], grid: list[str], variants: list[str], staged: bool, metric: str,
              smoke_steps: int | None) -> SweepPlan:
    if not config or not Path(config).is_file():
        raise HarnessError(f"--config {config}: training config not found (e.g. --config configs/lab1-qlora.yaml)")
    if variants and (grid or staged):
        raise HarnessError("--variant lists the variants itself; do not combine it with --grid or --plan staged")
    if not (grid or variants or staged):
        raise HarnessError("say what to sweep: --grid KEY=V1,V2 (repeatable), --variant KEY=V,... (repeatable) or --plan staged")
    if smoke_steps is not None and smoke_steps < 2:
        raise HarnessError(f"--smoke-steps must be >= 2, got {smoke_steps}")
    base = load_train_config(config, sets)  # a bad base config or --set fails before anything else
    kind = "staged" if staged else "grid" if grid else "variants"
    plan = SweepPlan(kind, str(config), file_sha256(config), list(sets), metric, smoke_steps=smoke_steps)
    if staged:
        plan.stages = grid_stages(parse_grid(grid)) if grid else default_stages(base.to_dict())
    else:
        plan.variants = grid_variants(parse_grid(grid)) if grid else explicit_variants(variants)
        if len(plan.variants) < 2:
            raise HarnessError("a sweep needs at least two variants (give a second value, e.g. --grid learning_rate=2e-5,2e-4)")
    return plan


def default_out(plan: SweepPlan, grid: list[str]) -> Path:
    stem = Path(plan.config).stem
    what = "staged" if plan.kind == "staged" else "-".join(g.partition("=")[0] for g in grid) if grid else "variants"
    return Path("sweeps") / f"{stem}-{what}"


def variant_config(plan: SweepPlan, variant: Variant, out: Path, extra: list[str] | None = None) -> TrainConfig:
    where = f"variant {variant.name} ({', '.join(variant.sets())})"
    try:
        # a variant a kill interrupted continues from its last complete checkpoint; a new one starts
        resume = ["resume_from_checkpoint=true"] if any((p / STATE).is_file() for p in checkpoints(out)) else []
        return load_train_config(plan.config, [*plan.base_sets, *variant.sets(), f"output_dir={out}",
                                               *resume, *(extra or [])])
    except HarnessError as e:
        raise HarnessError(f"{where}: {e}") from None


def _identity(config: TrainConfig) -> str:
    d = config.to_dict()
    for key in ("output_dir", "resume_from_checkpoint"):
        d.pop(key, None)
    return json.dumps(d, sort_keys=True, default=str)


def planned_steps(config: TrainConfig) -> int | None:
    """Optimizer steps the config trains (None when the data size is unknown, e.g. a hub dataset)."""
    if config.max_steps > 0:
        return config.max_steps
    path = Path(config.data.train)
    if not path.is_file():
        return math.ceil(config.data.max_samples / config.effective_batch * config.epochs) if config.data.max_samples else None
    n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if config.data.max_samples:
        n = min(n, config.data.max_samples)
    if not config.data.validation:
        n -= max(1, round(n * config.data.val_split))
    return math.ceil(math.ceil(n / config.per_device_batch_size) / config.gradient_accumulation_steps * config.epochs)


class Sweep:
    def __init__(self, plan: SweepPlan, out: Path, console: Console, step_seconds: float | None = None):
        self.plan, self.out, self.console, self.step_seconds = plan, Path(out), console, step_seconds

    # ---- planning ------------------------------------------------------------------------
    def resolve(self, variants: list[Variant]) -> list[Variant]:
        """Check every variant's config now (an unknown key fails before hours of training) and
        refuse two variants that train the same thing."""
        seen: dict[str, str] = {}
        for v in variants:
            config = variant_config(self.plan, v, self.out / v.name)
            v.steps = planned_steps(config)
            key = _identity(config)
            if key in seen and seen[key] != v.name:
                raise HarnessError(f"variants {seen[key]} and {v.name} train the same config ({', '.join(v.sets())} "
                                   "changes nothing); drop one")
            seen[key] = v.name
        return variants

    def adopt(self) -> None:
        """Continue a sweep directory made by the same command, or refuse one made by another."""
        saved = read_plan(self.out)
        if saved is None:
            return
        if saved.identity() != self.plan.identity():
            raise HarnessError(f"{self.out} holds another sweep (its sweep.json was made with other variants, config or "
                               "metric); run the same command to resume it, or give another --out")
        self.plan = saved  # statuses, stage winners, timings

    def seconds_per_step(self) -> float | None:
        timed = [(v.elapsed_s, v.steps) for v in self.plan.variants if v.elapsed_s and v.steps]
        if timed:
            return sum(t for t, _ in timed) / sum(s for _, s in timed)
        return self.step_seconds

    def plan_rows(self) -> list[dict]:
        per_step = self.seconds_per_step()
        rows = []
        variants = self.plan.variants if self.plan.kind != "staged" else []
        for v in variants:
            config = variant_config(self.plan, v, self.out / v.name)
            est = per_step * v.steps if per_step and v.steps else None
            rows.append({"variant": v.name, "sets": ", ".join(v.sets()), "out": str(self.out / v.name), "steps": v.steps,
                         "status": v.status, "est_s": est, "config": _config_line(config)})
        for i, stage in enumerate(self.plan.stages):
            choices = "; ".join(", ".join(f"{k}={val}" for k, val in c.items()) for c in stage.choices)
            rows.append({"variant": f"stage {i + 1}: {stage.parameter}", "sets": choices,
                         "out": str(self.out / f"s{i + 1}-..."), "steps": None,
                         "status": f"winner {stage.winner}" if stage.winner else "after the previous stage",
                         "est_s": None, "config": "each choice on top of the earlier stages' winners"})
        return rows

    # ---- running -------------------------------------------------------------------------
    def run(self, smoke: bool) -> SweepResults:
        from harness.app.training import run_training

        self.out.mkdir(parents=True, exist_ok=True)
        write_plan(self.out, self.plan)  # the directory says what it holds from the start
        if self.plan.kind == "staged":
            for i in range(len(self.plan.stages)):
                self.run_stage(i, smoke, run_training)
        else:
            self.run_variants(self.plan.variants, smoke, run_training)
        return self.finish()

    def run_variants(self, variants: list[Variant], smoke: bool, run_training) -> None:
        if smoke:
            for v in variants:
                self.smoke_test(v, run_training)
        todo = [v for v in variants if v.status != "smoke-failed"]
        for n, v in enumerate(todo, 1):
            d = TrainingDir(self.out / v.name)
            if d.finished:
                v.status = "done"
                self.console.print(f"[dim]variant {v.name}: finished earlier, not rerun[/dim]")
                continue
            self.console.rule(f"variant {n}/{len(todo)}: {v.name} ({', '.join(v.sets())})")
            start = time.monotonic()
            run_training(variant_config(self.plan, v, d.path), self.console)
            v.status, v.elapsed_s = "done", round(time.monotonic() - start, 1)
            write_plan(self.out, self.plan)

    def smoke_test(self, v: Variant, run_training) -> None:
        from trainers.diagnosis import loss_falls

        if v.smoke or TrainingDir(self.out / v.name).finished:
            return
        steps = self.plan.smoke_steps or DEFAULT_SMOKE_STEPS
        path = self.out / "smoke" / v.name
        d = TrainingDir(path)
        if not d.finished:
            self.console.rule(f"smoke test: {v.name}, {steps} steps")
            extra = [f"max_steps={steps}", f"logging_steps={max(1, steps // 10)}", f"save_steps={steps}",
                     f"eval_steps={steps}", "rescore.suite=null"]
            run_training(variant_config(self.plan, v, path, extra), self.console)
        summary = TrainingDir(path).summary() or {}
        ok, why = loss_falls([tuple(p) for p in summary.get("train_loss", [])])
        v.smoke = f"{'passed' if ok else 'failed'}: {why}"
        if not ok:
            v.status, v.note = "smoke-failed", f"stopped by the smoke test: {why}"
            self.console.print(f"[red]{v.name}: {v.note}[/red]", highlight=False)
        else:
            self.console.print(f"[green]{v.name}: smoke test passed[/green] ({why})", highlight=False)
        write_plan(self.out, self.plan)

    def run_stage(self, index: int, smoke: bool, run_training) -> None:
        stage = self.plan.stages[index]
        if stage.winner:
            return
        variants = []
        for v in self.resolve_stage(index):
            if self.plan.variant(v.name) is None:
                self.plan.variants.append(v)
            variants.append(self.plan.variant(v.name))
        write_plan(self.out, self.plan)
        self.console.rule(f"stage {index + 1}/{len(self.plan.stages)}: {stage.parameter}")
        self.run_variants(variants, smoke, run_training)
        results = load_sweep(self.out, self.plan.metric)
        mine = [r for r in results.ranked() if r.name in {v.name for v in variants} and r.metric and r.metric.get("value") is not None]
        if not mine:
            raise HarnessError(f"stage {index + 1} ({stage.parameter}): no variant finished with a {self.plan.metric}; "
                               "the smoke test stopped them all, or they have no final run. See the notes in "
                               f"{self.out / 'sweep.json'}")
        best = mine[0]
        stage.winner, stage.why = best.name, f"{self.plan.metric} {_value_ci(best.metric)}"
        self.console.print(f"[bold]stage {index + 1} winner[/bold]: {best.name} ({stage.why})", highlight=False)
        write_plan(self.out, self.plan)

    def resolve_stage(self, index: int) -> list[Variant]:
        """The stage's variants; a choice that trains what an earlier variant trained reuses it."""
        known = {_identity(variant_config(self.plan, v, self.out / v.name)): v for v in self.plan.variants}
        out = []
        for v in stage_variants(self.plan, index):
            key = _identity(variant_config(self.plan, v, self.out / v.name))
            v = known.get(key, v)
            v.steps = planned_steps(variant_config(self.plan, v, self.out / v.name))
            if v not in out:
                out.append(v)
        return out

    def finish(self) -> SweepResults:
        results = load_sweep(self.out, self.plan.metric)
        curves = {v.name: {"smoothed": v.smoothed or v.train, "evals": v.evals} for v in results.variants if v.train}
        if curves:
            plot_sweep(curves, self.out / "sweep_loss.png")
        (self.out / "sweep_summary.json").write_text(json.dumps(summary_json(results), indent=2, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
        print_results(results, self.console)
        self.console.print(f"Sweep directory: [bold]{self.out}[/bold] (sweep_summary.json, sweep_loss.png; "
                           f"lab report: harness report --lab lab1 --train {self.out}/<variant> --sweep {self.out} --out report/)")
        return results


def _config_line(config: TrainConfig) -> str:
    return (f"lr {config.learning_rate:g}, r {config.lora.r}, alpha {config.lora.alpha}, "
            f"batch {config.per_device_batch_size}x{config.gradient_accumulation_steps}, "
            + (f"{config.max_steps} steps" if config.max_steps > 0 else f"{config.epochs:g} epochs"))


def _value_ci(m: dict) -> str:
    if m.get("ci"):
        return f"{m['value']:.4f} [{m['ci'][0]:.4f}, {m['ci'][1]:.4f}] n={m['n']}"
    return f"{m['value']:.4f} (no CI)"


def summary_json(results: SweepResults) -> dict:
    ref = results.reference
    return {
        "sweep": results.path,
        "metric": results.metric,
        "higher_is_better": results.higher_is_better,
        "reference": ref.name if ref else None,
        "stages": [{"parameter": s.parameter, "winner": s.winner, "why": s.why} for s in results.plan.stages],
        "variants": [
            {"rank": i + 1 if v.metric and v.metric.get("value") is not None else None, "name": v.name,
             "overrides": v.overrides, "status": v.status, "note": v.note, "stats": v.stats,
             "diagnosis": (v.diagnosis or {}).get("kind"),
             "final_train_loss_smoothed": v.smoothed[-1][1] if v.smoothed else None,
             "best_eval_loss": min(v.evals, key=lambda p: p[1]) if v.evals else None,
             "metric": v.metric, "delta_vs_reference": v.delta, "not_comparable": v.not_comparable,
             "metrics": v.metrics, "run_dir": v.run_dir}
            for i, v in enumerate(results.ranked())
        ],
    }


def run_sweep(*, config: str, sets: list[str], grid: list[str], variants: list[str], staged: bool, metric: str,
              smoke: bool, smoke_steps: int | None, out: str | None, dry_run: bool, step_seconds: float | None,
              console: Console) -> SweepResults | None:
    if metric not in (VAL_LOSS, EVAL_LOSS) and "/" not in metric:
        raise HarnessError(f"--metric {metric}: expected {METRIC_HELP}")
    plan = make_plan(config, sets, grid, variants, staged, metric, smoke_steps if smoke else None)
    sweep = Sweep(plan, Path(out) if out else default_out(plan, grid), console, step_seconds)
    sweep.resolve(plan.variants)
    sweep.adopt()
    if dry_run:
        print_plan(plan, sweep.plan_rows(), sweep.out, sweep.seconds_per_step(), console)
        return None
    return sweep.run(smoke)
