"""Token selection for the rollout sampler: greedy argmax and temperature / top-k / top-p sampling from a
decode step's logits (the step itself is `CausalLM.decode_step`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def argmax(x: jax.Array) -> jax.Array:
    """First index of the maximum along the last axis, as int32.

    Same result as `jnp.argmax` for finite inputs, about 9x cheaper on CPU for a [16, 49152] row block:
    two plain reductions vectorise, the (value, index) pair reduction of argmax does not.
    """
    iota = jax.lax.broadcasted_iota(jnp.int32, x.shape, x.ndim - 1)
    first = jnp.min(jnp.where(x == jnp.max(x, axis=-1, keepdims=True), iota, x.shape[-1]), axis=-1)
    return jnp.minimum(first, x.shape[-1] - 1)  # all-NaN rows: stay in range


def _categorical(key: jax.Array, logits: jax.Array) -> jax.Array:
    """One token per row drawn from softmax(logits) by inverse CDF: the first index whose cumulative
    probability reaches u * total, u ~ U(0, 1].

    Same distribution as Gumbel-max (`jax.random.categorical`), but one random number per row instead of
    one per vocabulary entry: ~4x cheaper on CPU for [16-64, 49152] (threefry dominates Gumbel-max).
    u > 0 and the strict `<` never pick a zero-probability (masked, -inf) token.
    """
    cdf = jnp.cumsum(jax.nn.softmax(logits.astype(jnp.float32), axis=-1), axis=-1)
    u = 1.0 - jax.random.uniform(key, (*logits.shape[:-1], 1))
    tok = jnp.sum(cdf < u * cdf[..., -1:], axis=-1, dtype=jnp.int32)
    return jnp.minimum(tok, logits.shape[-1] - 1)


def _keep_top_p(sorted_logits: jax.Array, top_p: float) -> jax.Array:
    """Mask (-inf) the tail of descending-sorted logits beyond cumulative probability top_p."""
    probs = jax.nn.softmax(sorted_logits, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs  # mass strictly above each token; the first is always kept
    return jnp.where(before < top_p, sorted_logits, -jnp.inf)


def sample_tokens(logits: jax.Array, key: jax.Array, temperature: float, top_k: int = 0,
                  top_p: float = 1.0) -> tuple[jax.Array, jax.Array]:
    """Sample one token per row from f32[B, V] logits; returns (tokens i32[B], logprobs f32[B]).

    Log-probs are log_softmax(logits / temperature) of the chosen token before top-k/top-p filtering
    (temperature 1 when greedy, temperature 0). With top_k the filtering works on the k candidates
    only, so no [B, V] sort happens.
    """
    scaled = logits if temperature == 0 else logits / temperature
    lse = jax.nn.logsumexp(scaled, axis=-1)
    if temperature == 0:
        tok = argmax(logits)
    elif top_k > 0:
        vals, idx = jax.lax.top_k(scaled, min(top_k, scaled.shape[-1]))
        if top_p < 1:
            vals = _keep_top_p(vals, top_p)
        tok = jnp.take_along_axis(idx, _categorical(key, vals)[:, None], axis=-1)[:, 0]
    elif top_p < 1:
        order = jnp.argsort(-scaled, axis=-1)
        vals = _keep_top_p(jnp.take_along_axis(scaled, order, axis=-1), top_p)
        tok = jnp.take_along_axis(order, _categorical(key, vals)[:, None], axis=-1)[:, 0]
    else:
        tok = _categorical(key, scaled)
    tok = tok.astype(jnp.int32)
    return tok, jnp.take_along_axis(scaled, tok[:, None], axis=-1)[:, 0] - lse
