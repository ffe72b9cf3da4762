"""Training configuration: the lab's keys, defaults from seeds 000/001, strict validation.

A config is YAML; `--set key=value` overrides any key (dotted for nested: `lora.r=8`). Unknown
keys are an error that names the valid ones. The resolved config is saved beside the checkpoints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.yaml_lines import line_of as _line, load_yaml  # errors name file:line


@dataclass
class LoraSettings:
    r: int = 32
    alpha: int = 64
    dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"  # every linear layer except the output head


@dataclass
class DataSettings:
    train: str = ""  # messages JSONL, or a hub dataset id
    validation: str | None = None  # messages JSONL; else `val_split` of train
    val_split: float = 0.05
    train_split: str = "train_sft"  # split name for hub datasets (UltraChat: train_sft)
    max_samples: int | None = None  # take the first N (after a seeded shuffle for hub data)


@dataclass
class RescoreSettings:
    suite: str | None = "lab1"  # None: no rescoring
    tasks: list[str] | None = None  # the fast subset scored at each checkpoint (None: all)
    max_samples: int | None = 16  # per task, at each checkpoint
    gen: dict[str, Any] = field(default_factory=dict)  # generation overrides at each checkpoint
    final: bool = True  # the full suite on the final adapter
    final_gen: dict[str, Any] = field(default_factory=dict)  # generation overrides for the final run
    final_tasks: list[str] | None = None  # tasks of the final run (None: the whole suite)
    batch_size: int = 8


@dataclass
class TrainConfig:
    trainer: str = "qlora"
    model: str = "smollm2-135m-instruct"
    output_dir: str = "out"
    data: DataSettings = field(default_factory=DataSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    quantization: str = "nf4"  # nf4 (QLoRA, bitsandbytes 4-bit double quant) or none (plain LoRA)
    learning_rate: float = 2e-4  # QLoRA range 1e-4..3e-4 (seed 001); the lab's LoRA value is 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    per_device_batch_size: int = 4
    gradient_accumulation_steps: int = 4
    epochs: float = 1.0
    max_steps: int = -1  # > 0 overrides epochs
    max_length: int = 2048  # explicit: TRL's default is 1024
    gradient_checkpointing: bool = True
    packing: bool = False
    group_by_length: bool = False  # batch examples of similar length: less padding, faster on CPU
    bf16: str | bool = "auto"  # auto: on where the GPU supports it
    seed: int = 42
    logging_steps: int = 10
    save_steps: int = 200
    eval_steps: int = 100
    save_total_limit: int | None = None
    trust_remote_code: bool = False
    resume_from_checkpoint: bool | str | None = None  # true: the last checkpoint in output_dir (if any)
    rescore: RescoreSettings = field(default_factory=RescoreSettings)

    @property
    def effective_batch(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_train_config(path: str | None, overrides: list[str] | None = None) -> TrainConfig:
    raw: dict = {}
    where = "defaults"
    if path:
        p = Path(path)
        if not p.is_file():
            raise HarnessError(f"training config not found: {path}")
        raw = load_yaml(p) or {}
        if not isinstance(raw, dict):
            raise HarnessError(f"{p}: a training config is a mapping of keys")
        where = str(p)
    config = _build(TrainConfig, raw, where, prefix="")
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise HarnessError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lora.r=8")
        _set_dotted(config, key.strip(), yaml.safe_load(value), f"--set {item}")
    _validate(config, where)
    if path:  # data files named relative to the config file, like a suite's samples
        base = Path(path).parent
        for key in ("train", "validation"):
            value = getattr(config.data, key)
            if value and not Path(value).is_absolute() and not Path(value).exists() and (base / value).exists():
                setattr(config.data, key, str(base / value))
    return config


def _build(cls, raw: dict, where: str, prefix: str):
    valid = {f.name: f for f in fields(cls)}
    kwargs = {}
    for key, value in raw.items():
        if key not in valid:
            raise HarnessError(
                f"{where}:{_line(raw)}: unknown config key '{prefix}{key}'; valid keys: "
                + ", ".join(prefix + k for k in valid)
            )
        nested = _nested_type(valid[key])
        if nested is not None:
            if not isinstance(value, dict):
                raise HarnessError(f"{where}:{_line(raw)}: '{prefix}{key}' must be a mapping")
            value = _build(nested, value, where, prefix=f"{prefix}{key}.")
        kwargs[key] = _plain(value)
    return cls(**kwargs)


def _plain(value):
    """Plain dicts/lists (the line-aware loader's mappings carry a line number)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _nested_type(f):
    for candidate in (DataSettings, LoraSettings, RescoreSettings):
        if f.type in (candidate, candidate.__name__):
            return candidate
    return None


def _set_dotted(obj, key: str, value: Any, where: str) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        if not hasattr(obj, part) or not dataclasses.is_dataclass(getattr(obj, part)):
            raise HarnessError(f"{where}: unknown config key '{key}'")
        obj = getattr(obj, part)
    valid = [f.name for f in fields(obj)]
    if parts[-1] not in valid:
        raise HarnessError(f"{where}: unknown config key '{key}'; valid keys here: {', '.join(valid)}")
    setattr(obj, parts[-1], value)


_NUMERIC = {
    "learning_rate": float, "warmup_ratio": float, "weight_decay": float, "per_device_batch_size": int,
    "gradient_accumulation_steps": int, "epochs": float, "max_steps": int, "max_length": int, "seed": int,
    "logging_steps": int, "save_steps": int, "eval_steps": int,
}


def _number(value):
    """YAML reads 2e-4 (no dot) as a string: --set learning_rate=2e-4 means the number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _validate(c: TrainConfig, where: str) -> None:
    for key, kind in _NUMERIC.items():
        value = _number(getattr(c, key))
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise HarnessError(f"{where}: '{key}' must be a number, got {value!r}")
        setattr(c, key, kind(value))
    checks = [
        (c.data.train, "data.train is required (a messages JSONL file or a hub dataset id)"),
        (c.learning_rate > 0, "learning_rate must be > 0"),
        (0 <= c.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
        (c.per_device_batch_size >= 1 and c.gradient_accumulation_steps >= 1, "batch sizes must be >= 1"),
        (c.max_length >= 16, "max_length must be >= 16"),
        (c.max_steps > 0 or c.epochs > 0, "set epochs > 0 or max_steps > 0"),
        (c.quantization in ("nf4", "none"), "quantization must be 'nf4' or 'none'"),
        (int(c.lora.r) >= 1, "lora.r must be >= 1"),
        (0 < c.data.val_split < 1, "data.val_split must be in (0, 1)"),
        (c.lr_scheduler in ("cosine", "linear", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial"),
         "lr_scheduler must be one of cosine, linear, constant, constant_with_warmup, cosine_with_restarts, polynomial"),
    ]
    for ok, msg in checks:
        if not ok:
            raise HarnessError(f"{where}: {msg}")
