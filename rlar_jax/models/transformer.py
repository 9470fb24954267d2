"""Flax NNX decoder-only transformer for the llama family, qwen2 and qwen3.

Layers are stored stacked (leading `layers` axis on every block weight) and run with `jax.lax.scan`, so
compile time does not grow with depth and a checkpoint maps onto one array per weight kind. Every
parameter carries `logical_axes` metadata that `rlar_jax.sharding` maps onto mesh axes.

Attention works on a slot-indexed key/value space: without a cache the slots are the input positions;
with a cache they are the cache rows, written at `cache_index`. A query at slot p sees slot s when
s <= p and `kv_mask[b, s]` is set, which covers left padding, prefill and decode with one code path.
`CausalLM.decode_step` is the same layer unrolled over per-layer weights for one token per row, the
sampler's fast path on CPU; both share `attention_inputs`, `attention_probs` and `layer_output`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from rlar_jax.models.config import ModelConfig


class KVCache(NamedTuple):
    """Static key/value cache: k and v are [layers, batch, slots, kv_heads, head_dim]."""

    k: jax.Array
    v: jax.Array

    @property
    def max_len(self) -> int:
        """Number of slots."""
        return self.k.shape[2]


def init_cache(cfg: ModelConfig, batch: int, max_len: int, dtype: jnp.dtype | None = None) -> KVCache:
    """An all-zero cache for `batch` rows and `max_len` slots."""
    shape = (cfg.num_layers, batch, max_len, cfg.num_kv_heads, cfg.head_dim)
    dtype = dtype or cfg.compute_dtype
    return KVCache(jnp.zeros(shape, dtype), jnp.zeros(shape, dtype))


# The one-token decode step's cache: per layer, keys [R, kv_heads, head_dim, S] and values
# [R, kv_heads, S, head_dim], so a step reads each slot once and writes its new key/value in place.
LayerCache = tuple[tuple[jax.Array, ...], tuple[jax.Array, ...]]  # (keys, values), one per layer
KEY_SLOT_AXIS, VALUE_SLOT_AXIS = 3, 2


def split_cache(cache: KVCache) -> LayerCache:
    """[layers, batch, slots, kv_heads, head_dim] -> the decode step's per-layer layout (`LayerCache`)."""
    keys = tuple(jnp.transpose(cache.k[i], (0, 2, 3, 1)) for i in range(cache.k.shape[0]))
    values = tuple(jnp.swapaxes(cache.v[i], 1, 2) for i in range(cache.v.shape[0]))
    return keys, values


def map_slots(fn: Callable[..., jax.Array], *caches: LayerCache) -> LayerCache:
    """Apply ``fn(*arrays, axis=slot_axis)`` to each layer's keys and values across `caches`."""
    keys = tuple(fn(*ks, axis=KEY_SLOT_AXIS) for ks in zip(*(c[0] for c in caches)))
    values = tuple(fn(*vs, axis=VALUE_SLOT_AXIS) for vs in zip(*(c[1] for c in caches)))
    return keys, values


def _param(rngs: nnx.Rngs, shape: tuple[int, ...], axes: tuple[str | None, ...], cfg: ModelConfig,
           std: float | None = 0.02) -> nnx.Param:
    """A parameter with logical axes; std None means ones (norm scales), 0 means zeros (biases)."""
    dtype = cfg.weight_dtype
    if std is None:
        value = jnp.ones(shape, dtype)
    elif std == 0:
        value = jnp.zeros(shape, dtype)
    else:
        value = (std * jax.random.normal(rngs.params(), shape)).astype(dtype)
    return nnx.Param(value, logical_axes=axes)


def rms_norm(x: jax.Array, scale: jax.Array, eps: float) -> jax.Array:
    """RMSNorm computed in float32, as Hugging Face does, then cast back."""
    xf = x.astype(jnp.float32)
    xf = xf * jax.lax.rsqrt(jnp.mean(xf * xf, axis=-1, keepdims=True) + eps)
    return scale.astype(x.dtype) * xf.astype(x.dtype)


