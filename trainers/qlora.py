"""The `qlora` trainer: TRL SFTTrainer + PEFT LoRA + bitsandbytes 4-bit NF4 (double quant).

Assistant-only loss uses the model's own chat template: TRL needs `{% generation %}` markers, so
it tokenizes with the verified training variant (harness.models.chat_template), which renders
byte-identical text, or for Qwen3 the text of its written rule (docs/training.md); checkpoints and
final/ keep the model's own template. The mask audit runs
first and training refuses to start on a bad mask. `quantization: none` trains plain LoRA on the
unquantized model (same code path otherwise). Every checkpoint holds the optimizer state, so a
run resumes from any of them (`resume_from_checkpoint`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

from rich.console import Console

from harness.models.chat_template import assistant_mask, has_generation_markers, training_chat_template
from harness.models.checkpoint import resolve_checkpoint
from harness.errors import HarnessError
from harness.models.model_loading import nf4_config
from harness.scoring import Progress
from trainers.base import TrainResult, register_trainer
from trainers.config import TrainConfig
from trainers.conversations import train_validation
from harness.models.mask_audit import audit_mask, summary_lines
from trainers.distributed import is_main_process, wait_for_everyone, world_size
from trainers.resume import final_from, finished_state, resume_point

AUDIT_EXAMPLES = 200


@register_trainer("qlora")
class QLoRATrainer:
    def train(self, config: TrainConfig, hooks, console: Console) -> TrainResult:
        import torch
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM
        from harness.models.backends.hf import load_tokenizer

        datasets_progress_off()

        out = Path(config.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        resume = resume_point(config.resume_from_checkpoint, out)  # before loading anything: a bad path says so now
        done = finished_state(resume, config.max_steps)
        if done is not None:  # killed after the last step: nothing to train, final/ is the last checkpoint
            console.print(f"training finished at step {done['global_step']} ({resume}); nothing left to train")
            final = final_from(resume, out / "final") if is_main_process() else out / "final"
            return TrainResult(final, list(done["log_history"]))
        cuda = torch.cuda.is_available()
        bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16)
        args = sft_config(config, cuda, bf16, console, resumed=resume is not None)  # a bad pass-through value stops here
        ckpt = resolve_checkpoint(config.model, trust_remote_code=config.trust_remote_code, load=config.model_init_kwargs)
        if ckpt.adapter:
            raise HarnessError(f"model: {config.model} is an adapter; train on a base or full model")
        tokenizer = load_tokenizer(ckpt)
        template = training_chat_template(tokenizer, ckpt.spec)  # the tokenizer keeps the model's own

        train, val = train_validation(config.data, config.seed)
        console.print(f"data: {len(train)} train / {len(val)} validation conversations")
        self._audit(tokenizer, template, train, out, console)

        load = config.model_init_kwargs
        compute_dtype = load.torch_dtype("cuda" if cuda else "cpu") if load.dtype != "auto" else (
            torch.bfloat16 if bf16 else torch.float32)
        load_kwargs = {"dtype": compute_dtype, "trust_remote_code": config.trust_remote_code,
                       "revision": ckpt.model_revision}
        if load.attn_implementation:
            load_kwargs["attn_implementation"] = load.attn_implementation
        if config.quantization == "nf4":
            load_kwargs["quantization_config"] = nf4_config(compute_dtype)
        if load.device_map or cuda:  # across processes each one trains on its own GPU
            load_kwargs["device_map"] = load.device_map or {"": int(os.environ.get("LOCAL_RANK", "0"))}
        console.print(f"loading {ckpt.spec} ({'4-bit NF4' if config.quantization == 'nf4' else 'unquantized'}, "
                      f"{'GPU' if cuda else 'CPU'}, {str(compute_dtype).removeprefix('torch.')} compute)")
        model = AutoModelForCausalLM.from_pretrained(ckpt.model, **load_kwargs)
        if not cuda:
            keep_4bit_weights_trainable_on_cpu(model)

        lora = LoraConfig(
            r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules, bias="none", task_type="CAUSAL_LM",
        )
        # TRL tokenizes the datasets while the trainer is built: with the training variant of the
        # template (generation markers for the assistant mask). Afterwards the tokenizer has the
        # model's own template again, so every saved checkpoint and final/ carry that one.
        if has_generation_markers(template):
            rows = lambda convs: [{"messages": c} for c in convs]  # noqa: E731
        else:  # masked by rendered prefixes: tokenized here, TRL builds the labels from assistant_masks
            args.assistant_only_loss = False
            rows = lambda convs: [dict(zip(("input_ids", "assistant_masks"), assistant_mask(tokenizer, c, template)))  # noqa: E731
                                  for c in convs]
        with chat_template(tokenizer, template):
            trainer = _sft_trainer_class()(
                model=model, args=args, processing_class=tokenizer, peft_config=lora,
                train_dataset=Dataset.from_list(rows(train)), eval_dataset=Dataset.from_list(rows(val)),
            )
        if is_main_process():
            (out / "sft_config.json").write_text(trainer.args.to_json_string())
        trainable, total = trainer.model.get_nb_trainable_parameters()
        console.print(
            f"LoRA r={lora.r} alpha={lora.lora_alpha}: {trainable / 1e6:.2f}M trainable of {total / 1e6:.1f}M "
            f"({trainable / total:.2%}); effective batch {config.effective_batch * world_size()} "
            f"({config.per_device_batch_size} x {config.gradient_accumulation_steps}"
            f"{f' x {world_size()} processes' if world_size() > 1 else ''}); lr {config.learning_rate:g} "
            f"{config.lr_scheduler}; optimizer {getattr(args.optim, 'value', args.optim)}"
        )
        hooks.on_start(trainer.model, tokenizer)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; the Rich bar shows the loss
        trainer.add_callback(_ProgressAndRescore(hooks, tokenizer, console, trainer.log,
                                                 saved=lambda folder: name_base_portably(folder, ckpt)))
        throughput = _Throughput()  # tokens/s per variant in a sweep
        trainer.add_callback(throughput)
        if resume:
            console.print(f"resuming from {resume} (model, optimizer, scheduler and data order)")
        trainer.train(resume_from_checkpoint=resume)
        final = out / "final"
        trainer.save_model(str(final))  # the main process writes, the others wait
        if is_main_process():
            tokenizer.save_pretrained(str(final))
            name_base_portably(final, ckpt)
        stats = {"trainable_parameters": trainable, "total_parameters": total, **throughput.stats()}
        return TrainResult(final, list(trainer.state.log_history), trainer.model, tokenizer, stats)

    @staticmethod
    def _audit(tokenizer, template: str, train, out: Path, console: Console) -> None:
        from harness.models.backends.hf import end_of_turn_ids

        report = audit_mask(tokenizer, train[:AUDIT_EXAMPLES], template, end_of_turn_ids(tokenizer))
        if is_main_process():
            (out / "mask_audit.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        for line in summary_lines(report):
            console.print(f"  mask audit: {line}", highlight=False)
        if not report.ok:
            raise HarnessError(f"mask audit failed, training not started: {report.problems[0]} (details: {out / 'mask_audit.json'})")


def name_base_portably(adapter_dir: Path, base) -> None:
    """Point a saved adapter at its base by alias or hub id (and commit), so it resolves on another
    machine; PEFT wrote the path the model was loaded from, which for the bundled model is this
    machine's cache folder. (PEFT needs that real path while saving: it reads the base's config.)"""
    cfg_file = Path(adapter_dir) / "adapter_config.json"
    cfg = json.loads(cfg_file.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = base.portable_name
    cfg["revision"] = base.model_revision
    cfg_file.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _sft_trainer_class():
    from trl import SFTTrainer

    class QLoRASFTTrainer(SFTTrainer):
        """SFTTrainer whose LoRA weights keep their training dtype when a run resumes.

        TRL trains QLoRA adapters in bf16; resuming reloads them through PEFT's load_adapter,
        which upcasts them to fp32, so a resumed run would train in another precision than the
        run it continues. The optimizer is built after that reload: put the dtypes back first
        (the optimizer state then loads in the same dtype too).
        """

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._trained_dtypes = {n: p.dtype for n, p in self.model.named_parameters() if p.requires_grad}

        def create_optimizer(self, model=None):
            for name, param in self.model.named_parameters():
                dtype = self._trained_dtypes.get(name)
                if param.requires_grad and dtype is not None and param.dtype != dtype:
                    param.data = param.data.to(dtype)
            return super().create_optimizer(model) if model is not None else super().create_optimizer()

    return QLoRASFTTrainer


@contextlib.contextmanager
def chat_template(tokenizer, template: str):
    """The tokenizer with `template` for the duration, its own template again afterwards."""
    own = tokenizer.chat_template
    tokenizer.chat_template = template
    try:
        yield
    finally:
        tokenizer.chat_template = own


# On a CPU bitsandbytes runs paged optimizers unpaged (paging needs CUDA unified memory); the
# same optimizer without paging says so plainly.
UNPAGED = {"paged_adamw_32bit": "adamw_torch", "paged_adamw_8bit": "adamw_8bit", "paged_ademamix_32bit": "ademamix",
           "paged_ademamix_8bit": "ademamix_8bit", "paged_lion_32bit": "lion_32bit", "paged_lion_8bit": "lion_8bit"}


def choose_optimizer(optim: str, cuda: bool, console: Console) -> str:
    """`auto`: paged AdamW (32-bit states, the QLoRA recipe) on a GPU, torch AdamW on CPU. A paged
    optimizer asked for on a CPU falls back to its unpaged form, with a warning."""
    if optim == "auto":
        return "paged_adamw_32bit" if cuda else "adamw_torch"
    if not cuda and optim in UNPAGED:
        console.print(f"[yellow]warning: optim {optim} needs a GPU to page its states; on this CPU training "
                      f"uses {UNPAGED[optim]}, the same update unpaged[/yellow]", highlight=False)
        return UNPAGED[optim]
    return optim


def sft_config(config: TrainConfig, cuda: bool, bf16: bool, console: Console, resumed: bool = False):
    """TRL's SFTConfig from the harness's keys (current transformers 5 / TRL 1 names), then every
    passed-through SFTConfig field as given (it wins over what is derived here)."""
    from trl import SFTConfig

    derived = dict(
        output_dir=config.output_dir,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.per_device_batch_size,
        per_device_eval_batch_size=config.per_device_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=config.weight_decay,
        optim=choose_optimizer(config.optim, cuda, console),
        bf16=bf16,
        activation_checkpointing=config.activation_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        max_length=config.max_length,
        packing=config.packing,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        assistant_only_loss=True,
        logging_steps=config.logging_steps,
        logging_first_step=True,
        eval_strategy="steps",
        eval_on_start=not resumed,  # the base's eval loss: the diagnosis reads the curve from there
        include_num_input_tokens_seen="non_padding",  # tokens/s per variant in a sweep
        ddp_timeout=6 * 3600,  # across processes the others wait while the main one rescores a checkpoint
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        save_only_model=False,  # optimizer and scheduler state too: a run can resume from any checkpoint
        report_to=config.report_to,
        seed=config.seed,
        use_cpu=not cuda,
        disable_tqdm=True,  # the Rich bar below shows progress and loss
    )
    try:
        return SFTConfig(**(derived | config.sft_overrides))
    except (TypeError, ValueError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        passed = ", ".join(f"{k} ({config.sft_source(k)})" for k in config.sft_overrides)
        raise HarnessError(f"TRL's SFTConfig refused the training settings: {first}"
                           + (f" (keys passed through to it: {passed})" if passed else "")) from None


def keep_4bit_weights_trainable_on_cpu(model) -> None:
    """bitsandbytes (0.50) repacks a 4-bit weight into a CPU inference layout the first time it
    runs in eval mode on a CPU with AVX512-BF16, and never unpacks it: every backward pass after
    the first evaluation or rescoring then goes through an inference kernel without gradients
    ("gemv_4bit: an autograd kernel was not registered"), and the LoRA layers below stop learning.
    Turning that repacking off keeps training correct; CPU inference speed is unchanged here
    because its fast kernel needs the `kernels` hub package anyway."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


