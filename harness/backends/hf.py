"""The `hf` backend: transformers (+ peft for LoRA adapters), batched, on CPU or GPU.

One model is loaded per checkpoint. For an adapter the base weights are loaded once and the
adapter sits on top; the base model's outputs come from the same weights with the adapter
switched off (`disable_adapter`), so scoring base and checkpoint never loads the base twice.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from harness.backends import register_backend
from harness.backends.base import Generation
from harness.text import split_thinking
from harness.chat_template import assistant_mask, require_chat_template, training_chat_template
from harness.checkpoint import Checkpoint
from harness.errors import HarnessError
from harness.generation_settings import GenerationSettings


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@register_backend("hf")
class HFBackend:
    name = "hf"
    supports_loglikelihood = True

    def __init__(self, ckpt: Checkpoint, *, device: torch.device | None = None, model=None, tokenizer=None):
        """Load `ckpt`; or wrap an already loaded `model`/`tokenizer` (the trainer's, in-process)."""
        self.ckpt = ckpt
        self.device = device or pick_device()
        self.tokenizer = tokenizer or self._load_tokenizer()
        require_chat_template(self.tokenizer, ckpt.spec)
        self.model = model if model is not None else self._load_model()
        self.model.eval()
        self._eos_ids = end_of_turn_ids(self.tokenizer, self.model)
        self._training_template: str | None = None

    # ---- loading -------------------------------------------------------------------------
    def _load_tokenizer(self):
        return load_tokenizer(self.ckpt)

    def _load_model(self):
        from transformers import AutoModelForCausalLM

        dtype = torch.bfloat16 if self.device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        try:
            model = AutoModelForCausalLM.from_pretrained(
                self.ckpt.model, dtype=dtype, trust_remote_code=self.ckpt.trust_remote_code
            )
        except (OSError, ValueError) as e:
            raise HarnessError(f"cannot load model {self.ckpt.model}: {_first_line(e)}") from None
        model.to(self.device)
        if self.ckpt.adapter:
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, self.ckpt.adapter)
            except (OSError, ValueError, RuntimeError) as e:
                raise HarnessError(
                    f"cannot apply adapter {self.ckpt.adapter} to {self.ckpt.model}: {_first_line(e)} "
                    "(is --base the model it was trained on?)"
                ) from None
        return model

    @contextlib.contextmanager
    def role(self, role: str) -> Iterator[None]:
        """`base` runs with the adapter switched off; `ckpt` as loaded."""
        if role == "base" and self.ckpt.adapter:
            with self.model.disable_adapter():
                yield
        else:
            yield

    # ---- generation ----------------------------------------------------------------------
    def render_prompt(self, messages: list[dict], settings: GenerationSettings) -> str:
        kwargs = {}
        if settings.enable_thinking is not None:
            kwargs["enable_thinking"] = settings.enable_thinking
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True, **kwargs)

    @torch.inference_mode()
    def generate(self, batch: list[list[dict]], settings: GenerationSettings, role: str = "ckpt") -> list[Generation]:
        texts = [self.render_prompt(m, settings) for m in batch]
        side = self.tokenizer.padding_side  # the tokenizer may be a trainer's: put it back after
        self.tokenizer.padding_side = "left"  # so every prompt ends where generation starts
        try:
            enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
        finally:
            self.tokenizer.padding_side = side
        torch.manual_seed(settings.seed)
        kwargs = dict(
            max_new_tokens=settings.max_new_tokens,
            do_sample=settings.do_sample,
            repetition_penalty=settings.repetition_penalty,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=sorted(self._eos_ids) or None,
            use_cache=True,  # a model fresh from gradient-checkpointed training has it off in its config
        )
        if settings.do_sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p)
            if settings.top_k:
                kwargs["top_k"] = settings.top_k
            if settings.min_p:
                kwargs["min_p"] = settings.min_p
        else:  # greedy: unset sampling knobs a model's generation_config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        with self.role(role):
            out = self.model.generate(**enc, **kwargs)
        prompt_len = enc["input_ids"].shape[1]
        results = []
        for i, seq in enumerate(out):
            new = seq[prompt_len:].tolist()
            stop_at = next((j for j, t in enumerate(new) if t in self._eos_ids), None)
            finished = stop_at is not None
            new = new[:stop_at] if finished else new
            raw = self.tokenizer.decode(new, skip_special_tokens=True) if finished else decode_cut(self.tokenizer, new)
            results.append(
                Generation(
                    raw=raw,
                    text=split_thinking(raw),
                    finish_reason="stop" if finished else "length",
                    prompt_tokens=int(enc["attention_mask"][i].sum()),
                    completion_tokens=len(new) + (1 if finished else 0),
                )
            )
        return results

    # ---- loglikelihood -------------------------------------------------------------------
    @torch.inference_mode()
    def loglikelihood(self, batch: list[list[dict]], mask: str = "assistant", role: str = "ckpt") -> list[tuple[float, int]]:
        """Per conversation: (sum of NLL over counted tokens, number of counted tokens).

        mask="assistant" counts the assistant's tokens (end-of-turn included) as the chat
        template marks them; mask="all" counts every token after the first.
        """
        rows = []
        for messages in batch:
            if mask == "assistant":
                if self._training_template is None:
                    self._training_template = training_chat_template(self.tokenizer, self.ckpt.spec)
                ids, m = assistant_mask(self.tokenizer, messages, self._training_template)
            else:
                ids = self.tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
                m = [0] + [1] * (len(ids) - 1)
            rows.append((list(ids), list(m)))
        width = max(len(ids) for ids, _ in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows], device=self.device)
        attn = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows], device=self.device)
        counted = torch.tensor([m + [0] * (width - len(m)) for _, m in rows], device=self.device)
        with self.role(role):
            logits = self.model(input_ids=input_ids, attention_mask=attn).logits.float()
        # token t is predicted from positions < t
        nll = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2), input_ids[:, 1:], reduction="none"
        )
        weights = counted[:, 1:].float()
        sums = (nll * weights).sum(dim=1).tolist()
        counts = weights.sum(dim=1).long().tolist()
        return list(zip(sums, counts))


def decode_cut(tokenizer, ids: list[int]) -> str:
    """Decode an answer the token limit cut off, dropping a character it cut in half.

    A byte-level tokenizer spreads one Chinese character over several tokens; an answer stopped
    by max_new_tokens can end inside one, and decoding turns those bytes into U+FFFD. Nothing
    follows in a cut answer, so trailing U+FFFD are the cut character's bytes and are dropped."""
    return tokenizer.decode(ids, skip_special_tokens=True).rstrip("\ufffd")


def load_tokenizer(ckpt: Checkpoint):
    """The checkpoint's tokenizer: an adapter dir saved by a trainer carries the tokenizer (and
    chat template) it trained with; otherwise the model's."""
    from transformers import AutoTokenizer

    source = ckpt.adapter if ckpt.adapter and _has_tokenizer(ckpt.adapter) else ckpt.model
    try:
        tok = AutoTokenizer.from_pretrained(source, trust_remote_code=ckpt.trust_remote_code)
    except (OSError, ValueError) as e:
        raise HarnessError(f"cannot load the tokenizer of {source}: {_first_line(e)}") from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def end_of_turn_ids(tokenizer, model=None) -> set[int]:
    """Token ids that end an assistant turn: eos ids of the generation config and tokenizer, plus
    the usual end-of-turn markers when the vocabulary has them."""
    ids = set()
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (gen_eos, tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>") if t in vocab)
    return ids


def _has_tokenizer(folder: str) -> bool:
    from pathlib import Path

    return any((Path(folder) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
