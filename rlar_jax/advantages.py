"""Advantage estimators, registered by name (``loss.advantage_estimator`` / ``GRPOConfig.advantage_estimator``).

Every estimator has the signature
``estimator(rewards, group_size, scale_rewards="group", eps=1e-4, expected=None) -> (advantages, valid)``
with rewards f32[B*G] laid out as contiguous groups of ``group_size`` completions of one prompt, and
returns advantages f32[B*G] and valid bool[B*G]. Non-finite rewards (NaN = failed scorer) are invalid:
they are left out of every statistic and get advantage 0. The trainer jits the estimator with
``group_size`` and ``scale_rewards`` static.

- ``grpo``: A = (r - group mean) / (std + eps), the group-relative advantage of DeepSeekMath GRPO.
- ``rloo``: A = r - mean of the *other* valid rewards of the group (REINFORCE leave-one-out), scaled by
  the same std as ``grpo``; ``scale_rewards: none`` gives the plain leave-one-out advantage.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from rlar_jax.registry import Registry

AdvantageFn = Callable[..., tuple[jax.Array, jax.Array]]
SCALE_REWARDS = ("group", "batch", "none")

ADVANTAGES: Registry[AdvantageFn] = Registry("advantage estimator", "rlar_jax.advantages.register_advantage")


def register_advantage(name: str) -> Callable[[AdvantageFn], AdvantageFn]:
    """Decorator registering an advantage estimator under ``name`` in :data:`ADVANTAGES`; duplicates raise."""

    def deco(fn: AdvantageFn) -> AdvantageFn:
        return ADVANTAGES.add(name, fn, fn)

    return deco


def get_advantage(name: str) -> AdvantageFn:
    """The registered estimator ``name``; an unknown name raises ValueError listing the registered ones."""
    return ADVANTAGES.lookup(name, "advantage_estimator: ")


def grouped_rewards(rewards: jax.Array, group_size: int, scale_rewards: str = "group",
                    expected: int | None = None) -> tuple[jax.Array, jax.Array]:
    """Checked rewards as f32[B, G] and their validity bool[B, G] (finite). Shapes are never broadcast:
    a 1-D length that is not a multiple of G, or differs from ``expected``, raises ValueError naming both
    lengths; so does an unknown ``scale_rewards``."""
    if scale_rewards not in SCALE_REWARDS:
        raise ValueError(f"scale_rewards must be one of {list(SCALE_REWARDS)}, got {scale_rewards!r}")
    if not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be an int >= 1, got {group_size!r}")
    shape = jnp.shape(rewards)
    if len(shape) != 1:
        raise ValueError(f"rewards must be 1-D [B*G], got shape {shape}")
    n = shape[0]
    if expected is not None and n != expected:
        raise ValueError(f"rewards has length {n}, expected {expected} (B*G); refusing to broadcast")
    if n % group_size:
        raise ValueError(f"rewards length {n} is not a multiple of group_size {group_size}")
    r = jnp.asarray(rewards, jnp.float32).reshape(-1, group_size)
    return r, jnp.isfinite(r)


@register_advantage("grpo")
def group_advantages(
    rewards: jax.Array,
    group_size: int,
    scale_rewards: str = "group",
    eps: float = 1e-4,
    expected: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Group-relative advantages for rewards f32[B*G] laid out as contiguous groups of ``group_size``.

    A = (r - group mean) / (std + eps), std being the group's ("group"), the batch's ("batch") or 1
    with eps 0 ("none"). std is the *sample* std (ddof=1, as torch.std in TRL); a group (or batch) with
    fewer than 2 valid rewards has std 0. Non-finite rewards (NaN = failed scorer) are left out of every
    statistic, get advantage 0 and ``valid`` False; an all-failed group thus contributes nothing.
    Shapes are never broadcast: a 1-D length that is not a multiple of G, or differs from ``expected``,
    raises ValueError naming both lengths. Returns (advantages f32[B*G], valid bool[B*G]).
    """
    r, valid = grouped_rewards(rewards, group_size, scale_rewards, expected)
    r0 = jnp.where(valid, r, 0.0)
    cnt = valid.sum(-1, keepdims=True).astype(jnp.float32)
    mean = r0.sum(-1, keepdims=True) / jnp.maximum(cnt, 1.0)
    centred = jnp.where(valid, r0 - mean, 0.0)
    if scale_rewards == "group":
        std = _sample_std(centred, cnt)
    elif scale_rewards == "batch":
        nb = cnt.sum()
        bmean = r0.sum() / jnp.maximum(nb, 1.0)
        std = _sample_std(jnp.where(valid, r0 - bmean, 0.0).reshape(-1), nb)
    else:
        std, eps = jnp.float32(1.0), 0.0
    adv = jnp.where(valid, centred / (std + eps), 0.0)
    return adv.reshape(-1), valid.reshape(-1)


def _sample_std(centred: jax.Array, count: jax.Array) -> jax.Array:
    ss = jnp.sum(centred * centred, axis=-1, keepdims=centred.ndim > 1)
    return jnp.where(count >= 2, jnp.sqrt(ss / jnp.maximum(count - 1.0, 1.0)), 0.0)


@register_advantage("rloo")
def rloo_advantages(
    rewards: jax.Array,
    group_size: int,
    scale_rewards: str = "group",
    eps: float = 1e-4,
    expected: int | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Leave-one-out advantages: A_i = r_i - mean of the other valid rewards of i's group, divided by
    the std that :func:`group_advantages` uses for ``scale_rewards`` (plus ``eps``; "none": not scaled).

    With n valid rewards in the group, r_i - (sum - r_i) / (n - 1) = n / (n - 1) * (r_i - mean), so
    this is the group-relative advantage times n / (n - 1). A reward with no valid neighbour (n = 1)
    has no baseline and gets advantage 0, as do invalid (non-finite) rewards. Same checks and returns
    as :func:`group_advantages`.
    """
    adv, valid = group_advantages(rewards, group_size, scale_rewards, eps, expected)
    n = valid.reshape(-1, group_size).sum(-1, keepdims=True).astype(jnp.float32)
    loo = jnp.where(n >= 2, n / jnp.maximum(n - 1.0, 1.0), 0.0)
    return (adv.reshape(-1, group_size) * loo).reshape(-1), valid
