"""Mixed precision: float32 master weights and optimizer state, compute in `model.dtype` (bf16 on accelerators).

The transformer casts each weight to the activation dtype where it is used, so a model whose parameters
are float32 and whose `cfg.dtype` is bfloat16 already computes in bf16 while AdamW updates float32
weights (an update of 1e-6 survives; on bf16 weights it rounds away). Sampling reads every weight once
per decode step, so rollouts use a compute-dtype copy of the parameters instead (`ComputeCopy`): the
cast runs once per training step, not once per decode step, and halves the weight traffic of decoding.
The copy gives bitwise the same logits as the float32 model (the same cast, done earlier).
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rlar_jax.models.lora import adapters, merged_model


class PrecisionWarning(UserWarning):
    """The learning rate is too small for the parameter dtype: updates round away."""


def cast_floating(tree: Any, dtype: Any) -> Any:
    """`tree` with every floating-point leaf cast to `dtype` (other leaves unchanged)."""
    dt = jnp.dtype(dtype)
    return jax.tree.map(lambda x: x.astype(dt) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


@functools.lru_cache(maxsize=None)
def _jitted_cast(dtype: jnp.dtype) -> Any:
    """One jitted cast per dtype, shared by every ComputeCopy (compiled once per parameter layout)."""
    return jax.jit(functools.partial(cast_floating, dtype=dtype))


class ComputeCopy:
    """The model to sample with: `model` itself when its parameters are already in the compute dtype,
    else a copy of it with compute-dtype parameters, cast by one jitted call and reused until
    `invalidate()` (call it whenever the parameters change: after each update, after a restore). Under LoRA
    the copy also has the adapters merged into the weights, so decoding reads no adapters."""

    def __init__(self, model: nnx.Module):
        self.model = model
        self.dtype = jnp.dtype(model.cfg.dtype)
        self.lora = adapters(model) is not None  # LoRA: sample with the adapters merged into the weights
        self.needed = self.lora or any(jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != self.dtype
                                       for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
        self._copy: nnx.Module | None = None

    def get(self) -> nnx.Module:
        """The sampling model for the current parameters (cast now if they changed since the last call)."""
        if not self.needed:
            return self.model
        if self._copy is None:
            graphdef, params, rest = nnx.split(merged_model(self.model), nnx.Param, ...)
            if any(jnp.issubdtype(x.dtype, jnp.floating) and x.dtype != self.dtype for x in jax.tree.leaves(params)):
                params = _jitted_cast(self.dtype)(params)
            self._copy = nnx.merge(graphdef, params, rest)
        return self._copy

    def invalidate(self) -> None:
        """Drop the copy (its memory with it); the next `get` casts the current parameters."""
        self._copy = None


def min_learning_rate(params: Any, param_dtype: Any) -> float:
    """The smallest learning rate whose updates survive rounding in `param_dtype` for typical weights.

    Adam's step is about `lr` per element (the moments normalise the gradient), and a step below half the
    spacing of floats around |w| rounds back to w. That spacing is about eps(dtype) * |w|, so the rule is
    lr_min = eps / 2 * mean |w| over the matrices (>= 2-D parameters): 2^-8 * mean|w| in bfloat16
    (eps 2^-7), about 6e-5 for weights of std 0.02; 2^-24 * mean|w| in float32 (negligible). Norm
    scales near 1 are left out: in bf16 they need lr > 2^-8 (about 4e-3) and stay frozen at usual rates.
    """
    leaves = [x for x in jax.tree.leaves(params) if jnp.ndim(x) >= 2 and jnp.issubdtype(x.dtype, jnp.floating)]
    if not leaves:
        return 0.0
    total = sum(float(jnp.sum(jnp.abs(x.astype(jnp.float32)))) for x in leaves)
    mean_abs = total / sum(x.size for x in leaves)
    return float(jnp.finfo(jnp.dtype(param_dtype)).eps) / 2 * mean_abs


def warn_if_lr_too_small(model: nnx.Module, learning_rate: float) -> str | None:
    """Warn (PrecisionWarning) and return the message when `learning_rate` is below `min_learning_rate`
    of the model's parameters in their dtype; else None. Float32 parameters are not checked (their floor,
    about 6e-8 x mean |w|, is far below any learning rate in use), nor LoRA models (the frozen base is never
    updated; the adapters are float32)."""
    params = nnx.state(model, nnx.Param)
    param_dtype = jnp.dtype(model.cfg.param_dtype)
    if param_dtype == jnp.float32 or adapters(model) is not None:  # LoRA: the frozen base is never updated
        return None
    floor = min_learning_rate(params, param_dtype)
    if learning_rate >= floor:
        return None
    message = (f"optim.learning_rate={learning_rate:g} is below {floor:.2g}, the smallest update a typical "
               f"weight keeps in model.param_dtype={param_dtype.name} (eps/2 x mean |w|): most updates will "
               "round away. Keep model.param_dtype: float32 (master weights) with model.dtype: bfloat16 for "
               "bf16 compute.")
    warnings.warn(message, PrecisionWarning, stacklevel=2)
    return message
