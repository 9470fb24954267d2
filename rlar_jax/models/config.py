"""Model configuration read from a Hugging Face `config.json` (llama family, qwen2, qwen3)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import jax.numpy as jnp

# model_type -> (q/k/v bias, q/k RMSNorm). Mistral-style configs share the llama layout.
_ARCHS: dict[str, tuple[bool, bool]] = {
    "llama": (False, False),
    "mistral": (False, False),
    "qwen2": (True, False),
    "qwen3": (False, True),
}
# The architectures this package runs: the GGUF reader and the reward-model hub search accept these too.
ARCHITECTURES: tuple[str, ...] = tuple(_ARCHS)
_HEADS = ("ForCausalLM", "ForSequenceClassification")


class UnsupportedModelError(ValueError):
    """The checkpoint's architecture or an option in its config is not supported."""


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Shape and numerics of a decoder-only transformer.

    Every field mirrors a Hugging Face config key (named in the comment) so a checkpoint's
    `config.json` maps onto it one to one.
    """

    arch: str  # model_type: llama | mistral | qwen2 | qwen3
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int  # num_hidden_layers
    num_heads: int  # num_attention_heads
    num_kv_heads: int  # num_key_value_heads (GQA when < num_heads)
    head_dim: int  # head_dim, else hidden_size // num_heads
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: tuple[tuple[str, Any], ...] | None = None  # rope_scaling dict, frozen as items
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    attention_bias: bool = False  # qwen2: bias on q/k/v projections
    qk_norm: bool = False  # qwen3: RMSNorm on each q/k head before RoPE
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = ()
    pad_token_id: int | None = None
    num_labels: int = 1  # sequence-classification heads
    dtype: str = "float32"  # activation dtype
    param_dtype: str = "float32"
    remat: bool = False  # rematerialise each layer in the backward pass
    frozen_layers: int = 0  # the lowest N layers get no gradient (no backward, no saved activations)

    @property
    def compute_dtype(self) -> jnp.dtype:
        """Activation dtype as a jnp dtype."""
        return jnp.dtype(self.dtype)

    @property
    def weight_dtype(self) -> jnp.dtype:
        """Parameter dtype as a jnp dtype."""
        return jnp.dtype(self.param_dtype)

    @property
    def rope_scaling_dict(self) -> dict[str, Any] | None:
        """`rope_scaling` as the dict found in config.json."""
        return dict(self.rope_scaling) if self.rope_scaling else None

    def replace(self, **changes: Any) -> "ModelConfig":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_hf_dict(cls, d: dict[str, Any], *, source: str = "config.json", **overrides: Any) -> "ModelConfig":
        """Build from a parsed Hugging Face config; `source` names the file in error messages."""
        model_type = d.get("model_type")
        if model_type not in _ARCHS:
            raise UnsupportedModelError(
                f"{source}: model_type {model_type!r} is not supported; expected one of {sorted(_ARCHS)}"
            )
        for arch_name in d.get("architectures") or []:
            if not arch_name.endswith(_HEADS):
                raise UnsupportedModelError(
                    f"{source}: architecture {arch_name!r} is not supported; expected a *ForCausalLM or "
                    "*ForSequenceClassification model"
                )
        if d.get("use_sliding_window"):
            raise UnsupportedModelError(f"{source}: use_sliding_window=true is not supported (full attention only)")
        bias, qk_norm = _ARCHS[model_type]
        required = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")
        missing = [k for k in required if k not in d]
        if missing:
            raise ValueError(f"{source}: missing required keys {missing}")
        num_heads = int(d["num_attention_heads"])
        # transformers 5 writes rope_theta and any scaling into `rope_parameters`; older files use
        # top-level `rope_theta` and `rope_scaling`.
        rope_params = dict(d.get("rope_parameters") or {})
        rope_theta = d.get("rope_theta", rope_params.pop("rope_theta", 10000.0))
        rope_scaling = d.get("rope_scaling") or rope_params or None
        if rope_scaling is not None:
            kind = rope_scaling.get("rope_type", rope_scaling.get("type"))
            if kind not in ("llama3", "linear", "default"):
                raise UnsupportedModelError(
                    f"{source}: rope_scaling type {kind!r} is not supported; expected llama3, linear or default"
                )
            if kind == "default":
                rope_scaling = None
            else:
                rope_scaling = {k: v for k, v in rope_scaling.items() if k != "rope_theta"}
        eos = d.get("eos_token_id")
        eos_ids = tuple(eos) if isinstance(eos, (list, tuple)) else (() if eos is None else (int(eos),))
        fields = dict(
            arch=model_type,
            vocab_size=int(d["vocab_size"]),
            hidden_size=int(d["hidden_size"]),
            intermediate_size=int(d["intermediate_size"]),
            num_layers=int(d["num_hidden_layers"]),
            num_heads=num_heads,
            num_kv_heads=int(d.get("num_key_value_heads") or num_heads),
            head_dim=int(d.get("head_dim") or d["hidden_size"] // num_heads),
            rms_norm_eps=float(d.get("rms_norm_eps", 1e-6)),
            rope_theta=float(rope_theta),
            rope_scaling=tuple(sorted(rope_scaling.items())) if rope_scaling else None,
            max_position_embeddings=int(d.get("max_position_embeddings", 2048)),
            tie_word_embeddings=bool(d.get("tie_word_embeddings", False)),
            attention_bias=bool(d.get("attention_bias", bias)),
            qk_norm=qk_norm,
            bos_token_id=d.get("bos_token_id"),
            eos_token_ids=eos_ids,
            pad_token_id=d.get("pad_token_id"),
            num_labels=int(d.get("num_labels", len(d.get("id2label") or {}) or 2)),  # HF default: 2 labels
        )
        if model_type == "qwen2":  # qwen2 always has q/k/v bias; its config has no attention_bias key
            fields["attention_bias"] = True
        fields.update(overrides)
        cfg = cls(**fields)
        if cfg.num_heads % cfg.num_kv_heads:
            raise ValueError(
                f"{source}: num_attention_heads ({cfg.num_heads}) must be a multiple of "
                f"num_key_value_heads ({cfg.num_kv_heads})"
            )
        return cfg

    @classmethod
    def from_json_file(cls, path: str | Path, **overrides: Any) -> "ModelConfig":
        """Read a Hugging Face `config.json`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"model config not found: {path}")
        return cls.from_hf_dict(json.loads(path.read_text()), source=str(path), **overrides)

    def to_hf_dict(self, head: str = "ForCausalLM") -> dict[str, Any]:
        """The equivalent Hugging Face config dict (for export)."""
        prefix = {"llama": "Llama", "mistral": "Mistral", "qwen2": "Qwen2", "qwen3": "Qwen3"}[self.arch]
        d: dict[str, Any] = dict(
            architectures=[prefix + head],
            model_type=self.arch,
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers,
            num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads,
            head_dim=self.head_dim,
            rms_norm_eps=self.rms_norm_eps,
            rope_theta=self.rope_theta,
            rope_scaling=self.rope_scaling_dict,
            # transformers 5 reads RoPE settings from here; older versions from the two keys above.
            rope_parameters={"rope_type": "default", **(self.rope_scaling_dict or {}), "rope_theta": self.rope_theta},
            max_position_embeddings=self.max_position_embeddings,
            tie_word_embeddings=self.tie_word_embeddings,
            hidden_act="silu",
            torch_dtype=self.param_dtype,
        )
        if self.arch in ("llama", "mistral"):
            d["attention_bias"] = self.attention_bias
            d["mlp_bias"] = False
        if self.bos_token_id is not None:
            d["bos_token_id"] = self.bos_token_id
        if self.eos_token_ids:
            d["eos_token_id"] = list(self.eos_token_ids) if len(self.eos_token_ids) > 1 else self.eos_token_ids[0]
        if self.pad_token_id is not None:
            d["pad_token_id"] = self.pad_token_id
        if head == "ForSequenceClassification":
            d["num_labels"] = self.num_labels
        return d
