"""Jitted sampler with a static KV cache: prefill once per prompt, repeat the cache G times, decode.

Prompts are left-padded to a length bucket (so recompiles are bounded) and prefilled once at batch B;
the cache is then repeated G times along the batch. Decoding runs in one jit as a few `lax.while_loop`s,
one per *window*: window c attends over the first P + (c+1)*decode_chunk cache slots only, so attention
cost follows the current length instead of the whole static cache. All rows stop on their own; the loop
exits early once every row has stopped.

Log-prob convention (TRL's, used for GRPO old log-probs): the log-prob of a sampled token is
log_softmax(logits / temperature), with temperature 1 when decoding greedily (temperature 0), and is
taken *before* top-k / top-p filtering. `completion_logprobs` recomputes the same quantity with a full
forward pass (no cache).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlar_jax.decode import sample_tokens
from rlar_jax.models import logprobs
from rlar_jax.models.transformer import LayerCache, init_cache, map_slots, split_cache
from rlar_jax.sampling_config import SamplingConfig
from rlar_jax.sharding import BATCH_AXES, host_local, process_max, to_global, batch_sharding


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Rollout:
    """Sampled completions; R = B * group_size rows, prompt-major (row i*G + g is prompt i, sample g).

    prompt_ids i32[R, P] left-padded with pad_id; prompt_mask bool[R, P];
    completion_ids i32[R, N], pad_id after the stop token; completion_mask bool[R, N], true up to and
    including the stop token; logprobs f32[R, N] (0 where masked; convention in the module docstring);
    lengths i32[R] completion tokens incl. the stop token; truncated bool[R]: ran out of
    max_new_tokens without stopping.
    """

    prompt_ids: jax.Array
    prompt_mask: jax.Array
    completion_ids: jax.Array
    completion_mask: jax.Array
    logprobs: jax.Array
    lengths: jax.Array
    truncated: jax.Array


# ------------------------------------------------------------------------------------ jitted stages
def _cache_spec(mesh: Mesh | None, kv_heads: int) -> NamedSharding | None:
    """Per-layer cache [rows, kv_heads, ...]: rows over (data, fsdp), heads over tensor."""
    if mesh is None:
        return None
    heads = "tensor" if kv_heads % mesh.shape["tensor"] == 0 else None
    return NamedSharding(mesh, P(BATCH_AXES, heads, None, None))


def _constrain(cache: LayerCache, spec: NamedSharding | None) -> LayerCache:
    if spec is None:
        return cache
    return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, spec), cache)


@partial(jax.jit, static_argnames=("graphdef", "group_size", "total_slots", "mesh"))
def _prefill(graphdef: Any, state: Any, tokens: jax.Array, mask: jax.Array, *, group_size: int,
             total_slots: int, mesh: Mesh | None) -> tuple[jax.Array, LayerCache]:
    """Prefill B prompts once; return last-token logits and the per-layer cache, both repeated G times,
    the cache padded to `total_slots`."""
    model = nnx.merge(graphdef, state)
    B, Pl = tokens.shape
    h, cache = model.hidden(tokens, logprobs.positions_from_mask(mask), mask, init_cache(model.cfg, B, Pl), 0)
    logits = jnp.repeat(model.logits(h[:, -1]), group_size, axis=0)
    def grow(a: jax.Array, axis: int) -> jax.Array:
        pad = [(0, total_slots - Pl if d == axis else 0) for d in range(a.ndim)]
        return jnp.pad(jnp.repeat(a, group_size, axis=0), pad)

    cache = map_slots(grow, split_cache(cache))
    return logits, _constrain(cache, _cache_spec(mesh, model.cfg.num_kv_heads))


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Static decode settings (hashable: a jit static argument)."""

    prompt_len: int
    max_new: int
    windows: tuple[int, ...]  # slot counts of the successive attention windows
    temperature: float
    top_k: int
    top_p: float
    stop_ids: tuple[int, ...]
    pad_id: int
    mesh: Mesh | None