def datasets_progress_off() -> None:
    """TRL's dataset preparation prints four progress bars per split; ours says what happens."""
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class _ProgressAndRescore(_callback_base()):
    """Steps and the latest loss to the hooks' progress, and the rescoring hook after each save."""

    def __init__(self, hooks, tokenizer, console: Console, log, saved):
        self.hooks, self.tokenizer, self.console = hooks, tokenizer, console
        self.log = log  # Trainer.log: to every report_to logger, at the current step
        self.saved = saved  # finishes a checkpoint folder the Trainer wrote
        # a bar on a terminal, plain lines (step, loss, elapsed, eta) in logs; silent for hooks without one
        self.progress = getattr(hooks, "progress", None) or Progress()
        self.step = 0

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kw):
        self.progress.start("training", state.max_steps)
        self.step = state.global_step
        if self.step:
            self.progress.advance(self.step)
        if state.global_step:  # resumed: the weights are the checkpoint's; rescore it if the killed run had not
            self._rescore(Path(args.output_dir) / f"checkpoint-{state.global_step}", state, model)

    def on_step_end(self, args, state, control, **kw):
        self.progress.advance(state.global_step - self.step)
        self.step = state.global_step

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        if "loss" in logs:
            self.progress.describe(f"loss {logs['loss']:.3f}")
        if "eval_loss" in logs:
            self.progress.note(f"step {state.global_step}: eval loss {logs['eval_loss']:.3f}")

    def on_save(self, args, state, control, model=None, **kw):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero:
            self.saved(path)
        self._rescore(path, state, model)

    def _rescore(self, path: Path, state, model) -> None:
        """The main process rescores (once per checkpoint: scores.jsonl says which are done); the
        others wait for it, then all train on."""
        if state.is_world_process_zero:
            metrics = self.hooks.on_checkpoint(state.global_step, path, model, self.tokenizer)
            if metrics:  # the rescored metrics go to TensorBoard / W&B / ... at this step, beside the loss
                self.log(dict(metrics))
            model.train()
        wait_for_everyone()

    def on_train_end(self, args, state, control, **kw):
        self.progress.close()


class _Throughput(_callback_base()):
    """Training speed without the pauses: evaluation and checkpoint rescoring run inside
    `trainer.train()`, so its runtime would understate tokens/s. Times only the optimizer steps."""

    def __init__(self):
        self.seconds, self.tokens, self.steps = 0.0, 0, 0
        self._t0 = self._tokens0 = None

    def on_step_begin(self, args, state, control, **kw):
        self._t0, self._tokens0 = time.perf_counter(), state.num_input_tokens_seen

    def on_step_end(self, args, state, control, **kw):
        if self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.tokens += state.num_input_tokens_seen - self._tokens0
            self.steps += 1

    def stats(self) -> dict:
        rate = self.tokens / self.seconds if self.seconds else None
        return {"train_steps_timed": self.steps, "train_step_seconds": round(self.seconds, 3),
                "train_tokens": self.tokens, "tokens_per_second": rate}