def rope_inv_freq(cfg: ModelConfig) -> jax.Array:
    """Inverse RoPE frequencies [head_dim // 2], including llama-3 and linear `rope_scaling`."""
    dim = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
    scaling = cfg.rope_scaling_dict
    if not scaling:
        return inv
    kind = scaling.get("rope_type", scaling.get("type"))
    factor = float(scaling["factor"])
    if kind == "linear":
        return inv / factor
    # llama3: long wavelengths divided by `factor`, short ones kept, a smooth blend in between.
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_ctx = float(scaling["original_max_position_embeddings"])
    wavelen = 2 * math.pi / inv
    scaled = jnp.where(wavelen > old_ctx / low, inv / factor, inv)
    smooth = (old_ctx / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = (wavelen >= old_ctx / high) & (wavelen <= old_ctx / low)
    return jnp.where(medium, smoothed, scaled)


def apply_rope(x: jax.Array, positions: jax.Array, inv_freq: jax.Array) -> jax.Array:
    """Rotary embedding in the Hugging Face (half-split) layout. x: [B, T, H, D], positions: [B, T]."""
    angles = positions.astype(jnp.float32)[..., None] * inv_freq  # [B, T, D/2]
    cos = jnp.cos(angles)[:, :, None, :]
    sin = jnp.sin(angles)[:, :, None, :]
    xf = x.astype(jnp.float32)
    x1, x2 = jnp.split(xf, 2, axis=-1)
    out = jnp.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)
    return out.astype(x.dtype)


class Blocks(nnx.Module):
    """All decoder layers, each weight stacked along a leading `layers` axis."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        L, D, F = cfg.num_layers, cfg.hidden_size, cfg.intermediate_size
        H, K, hd = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        p = lambda shape, axes, std=0.02: _param(rngs, shape, axes, cfg, std)  # noqa: E731
        self.attn_norm = p((L, D), ("layers", None), None)
        self.wq = p((L, D, H, hd), ("layers", "embed", "heads", None))
        self.wk = p((L, D, K, hd), ("layers", "embed", "kv_heads", None))
        self.wv = p((L, D, K, hd), ("layers", "embed", "kv_heads", None))
        self.wo = p((L, H, hd, D), ("layers", "heads", None, "embed"))
        if cfg.attention_bias:
            self.bq = p((L, H, hd), ("layers", "heads", None), 0)
            self.bk = p((L, K, hd), ("layers", "kv_heads", None), 0)
            self.bv = p((L, K, hd), ("layers", "kv_heads", None), 0)
        if cfg.qk_norm:
            self.q_norm = p((L, hd), ("layers", None), None)
            self.k_norm = p((L, hd), ("layers", None), None)
        self.mlp_norm = p((L, D), ("layers", None), None)
        self.w_gate = p((L, D, F), ("layers", "embed", "mlp"))
        self.w_up = p((L, D, F), ("layers", "embed", "mlp"))
        self.w_down = p((L, F, D), ("layers", "mlp", "embed"))


def dense(x: jax.Array, w: jax.Array, n_in: int) -> jax.Array:
    """Contract the last ``n_in`` axes of x with the first ``n_in`` axes of w, as one 2-D matmul.

    x [..., *in], w [*in, *out] -> [..., *out]. Flattening both sides to a plain [rows, in] @ [in, out]
    product matters on CPU: XLA lowers an einsum with several free axes (``btd,dhk->bthk``) to a dot
    that runs the training step's forward and backward ~1.6x slower than the same math in 2-D.
    """
    lead, ins, outs = x.shape[:x.ndim - n_in], w.shape[:n_in], w.shape[n_in:]
    k = math.prod(ins)
    y = x.reshape(-1, k) @ w.reshape(k, -1)
    return y.reshape(*lead, *outs)


LORA = "lora"  # key of a layer's adapters (rlar_jax.models.lora.LayerAdapters) in its weight dict


def project(w: dict[str, Any], name: str, x: jax.Array, n_in: int) -> jax.Array:
    """x through the layer's projection `name`: the weight `w[name]` in x's dtype, plus
    ``scale * LoRA(x)`` when the layer's adapters (``w[LORA]``) have one for it."""
    y = dense(x, w[name].astype(x.dtype), n_in)
    lora = w.get(LORA)
    if lora is not None and hasattr(lora, name):
        delta = getattr(lora, name)(x.reshape(*x.shape[:x.ndim - n_in], -1))
        y = y + (lora.scale * delta).astype(y.dtype).reshape(y.shape)
    return y


