"""Writing a (merged) Hugging Face model as one GGUF file, for llama.cpp and Ollama.

Two architectures, the ones the harness trains: Llama (the bundled SmolLM2) and Qwen3. What goes
into the file, as llama.cpp's own convert_hf_to_gguf.py writes it (that script is not in the `gguf`
wheel; the wheel gives the writer, the tensor name map and the Q8_0 quantizer used here):

- the hyperparameters under `<arch>.*` (block count, lengths, heads, rope base, norm epsilon);
- every tensor under its GGUF name (gguf.TensorNameMap); 1-D tensors (norms) in F32, matrices in
  F16 or Q8_0. Llama's q/k projections are permuted: llama.cpp applies rotary embeddings to
  interleaved pairs, Hugging Face to the two halves of each head (transformers' GGUF loader undoes
  the permutation on load). Tied embeddings: no `output.weight`, as llama.cpp expects;
- the tokenizer (byte-level BPE: tokens, token types, merges, the pre-tokenizer's name, special
  token ids, whether a BOS is added) and `tokenizer.chat_template`, so llama.cpp and Ollama render
  a conversation the way the harness did;
- `sft_harness.export`: where the weights came from (adapter, base, their hashes), as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.errors import HarnessError

GGUF_TYPES = ("f16", "q8_0")
ARCHITECTURES = ("llama", "qwen3")  # config.model_type values this writer knows
EXPORT_KEY = "sft_harness.export"  # our metadata key: JSON of where the weights came from
_Q8_0_BLOCK = 32

# llama.cpp's pre-tokenizer names for the byte-level BPE pre-tokenizers we can recognise in a
# tokenizer.json; the regexes are those of the Qwen2 and Llama 3 tokenizers.
_QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
_LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


@dataclass(frozen=True)
class GGUFWritten:
    path: Path
    gguf_type: str
    architecture: str
    n_tensors: int
    n_bytes: int
    tensor_types: dict[str, int]  # ggml type name -> how many tensors have it


def write_gguf(model, tokenizer, out: Path, gguf_type: str, *, name: str, export_info: dict | None = None) -> GGUFWritten:
    """Write `model` (a transformers causal LM with plain float weights) and `tokenizer` to `out`."""
    import gguf

    if gguf_type not in GGUF_TYPES:
        raise HarnessError(f"--gguf {gguf_type!r}: choose one of {', '.join(GGUF_TYPES)} (q4_k_m: see docs/export.md)")
    config = model.config
    arch_name = check_supported(config)
    arch = next(a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name)
    template = tokenizer.chat_template
    if not isinstance(template, str) or not template:
        raise HarnessError(f"{name}: the tokenizer has no chat template; llama.cpp and Ollama would guess one. "
                           "Save the tokenizer with its chat template next to the adapter")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out), arch_name)
    _write_hparams(writer, config, name, gguf_type)
    _write_tokenizer(writer, tokenizer, int(config.vocab_size))
    writer.add_chat_template(template)
    if export_info:
        writer.add_string(EXPORT_KEY, json.dumps(export_info, sort_keys=True))
    counts = _write_tensors(writer, model, arch, arch_name, gguf_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return GGUFWritten(out, gguf_type, arch_name, sum(counts.values()), out.stat().st_size, counts)


def check_supported(config) -> str:
    """The GGUF architecture name of a transformers config; a HarnessError for anything else."""
    model_type = getattr(config, "model_type", None)
    if model_type not in ARCHITECTURES:
        raise HarnessError(f"GGUF export supports {', '.join(ARCHITECTURES)} models; this one is {model_type!r}")
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    rope_type = rope.get("rope_type") or rope.get("type") or "default"
    if rope_type != "default":
        raise HarnessError(f"GGUF export: rope scaling {rope_type!r} is not supported (only plain RoPE)")
    return model_type


def _head_dim(config) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def _rope_theta(config) -> float:
    rope = getattr(config, "rope_parameters", None) or {}
    return float(rope.get("rope_theta") or getattr(config, "rope_theta", 10000.0))


def _write_hparams(writer, config, name: str, gguf_type: str) -> None:
    import gguf

    writer.add_name(name)
    writer.add_context_length(int(config.max_position_embeddings))
    writer.add_embedding_length(int(config.hidden_size))
    writer.add_block_count(int(config.num_hidden_layers))
    writer.add_feed_forward_length(int(config.intermediate_size))
    writer.add_head_count(int(config.num_attention_heads))
    writer.add_head_count_kv(int(config.num_key_value_heads or config.num_attention_heads))
    writer.add_rope_freq_base(_rope_theta(config))
    writer.add_layer_norm_rms_eps(float(config.rms_norm_eps))
    writer.add_rope_dimension_count(_head_dim(config))
    # Qwen3's head size is its own setting (Qwen3-0.6B: 128 with hidden 1024 and 16 heads)
    writer.add_key_length(_head_dim(config))
    writer.add_value_length(_head_dim(config))
    writer.add_vocab_size(int(config.vocab_size))
    writer.add_file_type({"f16": gguf.LlamaFileType.MOSTLY_F16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[gguf_type])
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)


# ---- tensors --------------------------------------------------------------------------------

def permute_for_gguf(weights: np.ndarray, n_head: int) -> np.ndarray:
    """Llama q/k rows from Hugging Face's half-split rotary layout to llama.cpp's interleaved one
    (llama.cpp's convert_hf_to_gguf.py LlamaModel.permute; a bias is permuted the same way)."""
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _write_tensors(writer, model, arch, arch_name: str, gguf_type: str) -> dict[str, int]:
    import gguf

    config = model.config
    name_map = gguf.get_tensor_name_map(arch, int(config.num_hidden_layers))
    tied = bool(getattr(config, "tie_word_embeddings", False))
    counts: dict[str, int] = {}
    for hf_name, tensor in model.state_dict().items():
        if tied and hf_name == "lm_head.weight":
            continue  # llama.cpp reuses token_embd when output.weight is absent
        gguf_name = name_map.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise HarnessError(f"GGUF export: the {arch_name} tensor {hf_name} has no GGUF name; this model variant "
                               "is not supported")
        data = tensor.detach().float().cpu().numpy()
        if arch_name == "llama" and (".q_proj." in hf_name or ".k_proj." in hf_name):
            heads = config.num_attention_heads if ".q_proj." in hf_name else config.num_key_value_heads
            data = permute_for_gguf(data, int(heads))
        qtype = _tensor_type(data, gguf_type)
        counts[qtype.name] = counts.get(qtype.name, 0) + 1
        if qtype == gguf.GGMLQuantizationType.Q8_0:
            writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)
        else:
            writer.add_tensor(gguf_name, gguf.quants.quantize(data, qtype))
    return counts


