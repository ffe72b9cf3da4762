"""The `hf` backend: transformers (+ peft for LoRA adapters), batched, on CPU or GPU.

One model is loaded per checkpoint. For an adapter the base weights are loaded once and the
adapter sits on top; the base model's outputs come from the same weights with the adapter
switched off (`disable_adapter`), so scoring base and checkpoint never loads the base twice.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from harness.models.backends import register_backend
from harness.models.backends.base import BackendBase, Capabilities, Generation, Loglikelihood, TokenizerView, template_hash
from harness.text import split_thinking
from harness.models.chat_template import require_chat_template
from harness.models.loglikelihood_tokens import CountedTokens
from harness.models.checkpoint import Checkpoint
from harness.models.decode_stream import DecodeStream
from harness.errors import HarnessError
from harness.models.generation_settings import GenerationSettings


def pick_device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@register_backend("hf")
class HFBackend(BackendBase):
    def __init__(self, ckpt: Checkpoint, *, device: torch.device | None = None, model=None, tokenizer=None):
        """Load `ckpt`; or wrap an already loaded `model`/`tokenizer` (the trainer's, in-process)."""
        self.ckpt = ckpt
        self.device = device or pick_device()
        self.tokenizer = tokenizer or self._load_tokenizer()
        require_chat_template(self.tokenizer, ckpt.spec)
        self.model = model if model is not None else self._load_model()
        self.model.eval()
        self._eos_ids = end_of_turn_ids(self.tokenizer, self.model)
        self._counted = CountedTokens(self.tokenizer, ckpt.spec)

    # ---- the contract ----------------------------------------------------------------------
    def capabilities(self) -> Capabilities:
        return Capabilities(generate=True, loglikelihood=True, token_logprobs=True, batching=True, token_streams=True, raw_text=True,
                            switch_adapter=self.ckpt.adapter is not None)  # a PEFT model takes more adapters

    def describe(self) -> dict:
        return {"backend": self.name, "device": str(self.device),
                "chat_template_hash": template_hash(self.tokenizer.chat_template), "engine": {}}

    def tokenizer_view(self) -> TokenizerView:
        return TokenizerView(self.tokenizer, max_model_len=self.max_length)

    def switch_adapter(self, ckpt: Checkpoint) -> None:
        """Add `ckpt`'s adapter to the loaded PEFT model and switch to it (the base stays loaded)."""
        if not (self.ckpt.adapter and ckpt.adapter) or ckpt.model != self.ckpt.model:
            raise HarnessError(f"cannot switch {self.ckpt.spec} to {ckpt.spec}: only another adapter of the same base")
        name = f"a{abs(hash(ckpt.adapter)) % 10**8}"
        self.model.load_adapter(ckpt.adapter, adapter_name=name)
        self.model.set_adapter(name)
        self.model.eval()
        self.ckpt = ckpt

    # ---- loading -------------------------------------------------------------------------
    def _load_tokenizer(self):
        return load_tokenizer(self.ckpt)

    def _load_model(self):
        from transformers import AutoModelForCausalLM

        load = self.ckpt.load  # dtype (auto: bf16 on a GPU that has it, else fp32), device_map, 4-bit, ...
        try:
            model = AutoModelForCausalLM.from_pretrained(
                self.ckpt.model, revision=self.ckpt.model_revision, trust_remote_code=self.ckpt.trust_remote_code,
                **load.from_pretrained_kwargs(self.device),
            )
        except (OSError, ValueError, ImportError) as e:
            raise HarnessError(f"cannot load model {self.ckpt.model}: {_first_line(e)}") from None
        if load.places_model:  # device_map / 4-bit: from_pretrained placed it; inputs go where it starts
            self.device = model.device
        else:
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

    def encode_chat(self, messages: list[dict], settings: GenerationSettings) -> list[int]:
        """The prompt token ids of a conversation (chat template, generation prompt added)."""
        return self.encode_text(self.render_prompt(messages, settings))

    def encode_text(self, text: str) -> list[int]:
        """Token ids of raw text, as it stands (a rendered template already has its special tokens)."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def new_stream(self, settings: GenerationSettings, **kwargs) -> DecodeStream:
        """A DecodeStream for one row (kwargs: stop, on_text, cancelled)."""
        return DecodeStream(self.tokenizer, self._eos_ids, settings.max_new_tokens, **kwargs)

    def generate(self, batch: list[list[dict]], settings: GenerationSettings, role: str = "ckpt") -> list[Generation]:
        prompts = [self.encode_chat(m, settings) for m in batch]
        streams = self.generate_streams(prompts, settings, role=role)
        return [
            Generation(raw=s.answer, text=split_thinking(s.answer), finish_reason=s.finish_reason,
                       prompt_tokens=len(p), completion_tokens=s.completion_tokens)
            for p, s in zip(prompts, streams)
        ]

    @torch.inference_mode()
    def generate_streams(self, prompts: list[list[int]], settings: GenerationSettings,
                         streams: list[DecodeStream] | None = None, role: str = "ckpt") -> list[DecodeStream]:
        """Generate after each prompt (token ids), as one left-padded batch. Each row's tokens go
        through its DecodeStream: after every step when it is watched (stop strings, streaming,
        cancellation; a finished row then stops), at the end otherwise."""
        streams = streams or [self.new_stream(settings) for _ in prompts]
        width = max(len(p) for p in prompts)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        torch.manual_seed(settings.seed)
        kwargs = dict(
            max_new_tokens=settings.max_new_tokens,
            do_sample=settings.do_sample,
            repetition_penalty=settings.repetition_penalty,
            pad_token_id=pad,
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
        if any(s.watched for s in streams):
            from transformers import StoppingCriteriaList

            kwargs["stopping_criteria"] = StoppingCriteriaList([_WatchStreams(streams, width)])
        with self.role(role):
            out = self.model.generate(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        for s, seq in zip(streams, out):
            if not s.watched:
                s.push_all(seq[width:].tolist())
            s.finish()
        return streams

    @torch.inference_mode()
    def token_logprobs(self, ids: list[int], top: int, role: str = "ckpt") -> list[tuple[float, list[tuple[int, float]]]]:
        """For each token after the first: its log-probability given the tokens before it (the
        model's own distribution: temperature 1, no penalties) and the `top` likeliest tokens at
        that position with theirs. One sequence per forward pass, so memory stays one row's."""
        if len(ids) < 2:
            return []
        with self.role(role):
            logits = self.model(input_ids=torch.tensor([ids], device=self.device)).logits[0, :-1].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        targets = torch.tensor(ids[1:], device=self.device)
        chosen = logprobs.gather(1, targets[:, None])[:, 0].tolist()
        if top > 0:
            values, indices = logprobs.topk(top, dim=-1)
            alternatives = [list(zip(i, v)) for i, v in zip(indices.tolist(), values.tolist())]
        else:
            alternatives = [[] for _ in chosen]
        return list(zip(chosen, alternatives))

    # ---- loglikelihood -------------------------------------------------------------------
    def scored_tokens(self, messages: list[dict], mask: str = "assistant") -> tuple[list[int], list[int]]:
        """(token ids, 0/1 per token: counted or not) of one conversation as `loglikelihood` scores it.

        mask="assistant" counts the assistant's tokens (end-of-turn included) as the chat
        template marks them; mask="all" counts every token after the first.
        """
        return self._counted.tokens(messages, mask)

    def loglikelihood_length(self, messages: list[dict], mask: str = "assistant") -> int:
        """Token count of a conversation: the runner batches loglikelihood samples by it (least padding)."""
        return len(self.scored_tokens(messages, mask)[0])

    @torch.inference_mode()
    def loglikelihood(self, batch: list[list[dict]], mask: str = "assistant", role: str = "ckpt") -> list[Loglikelihood]:
        """Per conversation: the NLL sum over counted tokens, their count, and the UTF-8 bytes they spell."""
        rows = [self.scored_tokens(messages, mask) for messages in batch]
        width = max(len(ids) for ids, _ in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in rows], device=self.device)
        attn = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in rows], device=self.device)
        counted = torch.tensor([m + [0] * (width - len(m)) for _, m in rows], device=self.device)
        # token t is predicted from position t - 1; only positions that predict a counted token
        # need logits (the vocabulary projection and softmax are the costly part for small models)
        target = counted[:, 1:].bool()
        positions = target.any(dim=0).nonzero().squeeze(1)
        with self.role(role):
            logits = self._logits_at(input_ids, attn, positions)
        keep = target[:, positions]
        logprobs = torch.log_softmax(logits[keep].float(), dim=-1)  # over the vocabulary: exact and fast
        targets = input_ids[:, 1:][:, positions][keep]
        nll = -logprobs.gather(1, targets[:, None]).squeeze(1)
        row_of = torch.arange(len(rows), device=self.device)[:, None].expand_as(keep)[keep]
        sums = torch.zeros(len(rows), dtype=nll.dtype, device=self.device).index_add_(0, row_of, nll).tolist()
        return [Loglikelihood(total, sum(m[1:]), self._counted_bytes(ids, m)) for total, (ids, m) in zip(sums, rows)]

    def _logits_at(self, input_ids: torch.Tensor, attn: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Logits at `positions` only (models that take `logits_to_keep` skip the rest of the projection)."""
        try:
            return self.model(input_ids=input_ids, attention_mask=attn, logits_to_keep=positions).logits
        except TypeError:  # a model without logits_to_keep
            return self.model(input_ids=input_ids, attention_mask=attn).logits[:, positions]

    def _counted_bytes(self, ids: list[int], mask: list[int]) -> int:
        return self._counted.counted_bytes(ids, mask)


    # ---- raw text (capability tasks through lm-eval: no chat template) --------------------
    # Tokenised the way lm-eval's own `hf` model does (lm_eval.api.model.TemplateLM), so the
    # same model gives the same numbers through either (bench/capability_vs_lm_eval.py).
    @property
    def max_length(self) -> int:
        """The context length: the config's (text_config first), else the tokenizer's, else 2048."""
        config = getattr(self.model, "config", None)
        for cfg in (getattr(config, "text_config", None), config):
            for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
                value = getattr(cfg, attr, None) if cfg is not None else None
                if isinstance(value, int) and value > 0:
                    return value
        tok = getattr(self.tokenizer, "model_max_length", None)
        return tok if isinstance(tok, int) and 0 < tok < 10**12 else 2048

    @property
    def prefix_token_id(self) -> int:
        """What an empty context stands for: the bos token, else the eos token."""
        bos = self.tokenizer.bos_token_id
        return bos if bos is not None else self.tokenizer.eos_token_id

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        """(context ids, continuation ids): trailing spaces of the context belong to the
        continuation, and the continuation's ids are those the whole text adds after the context's."""
        if context == "":
            cont = self.tokenizer.encode(continuation, add_special_tokens=False)
            prefix = self.prefix_token_id
            return ([prefix], cont) if cont[0] != prefix else (cont[:1], cont[1:])
        spaces = len(context) - len(context.rstrip())
        if spaces:
            context, continuation = context[:-spaces], context[-spaces:] + continuation
        whole = self.tokenizer.encode(context + continuation)
        ctx = self.tokenizer.encode(context)
        return ctx, whole[len(ctx):]

    @torch.inference_mode()
    def loglikelihood_text(self, requests: list[tuple[str, str]], role: str = "ckpt") -> list[tuple[float, bool]]:
        """Per (context, continuation): log P(continuation | context) and whether it is the greedy
        continuation. One left-padded batch (explicit position ids, so padding changes nothing);
        logits only for the last positions, where the continuations are."""
        rows, inputs = [], {}  # requests with the same input (one-token choices after one question) share a row
        for context, continuation in requests:
            ctx, cont = self.encode_pair(context, continuation)
            inp = tuple((ctx + cont)[-(self.max_length + 1):][:-1])  # the last len(cont) inputs predict cont
            rows.append((inputs.setdefault(inp, len(inputs)), cont))
        width = max(len(inp) for inp in inputs)
        keep = max(len(cont) for _, cont in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([[pad] * (width - len(inp)) + list(inp) for inp in inputs], device=self.device)
        attn = torch.tensor([[0] * (width - len(inp)) + [1] * len(inp) for inp in inputs], device=self.device)
        position_ids = (attn.cumsum(-1) - 1).clamp(min=0)
        with self.role(role):
            try:
                logits = self.model(input_ids=input_ids, attention_mask=attn, position_ids=position_ids,
                                    logits_to_keep=keep).logits[:, -keep:]
            except TypeError:  # a model without logits_to_keep
                logits = self.model(input_ids=input_ids, attention_mask=attn, position_ids=position_ids).logits[:, -keep:]
        out = []
        for row, cont in rows:
            logprobs = torch.log_softmax(logits[row, keep - len(cont):].float(), dim=-1)
            target = torch.tensor(cont, device=self.device)
            total = logprobs.gather(1, target[:, None]).sum().item()
            out.append((total, bool((logprobs.argmax(-1) == target).all())))
        return out

    def generate_text(self, prompts: list[str], settings: GenerationSettings, stop: list[str],
                      role: str = "ckpt") -> list[Generation]:
        """Greedy (or sampled) continuations of raw-text prompts, cut before the first stop string;
        a prompt longer than the context leaves room for max_new_tokens by losing its start."""
        room = max(1, self.max_length - settings.max_new_tokens)
        ids = [self.tokenizer.encode(p)[-room:] for p in prompts]
        streams = self.generate_streams(ids, settings, [self.new_stream(settings, stop=tuple(stop)) for _ in ids], role=role)
        return [Generation(raw=s.answer, text=s.answer, finish_reason=s.finish_reason, prompt_tokens=len(p),
                           completion_tokens=s.completion_tokens) for p, s in zip(ids, streams)]


class _WatchStreams:
    """A transformers stopping criterion that feeds each new token to its row's DecodeStream and
    stops the rows whose stream is finished (stop string, end of turn, cancelled)."""

    def __init__(self, streams: list[DecodeStream], prompt_width: int):
        self.streams, self.prompt_width = streams, prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        step = input_ids.shape[1] - self.prompt_width  # 1 for the first generated token
        newest = input_ids[:, -1].tolist()
        done = []
        for stream, token in zip(self.streams, newest):
            if not stream.watched:
                done.append(False)  # decoded after generation; transformers stops it on its own
            elif step > stream.limit:  # a step past the limit (deferred stop checks): not ours
                done.append(True)
            else:
                done.append(stream.push(token))
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def load_tokenizer(ckpt: Checkpoint):
    """The checkpoint's tokenizer: an adapter dir saved by a trainer carries the tokenizer (and
    chat template) it trained with; otherwise the model's."""
    from transformers import AutoTokenizer

    own = ckpt.adapter and _has_tokenizer(ckpt.adapter)
    source = ckpt.adapter if own else ckpt.model
    try:
        tok = AutoTokenizer.from_pretrained(source, revision=None if own else ckpt.model_revision,
                                            trust_remote_code=ckpt.trust_remote_code)
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