def _windows(prompt_len: int, max_new: int, chunk: int, max_windows: int) -> tuple[int, ...]:
    """Window sizes: the step feeding slot s (s < prompt_len + max_new - 1) runs in the first window > s."""
    total = prompt_len + max_new
    if chunk == 0:
        return (total,)
    chunk = max(chunk, math.ceil(max_new / max_windows))
    return tuple(min(prompt_len + c * chunk, total) for c in range(1, math.ceil(max_new / chunk) + 1))


@partial(jax.jit, static_argnames=("graphdef", "plan"), donate_argnames=("cache",))
def _decode(graphdef: Any, state: Any, cache: LayerCache, first_logits: jax.Array, prompt_mask: jax.Array,
            key: jax.Array, plan: _Plan) -> tuple[dict[str, jax.Array], LayerCache]:
    """Sample max_new tokens per row from the repeated prefill cache (donated; returned updated)."""
    model = nnx.merge(graphdef, state)
    layers = model.layer_weights()
    R, Pl, N = first_logits.shape[0], plan.prompt_len, plan.max_new
    spec = _cache_spec(plan.mesh, model.cfg.num_kv_heads)
    stop_ids = jnp.asarray(plan.stop_ids or (-1,), jnp.int32)
    prompt_len = jnp.sum(prompt_mask, axis=1).astype(jnp.int32)
    kv_mask = jnp.concatenate([prompt_mask, jnp.ones((R, N), bool)], axis=1)
    sample = partial(sample_tokens, temperature=plan.temperature, top_k=plan.top_k, top_p=plan.top_p)

    def record(carry: dict, t: jax.Array, tok: jax.Array, lp: jax.Array) -> dict:
        active = ~carry["done"]
        tok = jnp.where(active, tok, plan.pad_id)
        put = lambda buf, col: jax.lax.dynamic_update_slice(buf, col[:, None].astype(buf.dtype), (0, t))  # noqa: E731
        return dict(carry, tok=tok, t=t + 1, ids=put(carry["ids"], tok), mask=put(carry["mask"], active),
                    logprobs=put(carry["logprobs"], jnp.where(active, lp, 0.0)),
                    done=carry["done"] | (active & jnp.isin(tok, stop_ids)))

    carry = dict(t=jnp.int32(0), tok=jnp.zeros((R,), jnp.int32), done=jnp.zeros((R,), bool),
                 ids=jnp.full((R, N), plan.pad_id, jnp.int32), mask=jnp.zeros((R, N), bool),
                 logprobs=jnp.zeros((R, N), jnp.float32))
    carry = record(carry, jnp.int32(0), *sample(first_logits, jax.random.fold_in(key, 0)))

    start = Pl
    for size in plan.windows:
        # The step sampling token t feeds slot Pl + t - 1, so this window serves t <= size - Pl and its
        # attention reads only the first `size` slots.
        last_t = size - Pl
        whole = size == Pl + N  # the last window is the cache itself: updated in place, no second copy
        win = cache if whole else _constrain(
            map_slots(lambda a, axis, size=size: jax.lax.slice_in_dim(a, 0, size, axis=axis), cache), spec)
        win_mask = kv_mask[:, :size]

        def cond(c: tuple[dict, LayerCache], last_t: int = last_t) -> jax.Array:
            return (c[0]["t"] <= last_t) & (c[0]["t"] < N) & ~jnp.all(c[0]["done"])

        def body(c: tuple[dict, LayerCache], win_mask: jax.Array = win_mask) -> tuple[dict, LayerCache]:
            carry, kv = c
            t = carry["t"]
            logits, kv = model.decode_step(layers, kv, carry["tok"], prompt_len + t - 1, win_mask, Pl + t - 1)
            return record(carry, t, *sample(logits, jax.random.fold_in(key, t))), _constrain(kv, spec)

        carry, win = jax.lax.while_loop(cond, body, (carry, win))
        if whole:
            cache = win
            break
        cache = map_slots(lambda full, w, axis, start=start, size=size: jax.lax.dynamic_update_slice_in_dim(
            full, jax.lax.slice_in_dim(w, start, size, axis=axis), start, axis), cache, win)
        start = size
    out = dict(ids=carry["ids"], mask=carry["mask"], logprobs=carry["logprobs"],
               lengths=jnp.sum(carry["mask"], axis=1).astype(jnp.int32), truncated=~carry["done"])
    if plan.mesh is not None:
        out = {k: jax.lax.with_sharding_constraint(v, batch_sharding(plan.mesh, v.ndim)) for k, v in out.items()}
    return out, cache


