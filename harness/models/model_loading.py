"""How a model is loaded, for `harness run` and `harness train`: dtype, device_map, attention
implementation, hub revision, 4-bit weights.

The names are those of transformers' `from_pretrained` (and of TRL's `model_init_kwargs`), so a
value that works there works here. Defaults keep the old behaviour: bf16 on a GPU that supports it,
else fp32; the whole model on one device; the library's default attention; the hub's main branch.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from harness.errors import HarnessError

# accepted spellings -> torch dtype name ("auto": bf16 where the GPU supports it, else fp32)
DTYPES = {"auto": "auto", "bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16",
          "half": "float16", "float32": "float32", "fp32": "float32", "float": "float32"}


class LoadOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dtype: str = "auto"
    device_map: str | None = None  # e.g. auto, cpu, cuda:0 (None: the whole model on the run's device)
    attn_implementation: str | None = None  # e.g. eager, sdpa, flash_attention_2 (None: the library's choice)
    revision: str | None = None  # branch, tag or commit of a hub repo (None: main)
    load_in_4bit: bool = False  # bitsandbytes NF4 with double quant, as QLoRA trains

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in DTYPES:
            raise ValueError(f"unknown dtype {value!r}; use one of {', '.join(DTYPES)}")
        return DTYPES[value]

    @classmethod
    def parse(cls, values: dict[str, Any] | None, where: Callable[[str], str] = str) -> "LoadOptions":
        """Validated options; a bad key or value is one HarnessError that starts with `where(key)`
        (how the user wrote that key: `--dtype`, `config.yaml:12: model_init_kwargs.dtype`)."""
        try:
            return cls(**(values or {}))
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown model loading option; valid: {', '.join(cls.model_fields)}"
            raise HarnessError(f"{where(key)}: {msg} (got {err['input']!r})") from None

    def torch_dtype(self, device):
        import torch

        if self.dtype == "auto":
            cuda = getattr(device, "type", str(device)).startswith("cuda")
            return torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float32
        return getattr(torch, self.dtype)

    def from_pretrained_kwargs(self, device) -> dict[str, Any]:
        """Keyword arguments for AutoModelForCausalLM.from_pretrained (revision is the caller's:
        it is resolved to a commit once, with the checkpoint)."""
        dtype = self.torch_dtype(device)
        kwargs: dict[str, Any] = {"dtype": dtype}
        if self.device_map:
            kwargs["device_map"] = self.device_map
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        if self.load_in_4bit:
            kwargs["quantization_config"] = nf4_config(dtype)
            if not self.device_map and getattr(device, "type", "cpu") == "cuda":
                kwargs["device_map"] = {"": device.index or 0}  # bitsandbytes places weights at load time
        return kwargs

    @property
    def places_model(self) -> bool:
        """Whether from_pretrained puts the model on its device(s) itself (no .to(device) after)."""
        return bool(self.device_map) or self.load_in_4bit

    def describe(self) -> dict[str, Any]:
        """The options that differ from the defaults (recorded with the run)."""
        return self.model_dump(exclude_defaults=True)


def nf4_config(compute_dtype):
    """4-bit NF4 with double quantization (the QLoRA recipe), computing in `compute_dtype`."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)
