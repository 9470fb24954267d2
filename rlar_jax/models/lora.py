"""LoRA adapters on the decoder's projection weights, built from `flax.nnx.LoRA`.

The decoder keeps each projection as one stacked weight [layers, *in, *out] (`transformer.Blocks`). The
adapter of weight `name` is one `nnx.LoRA(in, rank, out)` per layer, created under `nnx.vmap`, so its
A [layers, in, rank] and B [layers, rank, out] stack like the weight and ride along the layer scan;
`transformer.project` adds `alpha / rank * LoRA(x)` to the frozen projection. B starts at zero: a fresh
adapter leaves the model's outputs unchanged.

Only adapter parameters (`nnx.LoRAParam`) are trained: `trainable_filter` selects them for the train step
and the optimizer, and the base weights pass through the step as constants. The KL reference is the same
model with zero adapters (`reference_params`), not a second copy of the weights. Rollouts sample with a
merged copy (`merged_model`: W + alpha/rank * A @ B per layer, once per update), so decoding costs what it
costs without adapters; the same merge writes `models export --merge-lora`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

# Hugging Face (PEFT) module names -> our stacked weight, and how many of its axes after `layers` are inputs.
HF_TARGETS = {"q_proj": "wq", "k_proj": "wk", "v_proj": "wv", "o_proj": "wo",
              "gate_proj": "w_gate", "up_proj": "w_up", "down_proj": "w_down"}
N_IN = {"wq": 1, "wk": 1, "wv": 1, "wo": 2, "w_gate": 1, "w_up": 1, "w_down": 1}
ALL_LINEAR = "all-linear"  # PEFT's shorthand: every projection of attention and MLP


@dataclasses.dataclass(frozen=True)
class LoraSpec:
    """Adapter shape: rank r, scale alpha / r, and the stacked weights (keys of N_IN) that get one."""

    rank: int
    alpha: float
    targets: tuple[str, ...]

    @property
    def scale(self) -> float:
        """The factor on the adapter's output."""
        return self.alpha / self.rank


def resolve_targets(targets: Sequence[str], field: str = "model.lora.targets") -> tuple[str, ...]:
    """Our weight names for `targets` given as PEFT module names (q_proj, ..., down_proj), our own names
    (wq, ..., w_down) or "all-linear". A name that matches no projection raises ValueError naming
    `field` and the valid names; so does an empty list."""
    if isinstance(targets, str):
        targets = [targets]
    out: list[str] = []
    for t in targets:
        names = list(N_IN) if t == ALL_LINEAR else [HF_TARGETS.get(t, t)]
        for name in names:
            if name not in N_IN:
                raise ValueError(f"{field}: {t!r} matches no module; expected {ALL_LINEAR!r} or some of "
                                 f"{sorted(HF_TARGETS)} (or {sorted(N_IN)})")
            if name not in out:
                out.append(name)
    if not out:
        raise ValueError(f"{field} must name at least one module, got an empty list")
    return tuple(out)


class LayerAdapters(nnx.Module):
    """One layer's adapters: an `nnx.LoRA` per target weight (attribute = the weight's name)."""

    def __init__(self, features: dict[str, tuple[int, int]], rank: int, scale: float, compute_dtype: Any,
                 param_dtype: Any, *, rngs: nnx.Rngs):
        self.scale = scale
        for name, (n_in, n_out) in features.items():
            axes = {"logical_axes": ("layers", None, None)}  # small: replicated, stacked over layers
            setattr(self, name, nnx.LoRA(n_in, rank, n_out, dtype=compute_dtype, param_dtype=param_dtype,
                                         rngs=rngs, a_metadata=axes, b_metadata=axes))


def _features(weight: jax.Array, n_in: int) -> tuple[int, int]:
    """(in, out) features of a stacked weight [layers, *in, *out] seen as a 2-D projection."""
    shape = weight.shape[1:]
    return math.prod(shape[:n_in]), math.prod(shape[n_in:])


def add_lora(model: nnx.Module, spec: LoraSpec, seed: int = 0, param_dtype: Any = jnp.float32) -> nnx.Module:
    """Attach fresh adapters (B = 0) for `spec.targets` to a CausalLM in place; returns it. A is drawn
    from `seed` (PEFT's default He-uniform); adapters are held in `param_dtype` (float32 by default, also
    for bf16 base weights: they are what the optimizer updates)."""
    if not isinstance(spec.rank, int) or isinstance(spec.rank, bool) or spec.rank < 1:
        raise ValueError(f"model.lora.rank must be an int >= 1, got {spec.rank!r}")
    blocks = model.model.blocks
    if hasattr(blocks, "lora"):
        raise ValueError("the model already has LoRA adapters")
    feats = {name: _features(getattr(blocks, name)[...], N_IN[name]) for name in spec.targets}
    cfg = model.cfg

    @nnx.vmap(in_axes=0, out_axes=0)
    def make(key: jax.Array) -> LayerAdapters:
        return LayerAdapters(feats, spec.rank, spec.scale, cfg.compute_dtype, param_dtype, rngs=nnx.Rngs(params=key))

    blocks.lora = make(jax.random.split(jax.random.key(seed), cfg.num_layers))
    return model


def adapters(model: nnx.Module) -> LayerAdapters | None:
    """The stacked adapters of a CausalLM (None without LoRA)."""
    return getattr(model.model.blocks, "lora", None)


def trainable_filter(model: nnx.Module) -> Any:
    """The nnx filter of the parameters an update changes: the adapters under LoRA, else every Param."""
    return nnx.LoRAParam if adapters(model) is not None else nnx.Param


def reference_params(params: nnx.State) -> nnx.State:
    """The KL reference under LoRA: the adapter state with every adapter off (B = 0, so A @ B = 0)."""
    return jax.tree.map(jnp.zeros_like, params)


@functools.partial(jax.jit, static_argnames=("scale",))
def _merge(weights: tuple[jax.Array, ...], factors: tuple[tuple[jax.Array, jax.Array], ...],
           scale: float) -> tuple[jax.Array, ...]:
    """W + scale * A @ B per layer for each stacked weight, in float32, back in W's dtype."""
    out = []
    for w, (a, b) in zip(weights, factors):
        delta = jnp.einsum("lir,lro->lio", a.astype(jnp.float32), b.astype(jnp.float32))
        out.append((w.astype(jnp.float32) + scale * delta.reshape(w.shape)).astype(w.dtype))
    return tuple(out)


def merged_model(model: nnx.Module) -> nnx.Module:
    """A model without adapters whose projections hold W + alpha/r * A @ B (new arrays for the merged
    weights, the others shared); `model` itself is unchanged. A model without adapters comes back as is."""
    lora = adapters(model)
    if lora is None:
        return model
    graphdef, state = nnx.split(model)
    clone = nnx.merge(graphdef, state, copy=True)  # new Variables: setting them leaves `model` alone
    blocks = clone.model.blocks
    names = tuple(n for n in N_IN if hasattr(lora, n))
    weights = tuple(getattr(blocks, n)[...] for n in names)
    factors = tuple((getattr(lora, n).lora_a[...], getattr(lora, n).lora_b[...]) for n in names)
    merged = _merge(weights, factors, scale=float(lora.scale))
    for n, w in zip(names, merged):
        getattr(blocks, n).set_value(w)
    del blocks.lora
    return clone


def lora_param_count(model: nnx.Module) -> int:
    """Number of adapter parameters (0 without LoRA)."""
    lora = adapters(model)
    return 0 if lora is None else sum(x.size for x in jax.tree.leaves(nnx.state(lora, nnx.LoRAParam)))
