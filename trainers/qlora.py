"""The `qlora` trainer: TRL SFTTrainer + PEFT LoRA + bitsandbytes 4-bit NF4 (double quant).

Assistant-only loss uses the model's own chat template: TRL needs `{% generation %}` markers, so
the tokenizer gets the verified training variant (harness.chat_template), which renders
byte-identical text. The mask audit runs first and training refuses to start on a bad mask.
`quantization: none` trains plain LoRA on the unquantized model (same code path otherwise).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from harness.chat_template import training_chat_template
from harness.checkpoint import resolve_checkpoint
from harness.errors import HarnessError
from trainers.base import TrainResult, register_trainer
from trainers.config import TrainConfig
from trainers.data import train_validation
from trainers.mask_audit import audit_mask, summary_lines

AUDIT_EXAMPLES = 200


@register_trainer("qlora")
class QLoRATrainer:
    def train(self, config: TrainConfig, hooks, console: Console) -> TrainResult:
        import torch
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
        from trl import SFTConfig, SFTTrainer

        datasets_progress_off()

        out = Path(config.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        ckpt = resolve_checkpoint(config.model, trust_remote_code=config.trust_remote_code)
        if ckpt.adapter:
            raise HarnessError(f"model: {config.model} is an adapter; train on a base or full model")
        tokenizer = AutoTokenizer.from_pretrained(ckpt.model, trust_remote_code=config.trust_remote_code)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.chat_template = training_chat_template(tokenizer, ckpt.spec)

        train, val = train_validation(config.data, config.seed)
        console.print(f"data: {len(train)} train / {len(val)} validation conversations")
        self._audit(tokenizer, train, out, console)

        cuda = torch.cuda.is_available()
        bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16)
        compute_dtype = torch.bfloat16 if bf16 else torch.float32
        load_kwargs = {"dtype": compute_dtype, "trust_remote_code": config.trust_remote_code}
        if config.quantization == "nf4":
            load_kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=compute_dtype,
            )
        if cuda:
            load_kwargs["device_map"] = {"": 0}
        console.print(f"loading {ckpt.spec} ({'4-bit NF4' if config.quantization == 'nf4' else 'unquantized'}, "
                      f"{'GPU' if cuda else 'CPU'}, {'bf16' if bf16 else 'fp32'} compute)")
        model = AutoModelForCausalLM.from_pretrained(ckpt.model, **load_kwargs)
        if not cuda:
            keep_4bit_weights_trainable_on_cpu(model)

        lora = LoraConfig(
            r=int(config.lora.r), lora_alpha=int(config.lora.alpha), lora_dropout=float(config.lora.dropout),
            target_modules=config.lora.target_modules, bias="none", task_type="CAUSAL_LM",
        )
        args = SFTConfig(
            output_dir=str(out),
            num_train_epochs=config.epochs,
            max_steps=config.max_steps,
            per_device_train_batch_size=config.per_device_batch_size,
            per_device_eval_batch_size=config.per_device_batch_size,
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            learning_rate=config.learning_rate,
            lr_scheduler_type=config.lr_scheduler,
            warmup_steps=config.warmup_ratio,  # a float below 1 is a ratio of the total steps
            weight_decay=config.weight_decay,
            bf16=bf16,
            gradient_checkpointing=config.gradient_checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
            max_length=config.max_length,
            packing=config.packing,
            train_sampling_strategy="group_by_length" if config.group_by_length else "random",
            assistant_only_loss=True,
            logging_steps=config.logging_steps,
            logging_first_step=True,
            eval_strategy="steps",
            eval_on_start=True,  # the base's eval loss: the diagnosis reads the curve from there
            eval_steps=config.eval_steps,
            save_strategy="steps",
            save_steps=config.save_steps,
            save_total_limit=config.save_total_limit,
            save_only_model=False,  # optimizer and scheduler state too: a killed run resumes from its last checkpoint
            include_num_input_tokens_seen="non_padding",  # tokens/s per variant in a sweep
            report_to="none",
            seed=config.seed,
            use_cpu=not cuda,
            disable_tqdm=True,  # the Rich bar below shows progress and loss
        )
        trainer = SFTTrainer(
            model=model, args=args, processing_class=tokenizer, peft_config=lora,
            train_dataset=Dataset.from_list([{"messages": c} for c in train]),
            eval_dataset=Dataset.from_list([{"messages": c} for c in val]),
        )
        trainable, total = trainer.model.get_nb_trainable_parameters()
        console.print(
            f"LoRA r={lora.r} alpha={lora.lora_alpha}: {trainable / 1e6:.2f}M trainable of {total / 1e6:.1f}M "
            f"({trainable / total:.2%}); effective batch {config.effective_batch} "
            f"({config.per_device_batch_size} x {config.gradient_accumulation_steps}); lr {config.learning_rate:g} {config.lr_scheduler}"
        )
        hooks.on_start(trainer.model, tokenizer)
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # it prints raw log dicts; the Rich bar shows the loss
        trainer.add_callback(_ProgressAndRescore(hooks, tokenizer, console))
        throughput = _Throughput()
        trainer.add_callback(throughput)
        resume = resume_checkpoint(config)
        if resume:
            console.print(f"resuming from {resume} (model, optimizer, scheduler and data order)")
        trainer.train(resume_from_checkpoint=resume)
        final = out / "final"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
        stats = {"trainable_parameters": trainable, "total_parameters": total, **throughput.stats()}
        return TrainResult(final, list(trainer.state.log_history), trainer.model, tokenizer, stats)

    @staticmethod
    def _audit(tokenizer, train, out: Path, console: Console) -> None:
        from harness.backends.hf import end_of_turn_ids

        report = audit_mask(tokenizer, train[:AUDIT_EXAMPLES], tokenizer.chat_template, end_of_turn_ids(tokenizer))
        (out / "mask_audit.json").write_text(json.dumps(report.to_dict(), indent=2) + "\n")
        for line in summary_lines(report):
            console.print(f"  mask audit: {line}", highlight=False)
        if not report.ok:
            raise HarnessError(f"mask audit failed, training not started: {report.problems[0]} (details: {out / 'mask_audit.json'})")


def resume_checkpoint(config: TrainConfig) -> str | None:
    """The checkpoint to resume from (`resume_from_checkpoint`: true = the last complete one in
    output_dir, none there = a fresh start; or a checkpoint directory)."""
    from transformers.trainer_utils import get_last_checkpoint

    wanted = config.resume_from_checkpoint
    if wanted in (None, False):
        return None
    if wanted is True:
        out = Path(config.output_dir)
        return get_last_checkpoint(str(out)) if out.is_dir() else None
    if not (Path(wanted) / "trainer_state.json").is_file():
        raise HarnessError(f"resume_from_checkpoint: {wanted} is not a training checkpoint (no trainer_state.json)")
    return str(wanted)


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
    """A Rich progress bar with the latest loss, and the rescoring hook after each save."""

    def __init__(self, hooks, tokenizer, console: Console):
        self.hooks, self.tokenizer, self.console = hooks, tokenizer, console
        self.progress = None
        self.bar = None
        self.loss = None

    def on_train_begin(self, args, state, control, **kw):
        columns = [TextColumn("training {task.fields[loss]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn()]
        self.progress = Progress(*columns, console=self.console)
        self.progress.start()
        self.bar = self.progress.add_task("train", total=state.max_steps, loss="")

    def on_step_end(self, args, state, control, **kw):
        self.progress.update(self.bar, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        if "loss" in logs:
            self.progress.update(self.bar, loss=f"loss {logs['loss']:.3f}")
        if "eval_loss" in logs:
            self.progress.console.print(f"step {state.global_step}: eval loss {logs['eval_loss']:.3f}")

    def on_save(self, args, state, control, model=None, **kw):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.hooks.on_checkpoint(state.global_step, path, model, self.tokenizer)
        model.train()

    def on_train_end(self, args, state, control, **kw):
        self.progress.stop()


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
