"""One table between Hugging Face checkpoint keys and our parameter paths, used to load and to export.

Hugging Face stores one `[out, in]` matrix per layer (torch `Linear` layout); we store `[in, out]` with
attention projections split into heads and every block weight stacked along a leading `layers` axis.
Each rule names the HF key (with `{i}` for the layer index) and the kind of transform between the two
layouts; the transform is applied per layer and its inverse is used for export.
"""

from __future__ import annotations

import dataclasses
import enum

import numpy as np

from rlar_jax.models.config import ModelConfig


class Kind(enum.Enum):
    """How one HF tensor maps onto one (per-layer) parameter of ours."""

    COPY = "copy"  # same layout (norm scales, token embedding)
    LINEAR = "linear"  # [out, in] -> [in, out]
    HEADS_OUT = "heads_out"  # q/k/v: [N*hd, D] -> [D, N, hd]
    HEADS_IN = "heads_in"  # o_proj: [D, H*hd] -> [H, hd, D]
    BIAS_HEADS = "bias_heads"  # q/k/v bias: [N*hd] -> [N, hd]


@dataclasses.dataclass(frozen=True)
class Rule:
    """HF key template and layout transform for one of our parameters."""

    hf_key: str  # contains "{i}" when the parameter is stacked over layers
    kind: Kind

    @property
    def stacked(self) -> bool:
        """Whether our parameter has a leading `layers` axis (one HF tensor per layer)."""
        return "{i}" in self.hf_key

    def hf_keys(self, num_layers: int) -> list[str]:
        """The HF keys this parameter is assembled from, in layer order."""
        return [self.hf_key.format(i=i) for i in range(num_layers)] if self.stacked else [self.hf_key]


_L = "model.layers.{i}."
RULES: dict[str, Rule] = {
    "model.embed": Rule("model.embed_tokens.weight", Kind.COPY),
    "model.final_norm": Rule("model.norm.weight", Kind.COPY),
    "lm_head": Rule("lm_head.weight", Kind.LINEAR),
    "score": Rule("score.weight", Kind.LINEAR),
    "model.blocks.attn_norm": Rule(_L + "input_layernorm.weight", Kind.COPY),
    "model.blocks.mlp_norm": Rule(_L + "post_attention_layernorm.weight", Kind.COPY),
    "model.blocks.wq": Rule(_L + "self_attn.q_proj.weight", Kind.HEADS_OUT),
    "model.blocks.wk": Rule(_L + "self_attn.k_proj.weight", Kind.HEADS_OUT),
    "model.blocks.wv": Rule(_L + "self_attn.v_proj.weight", Kind.HEADS_OUT),
    "model.blocks.wo": Rule(_L + "self_attn.o_proj.weight", Kind.HEADS_IN),
    "model.blocks.bq": Rule(_L + "self_attn.q_proj.bias", Kind.BIAS_HEADS),
    "model.blocks.bk": Rule(_L + "self_attn.k_proj.bias", Kind.BIAS_HEADS),
    "model.blocks.bv": Rule(_L + "self_attn.v_proj.bias", Kind.BIAS_HEADS),
    "model.blocks.q_norm": Rule(_L + "self_attn.q_norm.weight", Kind.COPY),
    "model.blocks.k_norm": Rule(_L + "self_attn.k_norm.weight", Kind.COPY),
    "model.blocks.w_gate": Rule(_L + "mlp.gate_proj.weight", Kind.LINEAR),
    "model.blocks.w_up": Rule(_L + "mlp.up_proj.weight", Kind.LINEAR),
    "model.blocks.w_down": Rule(_L + "mlp.down_proj.weight", Kind.LINEAR),
}

# Checkpoint entries that carry no parameter: old RoPE buffers, and `lm_head.weight` written next to tied
# embeddings by some exporters (it equals the embedding then).
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)


def rule_for(path: str) -> Rule:
    """The rule for one of our parameter paths (dot-joined, e.g. "model.blocks.wq")."""
    try:
        return RULES[path]
    except KeyError:
        raise KeyError(f"no checkpoint mapping for parameter {path!r}; known: {sorted(RULES)}") from None


def hf_shape(kind: Kind, shape: tuple[int, ...]) -> tuple[int, ...]:
    """HF tensor shape for one layer of our parameter with (per-layer) `shape`."""
    if kind is Kind.COPY:
        return shape
    if kind is Kind.LINEAR:
        return shape[::-1]
    if kind is Kind.HEADS_OUT:  # [D, N, hd] -> [N*hd, D]
        return (shape[1] * shape[2], shape[0])
    if kind is Kind.HEADS_IN:  # [H, hd, D] -> [D, H*hd]
        return (shape[2], shape[0] * shape[1])
    return (shape[0] * shape[1],)  # BIAS_HEADS


def from_hf(kind: Kind, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One HF tensor in our per-layer layout `shape`."""
    if kind is Kind.COPY:
        return x
    if kind is Kind.LINEAR:
        return x.T
    if kind is Kind.HEADS_OUT:
        return x.T.reshape(shape)
    if kind is Kind.HEADS_IN:
        return x.T.reshape(shape)
    return x.reshape(shape)  # BIAS_HEADS


def to_hf(kind: Kind, x: np.ndarray) -> np.ndarray:
    """One per-layer parameter of ours in the HF layout (a contiguous array)."""
    if kind is Kind.COPY:
        out = x
    elif kind is Kind.LINEAR:
        out = x.T
    elif kind is Kind.HEADS_OUT:
        out = x.reshape(x.shape[0], -1).T
    elif kind is Kind.HEADS_IN:
        out = x.reshape(-1, x.shape[-1]).T
    else:
        out = x.reshape(-1)
    return np.ascontiguousarray(out)


def expected_hf_shapes(path: str, shape: tuple[int, ...], cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every HF key our parameter `path` of (full, stacked) `shape` needs, with its expected shape."""
    rule = rule_for(path)
    layer_shape = shape[1:] if rule.stacked else shape
    return {key: hf_shape(rule.kind, layer_shape) for key in rule.hf_keys(cfg.num_layers)}