# --------------------------------------------------------------------------------------- public API
def prompt_bucket(length: int, buckets: Sequence[int]) -> int:
    """Smallest bucket >= length; beyond the largest, the next multiple of the largest."""
    for b in buckets:
        if length <= b:
            return b
    return math.ceil(length / buckets[-1]) * buckets[-1]


def left_pad(prompt_ids: Sequence[Sequence[int]], width: int, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Left-pad token lists to `width`: (ids i32[B, width], mask bool[B, width])."""
    ids = np.full((len(prompt_ids), width), pad_id, np.int32)
    mask = np.zeros((len(prompt_ids), width), bool)
    for i, p in enumerate(prompt_ids):
        if len(p):
            ids[i, width - len(p):] = p
            mask[i, width - len(p):] = True
    return ids, mask


def _check_prompts(prompt_ids: Sequence[Sequence[int]], vocab_size: int) -> None:
    if not prompt_ids:
        raise ValueError("prompt_ids must be a non-empty list of token-id lists")
    for i, p in enumerate(prompt_ids):
        if len(p) == 0:
            raise ValueError(f"prompt_ids[{i}] is empty; every prompt needs at least one token")
        bad = [t for t in p if not 0 <= int(t) < vocab_size]
        if bad:
            raise ValueError(f"prompt_ids[{i}] has token ids {bad[:5]} outside [0, {vocab_size})")


def _put(x: np.ndarray, mesh: Mesh | None) -> jax.Array:
    """Batch-shard over (data, fsdp) when the batch divides; else replicate. With several processes each
    passes its own rows and they are assembled into one global array."""
    if mesh is None:
        return jnp.asarray(x)
    n = mesh.shape["data"] * mesh.shape["fsdp"]
    if jax.process_count() > 1:
        if (x.shape[0] * jax.process_count()) % n == 0:
            return to_global(x, mesh)
        from jax.experimental import multihost_utils  # too few rows to shard: every process gets all of them

        full = np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return jax.make_array_from_process_local_data(NamedSharding(mesh, P()), full)
    spec = P(BATCH_AXES, *([None] * (x.ndim - 1))) if x.shape[0] % n == 0 else P()
    return jax.device_put(x, NamedSharding(mesh, spec))


def generate(model: nnx.Module, prompt_ids: Sequence[Sequence[int]], cfg: SamplingConfig, key: jax.Array, *,
             pad_id: int, eos_ids: Sequence[int] = (), mesh: Mesh | None = None,
             timings: dict[str, float] | None = None) -> Rollout:
    """Sample `cfg.group_size` completions for every prompt (rows prompt-major); see `Rollout`.

    Deterministic for a given `key`. With `mesh`, rows are sharded over (data, fsdp) (B * group_size
    must divide by data * fsdp) and the model should already be placed by `shard_model`. If `timings`
    is a dict, it receives wall-clock seconds of "prefill" and "decode" (blocking on each).
    """
    _check_prompts(prompt_ids, model.cfg.vocab_size)
    if not isinstance(pad_id, (int, np.integer)) or not 0 <= pad_id < model.cfg.vocab_size:
        raise ValueError(f"pad_id must be a token id in [0, {model.cfg.vocab_size}), got {pad_id!r}")
    R = len(prompt_ids) * cfg.group_size * jax.process_count()  # global rows
    if mesh is not None and R % (mesh.shape["data"] * mesh.shape["fsdp"]):
        raise ValueError(f"prompts x group_size = {R} rows must divide by the mesh's data x fsdp = "
                         f"{mesh.shape['data'] * mesh.shape['fsdp']}")
    # Every process must compile the same shapes: the bucket of the longest prompt of any process.
    Pl = prompt_bucket(process_max(max(len(p) for p in prompt_ids)), cfg.prompt_buckets)
    ids, mask = left_pad(prompt_ids, Pl, pad_id)
    N = cfg.max_new_tokens
    plan = _Plan(prompt_len=Pl, max_new=N, windows=_windows(Pl, N, cfg.decode_chunk, cfg.max_decode_windows),
                 temperature=float(cfg.temperature), top_k=cfg.top_k, top_p=float(cfg.top_p),
                 stop_ids=tuple(sorted({*map(int, eos_ids), *cfg.stop_token_ids})), pad_id=int(pad_id), mesh=mesh)
    graphdef, state = nnx.split(model)
    t0 = time.perf_counter()
    logits, cache = _prefill(graphdef, state, _put(ids, mesh), _put(mask, mesh), group_size=cfg.group_size,
                             total_slots=Pl + N, mesh=mesh)
    rep_mask = _put(np.repeat(mask, cfg.group_size, axis=0), mesh)
    if timings is not None:
        jax.block_until_ready(logits)
        timings["prefill"] = time.perf_counter() - t0
        t0 = time.perf_counter()
    out, _ = _decode(graphdef, state, cache, logits, rep_mask, key, plan)
    lengths = out["lengths"]
    width = min(N, max(1, math.ceil(int(jnp.max(lengths)) / cfg.completion_bucket) * cfg.completion_bucket))
    if timings is not None:
        timings["decode"] = time.perf_counter() - t0
    return Rollout(prompt_ids=_put(np.repeat(ids, cfg.group_size, axis=0), mesh), prompt_mask=rep_mask,
                   completion_ids=out["ids"][:, :width], completion_mask=out["mask"][:, :width],
                   logprobs=out["logprobs"][:, :width], lengths=lengths, truncated=out["truncated"])


@partial(jax.jit, static_argnames=("graphdef", "n_completion", "temperature"))
def _completion_logprobs(graphdef: Any, state: Any, tokens: jax.Array, mask: jax.Array, n_completion: int,
                         temperature: float) -> jax.Array:
    return logprobs.completion_logprobs(nnx.merge(graphdef, state), tokens, mask, n_completion, temperature)[0]


def completion_logprobs(model: nnx.Module, rollout: Rollout, temperature: float = 1.0) -> jax.Array:
    """Log-probs f32[R, N] of the rollout's completion tokens recomputed by the model's forward pass, the
    update's (0 where completion_mask is false); equal to `rollout.logprobs` at the sampling temperature."""
    full = jnp.concatenate([rollout.prompt_ids, rollout.completion_ids], axis=1)
    mask = jnp.concatenate([rollout.prompt_mask, rollout.completion_mask], axis=1)
    graphdef, state = nnx.split(model)
    lp = _completion_logprobs(graphdef, state, full, mask, rollout.completion_ids.shape[1], float(temperature))
    return jnp.where(rollout.completion_mask, lp, 0.0)


# ------------------------------------------------------------------------------------- host helpers
def encode_prompts(tokenizer: Any, messages_list: Sequence[str | Sequence[dict[str, str]]]) -> list[list[int]]:
    """Token ids of each conversation after the chat template (with the generation prompt); a plain
    string is taken as one user message."""
    out = []
    for i, messages in enumerate(messages_list):
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        if not messages or not all(isinstance(m, dict) and "role" in m and "content" in m for m in messages):
            raise ValueError(f"messages_list[{i}] must be a string or a non-empty list of "
                             "{'role': ..., 'content': ...} dicts")
        text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True)
        out.append(list(tokenizer.encode(text)))
    return out


def decode_completions(tokenizer: Any, rollout: Rollout, mesh: Mesh | None = None) -> list[str]:
    """Completion text of every row of this process (all rows with one process), without the stop token."""
    ids = host_local(rollout.completion_ids, mesh)
    lengths = host_local(rollout.lengths, mesh)
    stopped = ~host_local(rollout.truncated, mesh)
    return [tokenizer.decode(ids[i, : n - int(s and n > 0)].tolist()) for i, (n, s) in enumerate(zip(lengths, stopped))]
