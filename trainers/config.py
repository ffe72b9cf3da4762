"""Training configuration: the harness's keys, validated with pydantic, plus any field of TRL's
`SFTConfig` passed through under its own name.

A config is YAML; `--set key=value` overrides any key (dotted for nested: `lora.r=8`). Every error
is one line naming where the bad value came from (`config.yaml:12` or `--set lora.r=abc`), what
was wrong, and the valid keys or values. The resolved config is saved beside the checkpoints.

Three kinds of top-level key:
- the harness's own (the fields of TrainConfig below), with defaults from the lab;
- TRL's name for one of them (`num_train_epochs` for `epochs`, ...): read as ours;
- any other SFTConfig field (`max_grad_norm`, `neftune_noise_alpha`, `lr_scheduler_kwargs`, ...):
  passed to SFTConfig as is, and it wins over what the harness would derive. A few SFTConfig
  fields the harness must control (PINNED) are refused. A key that is neither ours nor an
  SFTConfig field is an error that names the closest valid key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from harness.errors import HarnessError
from harness.models.model_loading import LoadOptions
from harness.io.yaml_lines import key_line, line_of, load_yaml  # errors name file:line


def _not_bool(value):
    if isinstance(value, bool):  # YAML `true` is not the number 1 here
        raise ValueError("must be a number, not true/false")
    return value


Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(_Section):
    r: Int = Field(32, ge=1)
    alpha: Int = Field(64, ge=1)
    dropout: Float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"  # every linear layer except the output head


class DataSettings(_Section):
    train: str = ""  # messages JSONL, or a hub dataset id
    validation: str | None = None  # messages JSONL; else `val_split` of train
    val_split: Float = Field(0.05, gt=0, lt=1)
    train_split: str = "train_sft"  # split name for hub datasets (UltraChat: train_sft)
    max_samples: Int | None = Field(None, ge=1)  # take the first N (after a seeded shuffle for hub data)


class RescoreSettings(_Section):
    suite: str | None = "lab1"  # None: no rescoring
    tasks: list[str] | None = None  # the fast subset scored at each checkpoint (None: all)
    max_samples: Int | None = Field(16, ge=1)  # per task, at each checkpoint
    gen: dict[str, Any] = Field(default_factory=dict)  # generation overrides at each checkpoint
    final: bool = True  # the full suite on the final adapter
    final_gen: dict[str, Any] = Field(default_factory=dict)  # generation overrides for the final run
    final_tasks: list[str] | None = None  # tasks of the final run (None: the whole suite)
    batch_size: Int = Field(8, ge=1)
    backend: Literal["hf", "vllm"] = "hf"  # hf: the trainer's model in process; vllm: one vLLM engine, adapters loaded at run time
    vllm: dict[str, Any] = Field(default_factory=dict)  # engine settings (harness.models.backends.vllm.VLLMSettings)


class TrainConfig(_Section):
    trainer: str = "qlora"
    model: str = "smollm2-135m-instruct"
    model_init_kwargs: LoadOptions = Field(default_factory=LoadOptions)  # TRL's name: dtype, device_map, ...
    output_dir: str = "out"
    data: DataSettings = Field(default_factory=DataSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    quantization: Literal["nf4", "none"] = "nf4"  # nf4: QLoRA (bitsandbytes 4-bit double quant); none: plain LoRA
    learning_rate: Float = Field(2e-4, gt=0)  # QLoRA range 1e-4..3e-4; the lab's LoRA value is 2e-5
    lr_scheduler: str = "cosine"
    warmup_ratio: Float = Field(0.1, ge=0, lt=1)
    weight_decay: Float = Field(0.0, ge=0)
    optim: str = "auto"  # auto: paged_adamw_32bit on a GPU (the QLoRA recipe), adamw_torch on CPU
    per_device_batch_size: Int = Field(4, ge=1)
    gradient_accumulation_steps: Int = Field(4, ge=1)
    epochs: Float = Field(1.0, ge=0)
    max_steps: Int = -1  # > 0 overrides epochs
    max_length: Int = Field(2048, ge=16)  # explicit: TRL's default is 1024
    activation_checkpointing: bool = True  # transformers 5's name for gradient checkpointing
    packing: bool = False
    group_by_length: bool = False  # batch examples of similar length: less padding, faster on CPU
    bf16: Literal["auto"] | bool = "auto"  # auto: on where the GPU supports it
    seed: Int = 42
    logging_steps: Int = Field(10, ge=1)
    save_steps: Int = Field(200, ge=1)
    eval_steps: Int = Field(100, ge=1)
    save_total_limit: Int | None = Field(None, ge=1)
    report_to: str | list[str] = "none"  # tensorboard, wandb, mlflow, ...: loss and rescored metrics
    resume_from_checkpoint: bool | str | None = None  # true: the last checkpoint in output_dir
    trust_remote_code: bool = False
    rescore: RescoreSettings = Field(default_factory=RescoreSettings)
    sft_overrides: dict[str, Any] = Field(default_factory=dict)  # other SFTConfig fields, passed as is
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)  # where each pass-through was set

    def sft_source(self, key: str) -> str:
        """Where a passed-through SFTConfig key was set (file:line or --set ...), for error lines."""
        return self._sources.get(key, key)

    @property
    def effective_batch(self) -> int:
        return self.per_device_batch_size * self.gradient_accumulation_steps

    def to_dict(self) -> dict:
        """The config as YAML keys: SFTConfig pass-throughs back at the top level, loading options
        only where set."""
        out = self.model_dump(exclude={"sft_overrides"})
        out["model_init_kwargs"] = self.model_init_kwargs.describe()
        return out | self.sft_overrides

    @field_validator("bf16", mode="before")
    @classmethod
    def _bf16(cls, value):
        if value == "auto" or isinstance(value, bool):
            return value
        raise ValueError("must be true, false or auto")

    @field_validator("lr_scheduler")
    @classmethod
    def _scheduler(cls, value: str) -> str:
        from transformers.trainer_utils import SchedulerType

        valid = [s.value for s in SchedulerType]
        if value not in valid:
            raise ValueError(f"unknown scheduler; valid: {', '.join(valid)}")
        return value

    @field_validator("optim")
    @classmethod
    def _optim(cls, value: str) -> str:
        from transformers.training_args import OptimizerNames

        valid = [o.value for o in OptimizerNames]
        if value != "auto" and value not in valid:
            close = difflib.get_close_matches(value, valid, n=3)
            raise ValueError(f"unknown optimizer{'; did you mean ' + ' or '.join(close) + '?' if close else ''} "
                             f"(auto, or one of transformers' {len(valid)} optimizer names)")
        return value

    @field_validator("report_to")
    @classmethod
    def _report_to(cls, value):
        from transformers.integrations import get_available_reporting_integrations
        from transformers.integrations.integration_utils import INTEGRATION_TO_CALLBACK

        names = [value] if isinstance(value, str) else list(value)
        if names in (["none"], ["all"], []):
            return value
        for name in names:
            if name not in INTEGRATION_TO_CALLBACK:
                raise ValueError(f"unknown logger {name!r}; valid: none, all, {', '.join(INTEGRATION_TO_CALLBACK)}")
            if name not in get_available_reporting_integrations():
                raise ValueError(f"{name} is not installed (pip install {name})")
        return value

    @field_validator("model_init_kwargs")
    @classmethod
    def _no_4bit_flag(cls, value: LoadOptions) -> LoadOptions:
        if value.load_in_4bit:
            raise ValueError("training sets 4-bit weights with `quantization: nf4`, not load_in_4bit")
        return value

    @model_validator(mode="after")
    def _whole(self):
        if not self.data.train:
            raise ValueError("data.train is required (a messages JSONL file or a hub dataset id)")
        if self.max_steps <= 0 and self.epochs <= 0:
            raise ValueError("set epochs > 0 or max_steps > 0")
        return self


# TRL's names of the harness's own keys.
TRL_NAMES = {
    "num_train_epochs": "epochs",
    "per_device_train_batch_size": "per_device_batch_size",
    "lr_scheduler_type": "lr_scheduler",
    "gradient_checkpointing": "activation_checkpointing",  # transformers 4's name
}

# SFTConfig fields the harness sets itself and a config may not override, with the reason.
PINNED = {
    "assistant_only_loss": "the loss is always on assistant tokens only (the mask audit checks that mask)",
    "eval_strategy": "evaluation runs every eval_steps (the loss-curve diagnosis reads it)",
    "save_strategy": "checkpoints are saved every save_steps (each one is rescored)",
    "disable_tqdm": "the harness shows its own progress",
    "use_cpu": "chosen from the machine (a GPU when there is one)",
}


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
    origins: dict[str, str] = {}  # dotted key -> "--set ..." for keys set on the command line
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--set {item!r}: expected KEY=VALUE, e.g. --set lora.r=8")
        _set_dotted(raw, key.strip(), yaml.safe_load(value), f"--set {item}")
        origins[key.strip()] = f"--set {item}"
    problems: list[str] = []  # every error of the file (and --set) in one pass, not one per attempt
    values = _split_trl_keys(raw, where, origins, problems)
    config = _validate(values, raw, where, origins, problems)
    if problems:
        raise HarnessError(_joined(problems))
    if path:  # data files named relative to the config file, like a suite's samples
        base = Path(path).parent
        for key in ("train", "validation"):
            value = getattr(config.data, key)
            if value and not Path(value).is_absolute() and not Path(value).exists() and (base / value).exists():
                setattr(config.data, key, str(base / value))
    return config


def _where(raw: dict, dotted: str, where: str, origins: dict[str, str]) -> str:
    """How the user wrote `dotted`: its --set item, or file:line."""
    for key, origin in origins.items():  # set on the command line (or a nested key of it was)
        if key == dotted or key.startswith(dotted + ".") and dotted:
            return origin
    node, parts = raw, dotted.split(".") if dotted else []
    for part in parts[:-1]:
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            break
        node = child
    line = key_line(node, parts[-1]) if parts else line_of(raw)
    return f"{where}:{line}" if line else where


def _joined(problems: list[str]) -> str:
    unique = list(dict.fromkeys(problems))
    if len(unique) == 1:
        return unique[0]
    return f"{len(unique)} errors in the training config: " + "; ".join(f"({i}) {p}" for i, p in enumerate(unique, 1))


def _split_trl_keys(raw: dict, where: str, origins: dict[str, str], problems: list[str]) -> dict:
    """The harness's keys (TRL names read as ours) with other SFTConfig fields under sft_overrides;
    each key that cannot be used adds its error to `problems` and is left out."""
    ours = set(TrainConfig.model_fields) - {"sft_overrides"}
    out: dict = {}
    passed: dict = {}
    for key, value in raw.items():
        at = _where(raw, key, where, origins)
        if key in ours:
            name = key
        elif key in TRL_NAMES:
            name = TRL_NAMES[key]
            if name in raw:
                problems.append(f"{at}: '{key}' is TRL's name for '{name}', which is set too; keep one")
                continue
            origins[name] = at  # errors about it name the key as written
        elif key in PINNED:
            problems.append(f"{at}: '{key}' cannot be set here: {PINNED[key]}")
            continue
        elif key in _sft_fields():
            try:
                passed[key] = _sft_value(key, _plain(value), at)
            except HarnessError as e:
                problems.append(str(e))
            continue
        else:
            close = difflib.get_close_matches(key, [*ours, *TRL_NAMES, *_sft_fields()], n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            problems.append(
                f"{at}: unknown config key '{key}'; {hint}harness keys: {', '.join(sorted(ours))}; "
                "or any field of TRL's SFTConfig (passed through)"
            )
            continue
        out[name] = _plain(value)
    if passed:
        out["sft_overrides"] = passed
    return out


def _validate(values: dict, raw: dict, where: str, origins: dict[str, str], problems: list[str]) -> TrainConfig | None:
    """The config, or None with every validation error added to `problems`."""
    try:
        config = TrainConfig(**values)
    except ValidationError as e:
        problems += [_problem(err, raw, where, origins) for err in e.errors()]
        return None
    config._sources = {k: _where(raw, k, where, origins) for k in config.sft_overrides}
    return config


def _problem(err: dict, raw: dict, where: str, origins: dict[str, str]) -> str:
    """One pydantic error as the user wrote the key: file:line (or --set ...), the key, what is wrong."""
    loc = [str(p) for p in err["loc"]]
    parts = _known_prefix(loc)
    dotted = ".".join(parts)
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        section = TrainConfig
        for part in parts[:-1]:
            section = section.model_fields[part].annotation
        valid = ", ".join(k for k in section.model_fields if k != "sft_overrides")
        return f"{_where(raw, dotted, where, origins)}: unknown config key '{dotted}'; valid keys here: {valid}"
    if not dotted:  # a check of the whole config
        key = msg.split()[0].split(".")[0]
        at = _where(raw, key, where, origins) if key in raw else where
        return f"{at}: {msg}"
    got = f" (got {err['input']!r})" if not isinstance(err["input"], dict) else ""
    return f"{_where(raw, dotted, where, origins)}: {dotted}: {msg[0].lower() + msg[1:]}{got}"


def _known_prefix(loc: list[str]) -> list[str]:
    """The config-key part of a pydantic error location: drops what follows a plain value (list
    indexes, union tags such as 'bool'); keeps one unknown key at the end."""
    parts, section = [], TrainConfig
    for part in loc:
        fields = getattr(section, "model_fields", None) if section is not None else None
        if fields is None:
            break
        parts.append(part)
        if part not in fields:
            break  # an unknown key
        annotation = fields[part].annotation
        section = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return parts


_SFT_FIELDS: dict[str, Any] | None = None


def _sft_fields() -> dict[str, Any]:
    """SFTConfig's fields and their types (every one of them a type pydantic can check)."""
    global _SFT_FIELDS
    if _SFT_FIELDS is None:
        import typing

        from trl import SFTConfig

        _SFT_FIELDS = typing.get_type_hints(SFTConfig)
    return _SFT_FIELDS


def _sft_value(key: str, value: Any, at: str) -> Any:
    """A passed-through value checked against the SFTConfig field's type (SFTConfig itself does not)."""
    from pydantic import TypeAdapter

    kind = _sft_fields()[key]
    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as e:
        msg = e.errors()[0]["msg"]
        name = getattr(kind, "__name__", str(kind))
        raise HarnessError(f"{at}: {key} (TRL SFTConfig field of type {name}): {msg[0].lower() + msg[1:]} (got {value!r})") from None


def _plain(value):
    """Plain dicts/lists (the line-aware loader's mappings carry a line number)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _set_dotted(raw: dict, key: str, value: Any, where: str) -> None:
    """Put a --set value into the raw config mapping (validated with everything else)."""
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise HarnessError(f"{where}: '{part}' is not a mapping, so '{key}' cannot be set")
        node = child
    node[parts[-1]] = value
