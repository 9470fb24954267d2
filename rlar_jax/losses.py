"""GRPO policy losses, registered by name.

Every loss has the signature
``loss(logp, old_logp, ref_logp, advantages, mask, cfg) -> (loss_sum, denominator, aux)``
with ``logp``/``old_logp``/``ref_logp``/``mask`` of shape ``[N, T]`` and ``advantages`` of shape ``[N]``.
The built-in losses also take ``is_weight`` (rollout importance weights), passed only when the rollout
correction is on, so losses registered with the six arguments keep working.
The batch loss is ``loss_sum / denominator``; when both are sums over samples (``row_additive``, below),
adding them up over micro-batches and dividing once at the end gives exactly the full-batch value
(gradient accumulation without bias). ``aux`` maps a metric name to a ``(sum, count)`` pair that is
summed over micro-batches the same way.

Normalisations (N_valid = sequences with at least one unmasked token, L_max = max_completion_length):

- ``grpo``: mean over valid sequences of the per-sequence token mean. sum = sum of sequence means,
  denominator = N_valid.
- ``dr_grpo``: token-loss sum / (N_valid * L_max), a length-independent constant normaliser.
- ``dapo``: token mean over all valid tokens of the whole (accumulated) batch.
- ``bnpo``: token mean over the valid tokens of each *micro-batch*, then mean over the micro-batches
  that have any valid token (TRL's "active tokens in the local batch"). sum = local token mean,
  denominator = 1 per non-empty micro-batch. With one micro-batch it equals ``dapo``; with several it
  weights micro-batches equally regardless of their token counts, which ``dapo`` does not.

Invalid samples (failed reward, masked truncation) are removed by the caller zeroing their mask rows.

Each loss is registered with its metadata (:class:`LossSpec`). ``row_additive``: the loss sum and the
denominator are sums of per-row terms, and a row whose advantage is zero adds nothing to the sum when
there is no KL term. Splitting the batch into micro-batches is then exact, and so is leaving the
zero-advantage rows out of the update as long as their denominator is added back (grpo, dr_grpo, dapo;
not bnpo, whose denominator counts micro-batches). Whether there is a KL term is a property of the
config (``GRPOConfig.needs_reference``), not of the loss.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Protocol

import jax
import jax.numpy as jnp

from rlar_jax.registry import Registry

Aux = dict[str, tuple[jax.Array, jax.Array]]
LossFn = Callable[..., tuple[jax.Array, jax.Array, Aux]]
KL_ESTIMATORS = ("k1", "k3")


class LossConfig(Protocol):
    """The settings the built-in losses read (read-only); rlar_jax.grpo_config.GRPOConfig has them.
    Declared here so that this registry imports no config module: GRPOConfig checks loss names against it."""

    @property
    def epsilon_low(self) -> float: ...
    @property
    def epsilon_high(self) -> float: ...
    @property
    def dual_clip(self) -> float | None: ...
    @property
    def beta(self) -> float: ...
    @property
    def kl_estimator(self) -> str: ...
    @property
    def max_completion_length(self) -> int: ...
    @property
    def needs_reference(self) -> bool: ...


@dataclasses.dataclass(frozen=True)
class LossSpec:
    """A registered loss: its function and what the update may assume about it (see the module doc)."""

    name: str
    fn: LossFn
    row_additive: bool


LOSSES: Registry[LossSpec] = Registry("loss", "rlar_jax.losses.register_loss")  # get_loss(name): its function


def register_loss(name: str, *, row_additive: bool) -> Callable[[LossFn], LossFn]:
    """Decorator registering a loss function under ``name`` in :data:`LOSSES`, with ``row_additive`` as
    defined in the module doc (False is always safe: the update then never leaves rows out and runs the
    full passes on an all-zero-advantage batch). A duplicate name raises ValueError."""
    if not isinstance(row_additive, bool):
        raise TypeError(f"register_loss({name!r}): row_additive must be a bool, got {row_additive!r}")

    def deco(fn: LossFn) -> LossFn:
        LOSSES.add(name, LossSpec(name, fn, row_additive), fn)
        return fn

    return deco


def loss_spec(name: str) -> LossSpec:
    """The registration of loss ``name``; an unknown name raises ValueError listing the registered ones."""
    return LOSSES.lookup(name, "loss_type: ")


def get_loss(name: str) -> LossFn:
    """The registered loss function ``name``; an unknown name raises ValueError listing the registered ones."""
    return loss_spec(name).fn


def row_additive_losses() -> list[str]:
    """Names of the registered row-additive losses, in registration order."""
    return [name for name, spec in LOSSES.items() if spec.row_additive]


def _check_shapes(logp, old_logp, ref_logp, advantages, mask) -> None:
    if logp.ndim != 2:
        raise ValueError(f"logp must be [N, T], got shape {logp.shape}")
    for field, arr in (("old_logp", old_logp), ("ref_logp", ref_logp), ("mask", mask)):
        if arr is not None and arr.shape != logp.shape:
            raise ValueError(f"{field} must have the shape of logp {logp.shape}, got {arr.shape}")
    if advantages.shape != logp.shape[:1]:
        raise ValueError(f"advantages must be [N]={logp.shape[:1]}, got {advantages.shape}")


def token_losses(
    logp: jax.Array,
    old_logp: jax.Array,
    ref_logp: jax.Array | None,
    advantages: jax.Array,
    mask: jax.Array,
    cfg: LossConfig,
    is_weight: jax.Array | None = None,
) -> tuple[jax.Array, Aux]:
    """Per-token clipped surrogate (+ dual clip, + beta * KL) as f32[N, T], zero where ``mask`` is 0.

    ratio = exp(logp - old_logp); pg = -min(ratio * A, clip(ratio, 1 - eps_low, 1 + eps_high) * A);
    for A < 0 with ``cfg.dual_clip`` = c: pg = min(pg, -c * A). ``is_weight`` f32[N, T] (rollout
    importance weights, see rlar_jax.rollout_correction) multiplies pg, not the KL term, under a stop
    gradient. KL (beta > 0): k1 = logp - ref, k3 = exp(ref - logp) - (ref - logp) - 1. Also returns the
    (sum, count) metrics.
    """
    _check_shapes(logp, old_logp, ref_logp, advantages, mask)
    if cfg.needs_reference and ref_logp is None:
        raise ValueError("cfg.beta > 0 needs ref_logp (reference-model log-probs), got None")
    logp = logp.astype(jnp.float32)
    on = mask > 0
    w = jnp.where(on, mask.astype(jnp.float32), 0.0)
    # Padding may hold arbitrary log-probs: zero them before exp so neither value nor grad is inf/NaN.
    log_ratio = jnp.where(on, logp - old_logp.astype(jnp.float32), 0.0)
    ratio = jnp.exp(log_ratio)
    adv = advantages.astype(jnp.float32)[:, None]
    lo, hi = 1.0 - cfg.epsilon_low, 1.0 + cfg.epsilon_high
    pg = -jnp.minimum(ratio * adv, jnp.clip(ratio, lo, hi) * adv)
    sg = jax.lax.stop_gradient
    aux: Aux = {}
    if cfg.dual_clip is not None:
        cap = -cfg.dual_clip * adv
        dual_hit = (adv < 0) & (pg > cap) & on
        pg = jnp.where(adv < 0, jnp.minimum(pg, cap), pg)
        aux["clip_dual"] = dual_hit
    if is_weight is not None:
        pg = pg * sg(is_weight.astype(jnp.float32))
    tok = pg
    kl = None
    if ref_logp is not None:
        d = jnp.where(on, ref_logp.astype(jnp.float32) - logp, 0.0)
        kl = -d if cfg.kl_estimator == "k1" else jnp.exp(d) - d - 1.0
        if cfg.beta > 0:
            tok = tok + cfg.beta * kl
    tok = jnp.where(on, tok * w, 0.0)

    count = sg(w.sum())
    low = (ratio < lo) & (adv < 0) & on
    high = (ratio > hi) & (adv > 0) & on
    flags = {"clip_low": low, "clip_high": high, "clip_region": low | high, **aux}
    out: Aux = {k: (sg(jnp.sum(v * w)), count) for k, v in flags.items()}
    out["ratio"] = (sg(jnp.sum(ratio * w)), count)
    if kl is not None:
        out["kl"] = (sg(jnp.sum(kl * w)), count)
    return tok, out


def _seq_valid(mask: jax.Array) -> jax.Array:
    return (mask > 0).any(axis=-1)


@register_loss("grpo", row_additive=True)
def grpo_loss(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight=None):
    """Per-sequence token mean, then mean over valid sequences (DeepSeekMath GRPO)."""
    tok, aux = token_losses(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight)
    ntok = jnp.where(mask > 0, mask, 0).astype(jnp.float32).sum(-1)
    seq_mean = tok.sum(-1) / jnp.maximum(ntok, 1.0)
    return seq_mean.sum(), _seq_valid(mask).sum().astype(jnp.float32), aux


@register_loss("dr_grpo", row_additive=True)
def dr_grpo_loss(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight=None):
    """Token-loss sum over N_valid * max_completion_length (Dr. GRPO constant normaliser)."""
    if logp.shape[-1] > cfg.max_completion_length:
        raise ValueError(
            f"dr_grpo: completion axis T={logp.shape[-1]} exceeds "
            f"max_completion_length={cfg.max_completion_length}"
        )
    tok, aux = token_losses(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight)
    n_valid = _seq_valid(mask).sum().astype(jnp.float32)
    return tok.sum(), n_valid * float(cfg.max_completion_length), aux


@register_loss("dapo", row_additive=True)
def dapo_loss(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight=None):
    """Token mean over every valid token of the whole (accumulated) batch (DAPO token-level loss)."""
    tok, aux = token_losses(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight)
    return tok.sum(), jnp.where(mask > 0, mask, 0).astype(jnp.float32).sum(), aux


@register_loss("bnpo", row_additive=False)
def bnpo_loss(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight=None):
    """Token mean within this micro-batch; micro-batches then averaged with equal weight."""
    tok, aux = token_losses(logp, old_logp, ref_logp, advantages, mask, cfg, is_weight)
    ntok = jnp.where(mask > 0, mask, 0).astype(jnp.float32).sum()
    return tok.sum() / jnp.maximum(ntok, 1.0), (ntok > 0).astype(jnp.float32), aux