def stacked_weights(blocks: nnx.Module) -> tuple[dict[str, Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    """The stacked layer weights (arrays [layers, ...], and the adapters' state under LORA when the model
    has LoRA) and `bind`, which turns one layer's slice of them into the weight dict `project` takes."""
    weights: dict[str, Any] = {n: v[...] for n, v in vars(blocks).items() if isinstance(v, nnx.Param)}
    lora = getattr(blocks, LORA, None)
    if lora is None:
        return weights, lambda w: w
    graphdef, weights[LORA] = nnx.split(lora)
    return weights, lambda w: {**w, LORA: nnx.merge(graphdef, w[LORA])}


def attention_inputs(cfg: ModelConfig, w: dict[str, jax.Array], x: jax.Array, positions: jax.Array,
                     inv_freq: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Pre-norm q, k, v [B, T, heads, head_dim] of one layer (bias, q/k norm and RoPE applied)."""
    dt = x.dtype
    h = rms_norm(x, w["attn_norm"], cfg.rms_norm_eps)
    q, k, v = (project(w, name, h, 1) for name in ("wq", "wk", "wv"))
    if cfg.attention_bias:
        q, k, v = q + w["bq"].astype(dt), k + w["bk"].astype(dt), v + w["bv"].astype(dt)
    if cfg.qk_norm:
        q = rms_norm(q, w["q_norm"], cfg.rms_norm_eps)
        k = rms_norm(k, w["k_norm"], cfg.rms_norm_eps)
    return apply_rope(q, positions, inv_freq), apply_rope(k, positions, inv_freq), v


def mlp_block(cfg: ModelConfig, w: dict[str, jax.Array], x: jax.Array) -> jax.Array:
    """x plus the pre-norm SwiGLU MLP of one layer; x is [..., D]."""
    h = rms_norm(x, w["mlp_norm"], cfg.rms_norm_eps)
    gate = project(w, "w_gate", h, 1)
    up = project(w, "w_up", h, 1)
    return x + project(w, "w_down", jax.nn.silu(gate) * up, 1)


def attention_probs(scores: jax.Array, allowed: jax.Array, head_dim: int) -> jax.Array:
    """float32 softmax over key slots (last axis) of q.k / sqrt(head_dim); slots where `allowed` is
    False get no weight. Shared by the layer's batched path and the one-token decode step."""
    scores = scores.astype(jnp.float32) / math.sqrt(head_dim)
    return jax.nn.softmax(jnp.where(allowed, scores, jnp.finfo(jnp.float32).min), axis=-1)


def layer_output(cfg: ModelConfig, w: dict[str, jax.Array], x: jax.Array, attn: jax.Array) -> jax.Array:
    """The rest of a layer after attention: x + wo(attn) [..., heads, head_dim -> D], then the MLP."""
    return mlp_block(cfg, w, x + project(w, "wo", attn, 2))


def _layer(cfg: ModelConfig, w: dict[str, jax.Array], x: jax.Array, positions: jax.Array,
           kv_mask: jax.Array, inv_freq: jax.Array, k_cache: jax.Array | None, v_cache: jax.Array | None,
           cache_index: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """One pre-norm decoder layer; returns the new hidden state and this layer's (updated) keys/values."""
    dt = x.dtype
    B, T, _ = x.shape
    K, hd = cfg.num_kv_heads, cfg.head_dim
    G = cfg.num_heads // K
    q, k, v = attention_inputs(cfg, w, x, positions, inv_freq)
    if k_cache is not None:
        k_all = jax.lax.dynamic_update_slice(k_cache, k.astype(k_cache.dtype), (0, cache_index, 0, 0))
        v_all = jax.lax.dynamic_update_slice(v_cache, v.astype(v_cache.dtype), (0, cache_index, 0, 0))
    else:
        k_all, v_all = k, v
    S = k_all.shape[1]
    q_slot = cache_index + jnp.arange(T)
    allowed = (jnp.arange(S)[None, :] <= q_slot[:, None])[None] & kv_mask[:, None, :]  # [B, T, S]
    # kv-head-major batched matmuls ([B, K, G*T, hd] @ [B, K, hd, S]): one GEMM per (batch, kv head),
    # which XLA CPU runs faster forward and backward than the equivalent 5-D einsums.
    qg = q.reshape(B, T, K, G, hd).transpose(0, 2, 3, 1, 4).reshape(B, K, G * T, hd)
    scores = jnp.matmul(qg, k_all.astype(dt).transpose(0, 2, 3, 1)).reshape(B, K, G, T, S)
    probs = attention_probs(scores, allowed[:, None, None], hd).astype(dt).reshape(B, K, G * T, S)
    attn = jnp.matmul(probs, v_all.astype(dt).transpose(0, 2, 1, 3))
    attn = attn.reshape(B, K, G, T, hd).transpose(0, 3, 1, 2, 4).reshape(B, T, K * G, hd)
    return layer_output(cfg, w, x, attn), k_all, v_all


class Backbone(nnx.Module):
    """Token embedding, stacked decoder layers and the final norm."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.embed = _param(rngs, (cfg.vocab_size, cfg.hidden_size), ("vocab", "embed"), cfg)
        self.blocks = Blocks(cfg, rngs=rngs)
        self.final_norm = _param(rngs, (cfg.hidden_size,), (None,), cfg, None)

    def __call__(self, tokens: jax.Array, positions: jax.Array, kv_mask: jax.Array,
                 cache: KVCache | None = None, cache_index: jax.Array | int = 0
                 ) -> tuple[jax.Array, KVCache | None]:
        """Final hidden states [B, T, D] and the updated cache (None when no cache was given).

        tokens, positions: int32 [B, T]; kv_mask: bool [B, S] marking real (non-pad) slots, where S is
        the cache length (or T without a cache); cache_index: slot of tokens[:, 0] in the cache.
        """
        cfg = self.cfg
        x = jnp.take(self.embed[...], tokens, axis=0).astype(cfg.compute_dtype)
        weights, bind = stacked_weights(self.blocks)
        inv_freq = rope_inv_freq(cfg)
        cache_index = jnp.asarray(cache_index, jnp.int32)

        def body(carry, xs):
            w, kc, vc = xs
            out, k, v = _layer(cfg, bind(w), carry, positions, kv_mask, inv_freq, kc, vc, cache_index)
            return out, ((k, v) if kc is not None else None)

        if cfg.remat:
            body = jax.checkpoint(body, policy=jax.checkpoint_policies.nothing_saveable)
        if cache is None and cfg.frozen_layers:
            # The lowest layers under stop_gradient: autodiff linearises none of them, so the backward
            # stops at layer `frozen_layers` and their residuals are never kept.
            k = cfg.frozen_layers
            frozen = jax.tree.map(lambda a: jax.lax.stop_gradient(a[:k]), weights)
            x, _ = jax.lax.scan(body, x, (frozen, None, None))
            x, _ = jax.lax.scan(body, jax.lax.stop_gradient(x), (jax.tree.map(lambda a: a[k:], weights), None, None))
            new_cache = None
        elif cache is None:
            x, _ = jax.lax.scan(body, x, (weights, None, None))
            new_cache = None
        else:
            x, (k, v) = jax.lax.scan(body, x, (weights, cache.k, cache.v))
            new_cache = KVCache(k, v)
        return rms_norm(x, self.final_norm[...], cfg.rms_norm_eps), new_cache


class CausalLM(nnx.Module):
    """Decoder-only language model (`*ForCausalLM`)."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.model = Backbone(cfg, rngs=rngs)
        if not cfg.tie_word_embeddings:
            self.lm_head = _param(rngs, (cfg.hidden_size, cfg.vocab_size), ("embed", "vocab"), cfg)

    def hidden(self, tokens: jax.Array, positions: jax.Array, kv_mask: jax.Array,
               cache: KVCache | None = None, cache_index: jax.Array | int = 0
               ) -> tuple[jax.Array, KVCache | None]:
        """Final hidden states and updated cache; see `Backbone.__call__`."""
        return self.model(tokens, positions, kv_mask, cache, cache_index)

    def logits(self, h: jax.Array) -> jax.Array:
        """Project hidden states [..., D] to float32 vocabulary logits [..., V]."""
        if self.cfg.tie_word_embeddings:
            w = self.model.embed[...].astype(h.dtype)
            return dense(h, w.T, 1).astype(jnp.float32)
        return dense(h, self.lm_head[...].astype(h.dtype), 1).astype(jnp.float32)

    def __call__(self, tokens: jax.Array, positions: jax.Array | None = None, kv_mask: jax.Array | None = None,
                 cache: KVCache | None = None, cache_index: jax.Array | int = 0
                 ) -> tuple[jax.Array, KVCache | None]:
        """Logits [B, T, V] (float32) and the updated cache. Defaults: positions 0..T-1, no padding."""
        positions, kv_mask = _defaults(tokens, positions, kv_mask, cache)
        h, cache = self.hidden(tokens, positions, kv_mask, cache, cache_index)
        return self.logits(h), cache

    def layer_weights(self) -> list[dict[str, Any]]:
        """Per-layer weight dicts sliced from the stacked block weights (inside jit: one copy per call),
        for `decode_step`."""
        stacked, bind = stacked_weights(self.model.blocks)
        return [bind(jax.tree.map(lambda w, i=i: w[i], stacked)) for i in range(self.cfg.num_layers)]

    def decode_step(self, layers: list[dict[str, Any]], cache: LayerCache, tokens: jax.Array,
                    positions: jax.Array, kv_mask: jax.Array, slot: jax.Array) -> tuple[jax.Array, LayerCache]:
        """Logits f32[R, V] for one token per row (tokens, positions i32[R]) written at cache `slot`.

        The same layer as `__call__` (`attention_inputs`, `attention_probs`, `layer_output`), unrolled
        over `layer_weights()` and a `LayerCache`: on CPU the scanned forward pass copies every layer's
        weights and cache slice per token (XLA cannot feed a dynamic slice straight into a matmul), about
        a third of a decode step. kv_mask bool[R, S] marks real slots; a row attends to slots s <= slot.
        """
        cfg = self.cfg
        dt = cfg.compute_dtype
        R = tokens.shape[0]
        K, hd = cfg.num_kv_heads, cfg.head_dim
        G = cfg.num_heads // K
        inv_freq = rope_inv_freq(cfg)
        S = cache[1][0].shape[VALUE_SLOT_AXIS]
        allowed = (kv_mask & (jnp.arange(S)[None, :] <= slot))[:, None, None, :]  # [R, 1, 1, S]
        x = jnp.take(self.model.embed[...], tokens, axis=0).astype(dt)  # [R, D]
        keys, values = list(cache[0]), list(cache[1])
        for i, w in enumerate(layers):
            q, k, v = (a[:, 0] for a in attention_inputs(cfg, w, x[:, None], positions[:, None], inv_freq))
            keys[i] = jax.lax.dynamic_update_slice(keys[i], k[..., None].astype(keys[i].dtype), (0, 0, 0, slot))
            values[i] = jax.lax.dynamic_update_slice(values[i], v[:, :, None].astype(values[i].dtype),
                                                     (0, 0, slot, 0))
            # One query row per (batch, head): broadcast-multiply-sum beats a matmul here on CPU.
            qg = q.reshape(R, K, G, hd, 1).astype(jnp.float32)
            probs = attention_probs(jnp.sum(qg * keys[i][:, :, None].astype(jnp.float32), axis=-2), allowed, hd)
            attn = jnp.sum(probs[..., None] * values[i][:, :, None].astype(jnp.float32), axis=-2)  # [R, K, G, hd]
            x = layer_output(cfg, w, x, attn.reshape(R, K * G, hd).astype(dt))
        x = rms_norm(x, self.model.final_norm[...], cfg.rms_norm_eps)
        return self.logits(x), (tuple(keys), tuple(values))


class SequenceClassifier(nnx.Module):
    """Last-token score head over the same backbone (`*ForSequenceClassification`), for reward models."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        self.cfg = cfg
        self.model = Backbone(cfg, rngs=rngs)
        self.score = _param(rngs, (cfg.hidden_size, cfg.num_labels), ("embed", None), cfg)

    def __call__(self, tokens: jax.Array, positions: jax.Array | None = None,
                 kv_mask: jax.Array | None = None) -> jax.Array:
        """Scores [B, num_labels] (float32) at each row's last non-pad token."""
        positions, kv_mask = _defaults(tokens, positions, kv_mask, None)
        h, _ = self.model(tokens, positions, kv_mask)
        last = tokens.shape[1] - 1 - jnp.argmax(kv_mask[:, ::-1], axis=1)
        h_last = jnp.take_along_axis(h, last[:, None, None], axis=1)[:, 0]
        return jnp.einsum("bd,dl->bl", h_last, self.score[...].astype(h.dtype)).astype(jnp.float32)


def _defaults(tokens: jax.Array, positions: jax.Array | None, kv_mask: jax.Array | None,
              cache: KVCache | None) -> tuple[jax.Array, jax.Array]:
    """Positions 0..T-1 and an all-true mask when not given."""
    B, T = tokens.shape
    if positions is None:
        positions = jnp.broadcast_to(jnp.arange(T, dtype=jnp.int32), (B, T))
    if kv_mask is None:
        kv_mask = jnp.ones((B, cache.max_len if cache is not None else T), bool)
    return positions, kv_mask