def _tensor_type(data: np.ndarray, gguf_type: str):
    """F32 for 1-D tensors (norms, biases), else the export's type; F16 for a matrix whose rows
    do not split into Q8_0 blocks of 32 (llama.cpp's converter falls back the same way)."""
    import gguf

    if data.ndim <= 1:
        return gguf.GGMLQuantizationType.F32
    if gguf_type == "q8_0" and data.shape[-1] % _Q8_0_BLOCK == 0:
        return gguf.GGMLQuantizationType.Q8_0
    return gguf.GGMLQuantizationType.F16


# ---- tokenizer ------------------------------------------------------------------------------

def _write_tokenizer(writer, tokenizer, n_vocab: int) -> None:
    import gguf

    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    model = spec.get("model") or {}
    if model.get("type") != "BPE" or not _byte_level(spec):
        raise HarnessError("GGUF export supports byte-level BPE tokenizers (GPT-2 style: SmolLM2, Qwen, Llama 3); "
                           f"this one is {model.get('type')!r}")
    vocab = tokenizer.get_vocab()
    if max(vocab.values()) >= n_vocab:
        raise HarnessError(f"GGUF export: the tokenizer has ids up to {max(vocab.values())} but the model's "
                           f"embedding has {n_vocab} rows")
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]  # rows no token uses (llama.cpp's converter does the same)
    types = [gguf.TokenType.UNUSED] * n_vocab
    for token, index in vocab.items():
        tokens[index], types[index] = token, gguf.TokenType.NORMAL
    for index, added in tokenizer.added_tokens_decoder.items():
        if index < n_vocab:
            tokens[index] = added.content
            types[index] = gguf.TokenType.CONTROL if added.special else gguf.TokenType.USER_DEFINED
    merges = [m if isinstance(m, str) else " ".join(m) for m in model.get("merges") or []]
    writer.add_tokenizer_model("gpt2")  # llama.cpp's name for byte-level BPE
    writer.add_tokenizer_pre(pre_tokenizer_name(spec.get("pre_tokenizer")))
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    for key, add in (("bos_token_id", writer.add_bos_token_id), ("eos_token_id", writer.add_eos_token_id),
                     ("unk_token_id", writer.add_unk_token_id), ("pad_token_id", writer.add_pad_token_id)):
        value = getattr(tokenizer, key, None)
        if isinstance(value, int):
            add(value)
    probe = tokenizer("a")["input_ids"]  # what the tokenizer adds around plain text, as it stands
    writer.add_add_bos_token(tokenizer.bos_token_id is not None and probe[:1] == [tokenizer.bos_token_id])
    writer.add_add_eos_token(tokenizer.eos_token_id is not None and len(probe) > 1 and probe[-1] == tokenizer.eos_token_id)


def _byte_level(spec: dict) -> bool:
    return "ByteLevel" in json.dumps(spec.get("pre_tokenizer")) or (spec.get("decoder") or {}).get("type") == "ByteLevel"


def pre_tokenizer_name(pre: dict | None) -> str:
    """llama.cpp's name (`tokenizer.ggml.pre`) for how this tokenizer splits text before BPE."""
    steps = pre.get("pretokenizers", []) if pre and pre.get("type") == "Sequence" else [pre] if pre else []
    kinds = [s.get("type") for s in steps]
    if kinds == ["ByteLevel"] and steps[0].get("use_regex", True):
        return "gpt-2"
    if kinds == ["Digits", "ByteLevel"] and steps[0].get("individual_digits") and steps[1].get("use_regex", True):
        return "smollm"
    if kinds == ["Split", "ByteLevel"]:
        regex = (steps[0].get("pattern") or {}).get("Regex")
        known = {_QWEN2_SPLIT: "qwen2", _LLAMA3_SPLIT: "llama-bpe"}
        if regex in known:
            return known[regex]
    raise HarnessError(f"GGUF export: the tokenizer's pre-tokenizer ({' + '.join(map(str, kinds)) or 'none'}) is not one "
                       "llama.cpp knows by name here (GPT-2, SmolLM, Qwen2, Llama 3); llama.cpp would split text differently")


# ---- reading back ---------------------------------------------------------------------------

def read_export_info(path: str | Path) -> dict | None:
    """`sft_harness.export` of a GGUF file (None for a file not written by `harness export`)."""
    value = read_string_field(path, EXPORT_KEY)
    return json.loads(value) if value else None


def read_string_field(path: str | Path, key: str) -> str | None:
    import gguf

    field = gguf.GGUFReader(str(path)).get_field(key)
    return None if field is None else field.contents()
