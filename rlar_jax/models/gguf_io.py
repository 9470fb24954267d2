"""GGUF (llama.cpp) checkpoints: config from metadata, dequantized tensors under Hugging Face names.

llama.cpp renames tensors (`blk.N.attn_q.weight`, ...) and, for the llama architecture, permutes the
rows of q/k so its RoPE can rotate adjacent pairs; both are undone here, so the tensors feed the same
key map (`params.py`) as a safetensors checkpoint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from gguf.quants import dequantize

from rlar_jax.models.config import ARCHITECTURES, ModelConfig, UnsupportedModelError

_TOP = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
    "output.weight": "lm_head.weight",
}
_BLOCK = {
    "attn_norm.weight": "input_layernorm.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_q.bias": "self_attn.q_proj.bias",
    "attn_k.bias": "self_attn.k_proj.bias",
    "attn_v.bias": "self_attn.v_proj.bias",
    "attn_output.weight": "self_attn.o_proj.weight",
    "attn_q_norm.weight": "self_attn.q_norm.weight",
    "attn_k_norm.weight": "self_attn.k_norm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}
_BLK = re.compile(r"blk\.(\d+)\.(.+)")


def hf_name(gguf_name: str) -> str:
    """The Hugging Face name of a llama.cpp tensor name (unknown names are returned unchanged)."""
    if gguf_name in _TOP:
        return _TOP[gguf_name]
    m = _BLK.fullmatch(gguf_name)
    if m and m.group(2) in _BLOCK:
        return f"model.layers.{m.group(1)}.{_BLOCK[m.group(2)]}"
    return gguf_name


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """Undo llama.cpp's `permute` of q/k rows ([n_head * head_dim, ...]) back to the HF order."""
    half = w.shape[0] // n_head // 2
    return w.reshape(n_head, half, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's `permute` of q/k rows (HF order -> interleaved pairs), the inverse of `unpermute_qk`."""
    half = w.shape[0] // n_head // 2
    return w.reshape(n_head, 2, half, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def read_metadata(reader: gguf.GGUFReader) -> dict[str, Any]:
    """Every scalar/string metadata field (large arrays such as the vocabulary are skipped)."""
    out: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key not in ("tokenizer.ggml.model", "tokenizer.ggml.pre") \
                and len(field.data) > 1:
            continue
        out[key] = field.contents()
    return out


def config_from_gguf(reader: gguf.GGUFReader, source: str, **overrides: Any) -> ModelConfig:
    """`ModelConfig` from GGUF metadata (`{arch}.block_count`, `{arch}.embedding_length`, ...)."""
    meta = read_metadata(reader)
    arch = meta.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise UnsupportedModelError(f"{source}: GGUF architecture {arch!r} is not supported; expected one of "
                                    f"{list(ARCHITECTURES)}")
    names = {t.name for t in reader.tensors}
    if "rope_freqs.weight" in names:
        raise UnsupportedModelError(f"{source}: per-frequency RoPE factors (rope_freqs.weight) are not supported")

    def need(key: str) -> Any:
        full = f"{arch}.{key}"
        if full not in meta:
            raise ValueError(f"{source}: GGUF metadata has no {full!r}")
        return meta[full]

    heads = int(need("attention.head_count"))
    hidden = int(need("embedding_length"))
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    vocab = len(tokens.data) if tokens is not None else int(need("vocab_size"))
    hf: dict[str, Any] = {
        "model_type": arch,
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": int(need("feed_forward_length")),
        "num_hidden_layers": int(need("block_count")),
        "num_attention_heads": heads,
        "num_key_value_heads": int(meta.get(f"{arch}.attention.head_count_kv", heads)),
        "head_dim": int(meta.get(f"{arch}.attention.key_length", hidden // heads)),
        "rms_norm_eps": float(need("attention.layer_norm_rms_epsilon")),
        "rope_theta": float(meta.get(f"{arch}.rope.freq_base", 10000.0)),
        "max_position_embeddings": int(meta.get(f"{arch}.context_length", 2048)),
        "tie_word_embeddings": "output.weight" not in names,
        "bos_token_id": meta.get("tokenizer.ggml.bos_token_id"),
        "eos_token_id": meta.get("tokenizer.ggml.eos_token_id"),
        "pad_token_id": meta.get("tokenizer.ggml.padding_token_id"),
    }
    scaling = meta.get(f"{arch}.rope.scaling.type")
    if scaling not in (None, "none"):
        if scaling != "linear":
            raise UnsupportedModelError(f"{source}: GGUF rope scaling {scaling!r} is not supported; expected linear")
        hf["rope_scaling"] = {"rope_type": "linear", "factor": float(need("rope.scaling.factor"))}
    return ModelConfig.from_hf_dict(hf, source=source, **overrides)


class GGUFSource:
    """Tensors of a GGUF file under Hugging Face names, dequantized to float32 on demand."""

    def __init__(self, path: str | Path, cfg: ModelConfig, reader: gguf.GGUFReader | None = None):
        self.path = Path(path)
        self.reader = reader or gguf.GGUFReader(self.path)
        self.cfg = cfg
        self.tensors = {hf_name(t.name): t for t in self.reader.tensors}

    def keys(self) -> list[str]:
        """Every tensor name (HF naming)."""
        return list(self.tensors)

    def shape(self, key: str) -> tuple[int, ...]:
        """HF (row-major) shape: GGUF lists dimensions innermost first."""
        return tuple(int(n) for n in reversed(self.tensors[key].shape))

    def get(self, key: str) -> np.ndarray:
        """One tensor, dequantized, with llama q/k rows back in HF order."""
        t = self.tensors[key]
        w = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(self.shape(key))
        if np.may_share_memory(w, t.data):
            # A float32 tensor comes back as a view of the memory-mapped file; JAX on CPU may keep that
            # buffer without copying, which would pin the whole mapping (~100 MB resident) for the run.
            w = w.copy()
        if self.cfg.arch == "llama":
            if key.endswith("self_attn.q_proj.weight"):
                w = unpermute_qk(w, self.cfg.num_heads)
            elif key.endswith("self_attn.k_proj.weight"):
                w = unpermute_qk(w, self.cfg.num_kv_heads)
        return w

    def describe(self) -> str:
        """The file path."""
        return str(self.path)
