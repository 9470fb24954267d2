"""One-token decode step and token sampling for the rollout sampler.

The model's own forward pass scans over stacked layers; for a single decode token on CPU that costs a
copy of every layer's weights and cache slice per step (XLA cannot feed a dynamic slice straight into a
matmul), about a third of the step. Here the layers are unrolled over per-layer weights and per-layer
caches laid out [batch, kv_heads, slots, head_dim], so a step reads each weight and cache slot once
and writes its new key/value in place. Projections and MLP are `transformer`'s own (`attention_inputs`,
`mlp_block`); the rollout tests check greedy tokens and log-probs against the full forward pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from rlar_jax.models.transformer import (CausalLM, KVCache, attention_inputs, mlp_block, project, rms_norm,
                                         rope_inv_freq, stacked_weights)

LayerCache = tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]]  # (keys, values), one per layer
KEY_SLOT_AXIS, VALUE_SLOT_AXIS = 3, 2  # keys [R, K, head_dim, S], values [R, K, S, head_dim]


def unstack_layers(model: CausalLM) -> list[dict[str, jax.Array]]:
    """Per-layer weight dicts sliced from the stacked block weights (inside jit: one copy per call)."""
    stacked, bind = stacked_weights(model.model.blocks)
    return [bind(jax.tree.map(lambda w: w[i], stacked)) for i in range(model.cfg.num_layers)]


def split_cache(cache: KVCache) -> LayerCache:
    """[layers, batch, slots, kv_heads, head_dim] -> per-layer keys [batch, kv_heads, head_dim, slots] and
    values [batch, kv_heads, slots, head_dim]."""
    keys = tuple(jnp.transpose(cache.k[i], (0, 2, 3, 1)) for i in range(cache.k.shape[0]))
    values = tuple(jnp.swapaxes(cache.v[i], 1, 2) for i in range(cache.v.shape[0]))
    return keys, values


def map_slots(fn: Callable[..., jax.Array], *caches: LayerCache) -> LayerCache:
    """Apply ``fn(*arrays, axis=slot_axis)`` to each layer's keys and values across `caches`."""
    keys = tuple(fn(*ks, axis=KEY_SLOT_AXIS) for ks in zip(*(c[0] for c in caches)))
    values = tuple(fn(*vs, axis=VALUE_SLOT_AXIS) for vs in zip(*(c[1] for c in caches)))
    return keys, values


def decode_step(model: CausalLM, layers: list[dict[str, jax.Array]], cache: LayerCache, tokens: jax.Array,
                positions: jax.Array, kv_mask: jax.Array, slot: jax.Array) -> tuple[jax.Array, LayerCache]:
    """Logits f32[R, V] for one token per row (tokens, positions i32[R]) written at cache `slot`.

    kv_mask bool[R, S] marks real slots; a row attends to slots s <= slot with kv_mask set.
    """
    cfg = model.cfg
    dt = cfg.compute_dtype
    R = tokens.shape[0]
    K, hd = cfg.num_kv_heads, cfg.head_dim
    G = cfg.num_heads // K
    inv_freq = rope_inv_freq(cfg)
    pos = positions[:, None]
    S = cache[1][0].shape[VALUE_SLOT_AXIS]
    allowed = (kv_mask & (jnp.arange(S)[None, :] <= slot))[:, None, None, :]  # [R, 1, 1, S]
    x = jnp.take(model.model.embed[...], tokens, axis=0).astype(dt)  # [R, D]
    keys, values = list(cache[0]), list(cache[1])
    for i, w in enumerate(layers):
        q, k, v = (a[:, 0] for a in attention_inputs(cfg, w, x[:, None], pos, inv_freq))
        keys[i] = jax.lax.dynamic_update_slice(keys[i], k[..., None].astype(keys[i].dtype), (0, 0, 0, slot))
        values[i] = jax.lax.dynamic_update_slice(values[i], v[:, :, None].astype(values[i].dtype), (0, 0, slot, 0))
        qg = q.reshape(R, K, G, hd, 1).astype(jnp.float32)
        scores = jnp.sum(qg * keys[i][:, :, None].astype(jnp.float32), axis=-2) / math.sqrt(hd)  # [R, K, G, S]
        scores = jnp.where(allowed, scores, jnp.finfo(jnp.float32).min)
        probs = jax.nn.softmax(scores, axis=-1)
        attn = jnp.sum(probs[..., None] * values[i][:, :, None].astype(jnp.float32), axis=-2)  # [R, K, G, hd]
        attn = attn.reshape(R, K * G, hd).astype(dt)
        x = x + project(w, "wo", attn, 2)
        x = mlp_block(cfg, w, x)
    x = rms_norm(x, model.model.final_norm[...], cfg.rms_norm_eps)
    return model.logits(x), (tuple(keys), tuple(values))


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
