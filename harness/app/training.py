"""`harness train` and `harness demo`: a trainer from the registry, rescoring of every saved
checkpoint, the loss curve and its diagnosis, and the full suite on the final adapter."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from harness.models.checkpoint import Checkpoint, resolve_checkpoint, weights_hash
from harness.app.checkpoint_scores import Rescorer, read_scores
from harness.app.run import check_capability_tasks
from harness.scoring import Progress
from harness.lab.training_dir import loss_points
from reports.plots import plot_training
from reports.progress import progress_for
from trainers import get_trainer
from trainers.config import TrainConfig, load_train_config
from trainers.diagnosis import diagnose, smoothed
from trainers.distributed import is_main_process


class RescoreHooks:
    """Scores each checkpoint: in process with the trainer's model (base weights never reloaded), or
    with `engine="vllm"` through one vLLM engine started at the first checkpoint, each later
    checkpoint loaded into it as a LoRA adapter (no restart). `close()` stops that engine."""

    def __init__(self, rescorer: Rescorer | None, base: Checkpoint, progress: Progress | None = None, *,
                 engine: str = "hf", engine_settings: dict | None = None, lora_rank: int | None = None):
        self.rescorer, self.base = rescorer, base
        self.progress = progress or Progress()
        self.engine, self.engine_settings, self.lora_rank = engine, dict(engine_settings or {}), lora_rank
        self.shared = None  # the vLLM backend, once started

    def backend(self, path: Path, model, tokenizer):
        from harness.models.backends import make_backend

        ckpt = Checkpoint(spec=str(path), model=self.base.model, adapter=str(path), model_revision=self.base.model_revision)
        if self.engine == "hf":
            return make_backend(ckpt, model=model, tokenizer=tokenizer, device=self._device(model)), ckpt
        return self.engine_backend(replace(ckpt, backend=self.engine)), ckpt

    def engine_backend(self, ckpt: Checkpoint):
        """The one shared engine, switched to `ckpt` (started with it the first time)."""
        from harness.models.backends import make_backend

        if self.shared is None:
            settings = self.engine_settings
            if self.lora_rank and "max_lora_rank" not in settings:  # later checkpoints have the config's rank
                from harness.models.backends.vllm import lora_rank_for

                settings = {**settings, "max_lora_rank": lora_rank_for(self.lora_rank)}
            self.shared = make_backend(ckpt, settings=settings)
            self.shared.attach_run_dir(self.rescorer.output_dir)  # the training directory: vllm-server.log
        elif self.shared.ckpt.model != ckpt.model:  # another base (not in one training run): a new engine
            self.close()
            return self.engine_backend(ckpt)
        elif self.shared.ckpt.adapter != ckpt.adapter:
            self.shared.switch_adapter(ckpt)
        return self.shared

    def close(self) -> None:
        if self.shared is not None:
            self.shared.close()
            self.shared = None

    @staticmethod
    def _device(model):
        return next(model.parameters()).device

    def on_start(self, model, tokenizer) -> None:
        pass  # the base is scored lazily, once, at the first checkpoint

    def on_checkpoint(self, step: int, path: Path, model, tokenizer) -> dict[str, float] | None:
        if self.rescorer is None:
            return None
        import torch

        backend, ckpt = self.backend(path, model, tokenizer)
        # Generation seeds the global RNG; training's dropout and data order must not depend on
        # whether (and what) was rescored, so a resumed run continues exactly as an uninterrupted one.
        device = self._device(model)
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            line = self.rescorer.score(backend, ckpt, step)
        return logged_metrics(line)


def logged_metrics(line: dict) -> dict[str, float]:
    """A rescored checkpoint's metrics for the training loggers (report_to): the checkpoint's value
    and its delta vs the base. The `eval_` prefix puts them under eval/ beside eval/loss."""
    out = {}
    for name, m in line["metrics"].items():
        if m["ckpt"] is not None:
            out[f"eval_rescore/{name}"] = m["ckpt"]
        if m["delta"] is not None:
            out[f"eval_rescore_delta/{name}"] = m["delta"]
    return out


def run_training(config: TrainConfig, console: Console) -> dict:
    """Train, rescoring every checkpoint. Across processes (`accelerate launch`) every process
    trains; rescoring, the plot and the reports are the main process's (trainers/distributed.py)."""
    main = is_main_process()
    if not main:
        console = Console(quiet=True)  # one voice: the main process's
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if main:
        (out / "train_config.yaml").write_text(yaml.safe_dump(config.to_dict(), allow_unicode=True, sort_keys=False))
    trainer = get_trainer(config.trainer)
    base = resolve_checkpoint(config.model, trust_remote_code=config.trust_remote_code, load=config.model_init_kwargs)
    r = config.rescore
    rescorer = None
    if r.suite:
        rescorer = Rescorer(out, r.suite, tasks=r.tasks, max_samples=r.max_samples, gen=r.gen,
                            final_gen=r.final_gen, batch_size=r.batch_size, console=console, final_tasks=r.final_tasks)
        rescorer.load(full=False)  # fail on a bad suite/task before hours of training
        check_capability_tasks(rescorer.load(full=True))  # lm-eval tasks and their datasets load, before training
        if r.backend == "vllm":  # and on a bad engine setting or a missing vLLM
            from harness.models.backends.vllm import VLLMSettings, vllm_python

            vllm_python(VLLMSettings.parse(r.vllm, "rescore.vllm").python)
    hooks = RescoreHooks(rescorer, base, progress_for(console), engine=r.backend, engine_settings=r.vllm,
                         lora_rank=config.lora.r)
    try:
        console.print(f"[bold]train[/bold] trainer={config.trainer} model={config.model} output={out}")
        result = trainer.train(config, hooks, console)
        if not main:
            return {}
        return _after_training(config, result, rescorer, hooks, out, console)
    finally:
        hooks.close()  # the rescoring engine's server, if one was started (also on errors and Ctrl-C)


