"""The sampler / trainer log-prob mismatch and truncated importance-sampling (TIS) correction.

Rollouts run on a compute-dtype (bf16) copy of the weights, the update on float32 master weights (and,
with `trainer.overlap_rewards`, one step later), so the sampler's log-probs differ from the trainer's.
The metrics measure that mismatch; the correction reweights each token's policy loss by

    w = min(exp(train_old_logp - sampler_logp), cap)                  (rollout_is: token)
    w = min(exp(sum over the sequence of the same difference), cap)   (rollout_is: sequence)

with the gradient stopped at w, as TRL's `vllm_importance_sampling_*` (truncate modes) and verl's
rollout correction (`rollout_is_threshold`) do.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ROLLOUT_IS = ("none", "token", "sequence")
# The sequence ratio metric exponentiates a sum over the sequence: bounded so the mean stays finite.
_MAX_LOG_RATIO = 50.0


def check_rollout_is(mode: str, cap: float, prefix: str = "") -> None:
    """ValueError naming the field when `mode` is not one of ROLLOUT_IS or `cap` is not > 0."""
    if mode not in ROLLOUT_IS:
        raise ValueError(f"{prefix}rollout_is must be one of {list(ROLLOUT_IS)}, got {mode!r}")
    if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
        raise ValueError(f"{prefix}rollout_is_cap must be a number > 0, got {cap!r}")


def rollout_is_weights(train_logp: jax.Array, sampler_logp: jax.Array, mask: jax.Array, mode: str,
                       cap: float) -> jax.Array:
    """f32[N, T] truncated importance weights (stop-gradient), 1 where `mask` is 0 or `mode` is "none".

    train_logp, sampler_logp: f32[N, T] log-probs of the sampled tokens under the trainer's params
    before the update and under the sampler; mask: [N, T], > 0 on the tokens of the loss.
    """
    check_rollout_is(mode, cap)
    on = mask > 0
    if mode == "none":
        return jnp.ones(on.shape, jnp.float32)
    d = jnp.where(on, train_logp.astype(jnp.float32) - sampler_logp.astype(jnp.float32), 0.0)
    if mode == "sequence":
        d = jnp.broadcast_to(d.sum(-1, keepdims=True), d.shape)
    # min(exp(d), cap) as exp(min(d, log cap)): no overflow for a long sequence's sum.
    w = jnp.exp(jnp.minimum(d, jnp.log(jnp.float32(cap))))
    return jax.lax.stop_gradient(jnp.where(on, w, 1.0))


def mismatch_metrics(train_logp: jax.Array, sampler_logp: jax.Array, mask: jax.Array, mode: str = "none",
                     cap: float = 2.0) -> dict[str, tuple[jax.Array, jax.Array]]:
    """(sum, count) pairs, summable over micro-batches like the losses' aux:

    rollout/logp_abs_diff: mean |train_logp - sampler_logp| over the loss tokens;
    rollout/seq_ratio: mean over sequences with a loss token of exp(sum of the differences), the
    sequence-level importance ratio (its log clipped to +-50). With `mode` token or sequence also
    rollout/is_weight: the mean weight over the loss tokens (see `rollout_is_weights`) and
    rollout/is_truncated: the fraction of them whose weight was cut at `cap`.
    """
    sg = jax.lax.stop_gradient
    on = mask > 0
    d = sg(jnp.where(on, train_logp.astype(jnp.float32) - sampler_logp.astype(jnp.float32), 0.0))
    tokens = on.sum().astype(jnp.float32)
    seqs = on.any(-1)
    seq_log = d.sum(-1)
    seq_ratio = jnp.exp(jnp.clip(seq_log, -_MAX_LOG_RATIO, _MAX_LOG_RATIO))
    out = {"rollout/logp_abs_diff": (jnp.abs(d).sum(), tokens),
           "rollout/seq_ratio": (jnp.where(seqs, seq_ratio, 0.0).sum(), seqs.sum().astype(jnp.float32))}
    if mode != "none":
        w = rollout_is_weights(train_logp, sampler_logp, mask, mode, cap)
        log_w = seq_log[:, None] if mode == "sequence" else d
        cut = on & (log_w >= jnp.log(jnp.float32(cap)))
        out["rollout/is_weight"] = (jnp.where(on, w, 0.0).sum(), tokens)
        out["rollout/is_truncated"] = (cut.sum().astype(jnp.float32), tokens)
    return out
