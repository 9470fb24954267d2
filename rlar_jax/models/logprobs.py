"""Log-probs of tokens under a causal LM: one forward path for the update, the rollout check and tools.

`positions_from_mask` numbers the real tokens of left-padded rows; `completion_logprobs` runs the model's
forward pass and scores a batch's completion tokens, `chunk` positions at a time so float32 logits exist
only as [rows, chunk, vocab]. Convention (TRL's, the sampler's): log_softmax(logits / temperature), with
temperature 0 (greedy) read as 1.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp


# Completion positions scored per step of the chunked log-softmax: 16 keeps 73 MiB less of float32 logits
# live in the default update than 32 (XLA buffer assignment at 16 x (160 + 96)), at the same step time
# (medians of 8 steps each: 28.6 s both).
LOGPROB_CHUNK = 16


def positions_from_mask(mask: jax.Array) -> jax.Array:
    """i32 positions of a [B, T] attention mask: 0, 1, ... over the real tokens (left padding stays at 0)."""
    return jnp.maximum(jnp.cumsum(mask, axis=1) - 1, 0).astype(jnp.int32)


def completion_logprobs(model: Any, tokens: jax.Array, mask: jax.Array, n_completion: int, temperature: float,
                        chunk: int = LOGPROB_CHUNK) -> tuple[jax.Array, jax.Array]:
    """(log-prob, entropy) f32[B, n_completion] of the last `n_completion` tokens of each row of `tokens`
    [B, T] (`mask` marks real tokens) under `model`, at `temperature`."""
    inv_t = 1.0 / temperature if temperature > 0 else 1.0
    prompt_len = tokens.shape[1] - n_completion
    positions = positions_from_mask(mask)
    h, _ = model.hidden(tokens[:, :-1], positions[:, :-1], mask[:, :-1].astype(bool))
    return token_logprobs_chunked(h[:, prompt_len - 1:], lambda x: model.logits(x) * inv_t, tokens[:, prompt_len:],
                                  chunk)


def token_logprobs_chunked(
    hidden: jax.Array,
    lm_head_fn: Callable[[jax.Array], jax.Array],
    targets: jax.Array,
    chunk: int,
) -> tuple[jax.Array, jax.Array]:
    """Log-prob of ``targets`` and entropy per position from hidden f32[N, T, D], ``chunk`` positions
    at a time, so f32 logits exist only as [N, chunk, V]. Each chunk is rematerialised in the backward
    pass (jax.checkpoint inside lax.scan). T need not divide by ``chunk`` (padded, then cut).
    Returns (logp f32[N, T], entropy f32[N, T]).
    """
    if hidden.ndim != 3:
        raise ValueError(f"hidden must be [N, T, D], got shape {hidden.shape}")
    n, t, d = hidden.shape
    if targets.shape != (n, t):
        raise ValueError(f"targets must be [N, T]={(n, t)}, got {targets.shape}")
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be an int >= 1, got {chunk!r}")
    chunk = min(chunk, t)
    pad = (-t) % chunk
    h = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
    y = jnp.pad(targets, ((0, 0), (0, pad)))
    nc = (t + pad) // chunk
    hs = h.reshape(n, nc, chunk, d).swapaxes(0, 1)
    ys = y.reshape(n, nc, chunk).swapaxes(0, 1)

    one = jax.checkpoint(lambda h_c, y_c: chunk_logprobs(lm_head_fn, h_c, y_c))
    _, (lp, ent) = jax.lax.scan(lambda c, xs: (c, one(*xs)), None, (hs, ys))
    unchunk = lambda a: a.swapaxes(0, 1).reshape(n, nc * chunk)[:, :t]  # noqa: E731
    return unchunk(lp), unchunk(ent)


def chunk_logprobs(lm_head_fn: Callable[[jax.Array], jax.Array], h_c: jax.Array,
                   y_c: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Log-prob of targets ``y_c`` and entropy at positions ``h_c`` [..., D] (one chunk of
    :func:`token_logprobs_chunked`)."""
    logits = lm_head_fn(h_c).astype(jnp.float32)
    lse = jax.nn.logsumexp(logits, axis=-1)
    tgt = jnp.take_along_axis(logits, y_c[..., None], axis=-1)[..., 0]
    ent = lse - jnp.sum(jax.nn.softmax(logits, axis=-1) * logits, axis=-1)
    return tgt - lse, ent