def _after_training(config: TrainConfig, result, rescorer, hooks: RescoreHooks, out: Path, console: Console) -> dict:
    r = config.rescore

    train_pts, eval_pts = loss_points(result.log_history)
    diagnosis = diagnose(train_pts, eval_pts)
    color = {"healthy": "green", "overfitting": "yellow", "unstable": "red", "flat": "red"}.get(diagnosis.kind, "white")
    console.print(f"diagnosis: [{color}]{diagnosis.kind}[/{color}]: {diagnosis.message}")

    final_line = None
    if rescorer and r.final:
        # The final adapter is scored the way `harness run --ckpt <output>/final` scores it: on the
        # unquantized base. That makes the report reproducible with one command, and on a CPU it is
        # much faster than generating with 4-bit weights (bitsandbytes de-quantizes every step).
        from harness.models.backends import make_backend

        result.model = None  # the 4-bit training copy is not needed any more
        # adapter_config.json names the base portably (alias / hub id + revision); resolved like any adapter
        ckpt = resolve_checkpoint(str(result.final_dir), trust_remote_code=config.trust_remote_code)
        console.print("[bold]final adapter: full suite[/bold]")
        final_line = rescorer.scored("final", weights_hash(ckpt.adapter))  # a resumed run that had got this far
        if final_line is not None:
            console.print(f"[dim]final adapter: already rescored ({rescorer.scores_file.name}), skipped[/dim]")
        elif r.backend != "hf":  # the engine that scored the checkpoints, the final adapter loaded into it
            final_line = rescorer.score(hooks.engine_backend(replace(ckpt, backend=r.backend)), ckpt, step=None, full=True)
        else:
            final_line = rescorer.score(make_backend(ckpt), ckpt, step=None, full=True)
    scores = read_scores(out)
    headline = rescorer.load(full=False).headline if rescorer else {}
    if rescorer:
        print_trajectory(scores, headline, console)
    plot = plot_training(train_pts, smoothed(train_pts), eval_pts, out / "training_loss.png", scores=scores, headline=headline)
    console.print(f"loss curve and checkpoint scores: {plot}")
    summary = {
        "output_dir": str(out),
        "final_adapter": str(result.final_dir),
        "loss_plot": str(plot),
        "diagnosis": diagnosis.to_dict(),
        "train_loss": train_pts,
        "train_loss_smoothed": smoothed(train_pts),  # what the diagnosis read
        "eval_loss": eval_pts,
        "headline": headline,
        "stats": result.stats,  # trainable parameters, tokens/s
        "scores": scores,
        "final_report": str(Path(final_line["run_dir"]) / "report.md") if final_line else None,
    }
    (out / "training_summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    _write_model_card(result.final_dir, config, final_line, summary["final_report"])
    if final_line:
        console.print(f"Report of the final adapter: [bold]{summary['final_report']}[/bold]")
    console.print(f"Training summary: {out / 'training_summary.json'}")
    return summary


def _write_model_card(final_dir: Path, config, final_line: dict | None, report: str | None) -> None:
    """final/README.md: PEFT's generic card (and TRL's "fine-tuned version of [None]" for a local
    base) replaced by one that names the base and the final adapter's evaluation."""
    from reports.model_card import render_model_card

    adapter_config = Path(final_dir) / "adapter_config.json"
    if not adapter_config.is_file():
        return
    base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path") or config.model
    lora = getattr(config, "lora", None)
    training = {"base model": base, "max_steps": getattr(config, "max_steps", None),
                "learning_rate": getattr(config, "learning_rate", None),
                "LoRA r / alpha": f"{lora.r} / {lora.alpha}" if lora is not None else None}
    (Path(final_dir) / "README.md").write_text(render_model_card(base, training, final_line, report), encoding="utf-8")


def print_trajectory(scores: list[dict], headline: dict[str, str], console: Console) -> None:
    if not scores:
        return
    names = [(n, short) for n, short in headline.items() if any(n in s["metrics"] for s in scores)]
    table = Table(title="score trajectory (checkpoint value, delta vs base)")
    table.add_column("step")
    table.add_column("profile")
    for _, short in names:
        table.add_column(short)
    for s in scores:
        cells = []
        for name, _ in names:
            m = s["metrics"].get(name)
            cells.append("" if not m or m["ckpt"] is None else f"{m['ckpt']:.3f} ({m['delta']:+.3f})" if m["delta"] is not None else f"{m['ckpt']:.3f}")
        table.add_row(str(s["step"] if s["step"] is not None else "final"), s["profile"], *cells)
    console.print(table)
