"""GRPO: configuration, group-relative advantages, optimizer and the jitted (accumulating) train step.

Losses live in :mod:`rlar_jax.losses` and are looked up by ``GRPOConfig.loss_type``. The step is
model-agnostic: it takes ``logprob_fn(model, batch) -> (logp f32[N, T], entropy f32[N, T])``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from rlar_jax.losses import LOSSES, get_loss, register_loss  # noqa: F401  (re-exported)
from rlar_jax.rollout_correction import check_rollout_is, mismatch_metrics, rollout_is_weights

LogprobFn = Callable[[nnx.Module, dict], tuple[jax.Array, jax.Array]]
SCALE_REWARDS = ("group", "batch", "none")
KL_ESTIMATORS = ("k1", "k3")


@dataclasses.dataclass(frozen=True)
class GRPOConfig:
    """Hyper-parameters of the GRPO objective. Invalid values raise ValueError naming the field."""

    # Loss normalisation, a key of rlar_jax.losses.LOSSES: "grpo" (sequence mean then batch mean),
    # "dr_grpo" (sum / (N * max_completion_length)), "dapo" (token mean over the batch, TRL's default)
    # or "bnpo" (token mean per micro-batch). See rlar_jax/losses.py for the exact definitions.
    loss_type: str = "dapo"
    # Advantage scaling after subtracting the group mean: divide by the group's std ("group"), by the
    # std of all valid rewards of the batch ("batch", more robust for low-variance groups) or not at all
    # ("none", Dr. GRPO).
    scale_rewards: str = "group"
    # Lower clip: the ratio is clipped at 1 - epsilon_low. Must be in [0, 1).
    epsilon_low: float = 0.2
    # Upper clip: the ratio is clipped at 1 + epsilon_high; > epsilon_low is DAPO's "clip-higher" (0.28).
    epsilon_high: float = 0.2
    # Dual clip constant c > 1 (e.g. 3.0): caps the loss of negative-advantage tokens at -c * A so a
    # huge ratio cannot blow up the update. None disables it.
    dual_clip: float | None = None
    # KL coefficient against the reference model; 0.0 (default, as in TRL/DAPO) skips the reference.
    beta: float = 0.0
    # KL estimator per token: "k1" = logp - ref_logp, "k3" = exp(ref - logp) - (ref - logp) - 1
    # (unbiased, always >= 0; the usual GRPO choice).
    kl_estimator: str = "k3"
    # mu: optimizer updates per generation batch. With mu > 1 the batch must carry old_logp (from the
    # policy that sampled it); with mu = 1 and no old_logp, the ratio is exp(logp - stop_grad(logp)).
    num_iterations: int = 1
    # Drop completions that hit max_completion_length without EOS from the loss (DAPO overlong filter).
    mask_truncated_completions: bool = False
    # Maximum completion length in tokens; the constant normaliser of "dr_grpo".
    max_completion_length: int = 256
    # G: completions sampled per prompt; groups are contiguous blocks of G in the batch. Must be >= 2.
    group_size: int = 8
    # Truncated importance sampling against the sampler's log-probs (batch["sampler_logp"]), see
    # rlar_jax/rollout_correction.py: "none", "token" or "sequence" (weight per token, or one weight per
    # sequence from the sum of its tokens' log-ratios), each weight capped at rollout_is_cap (> 0).
    # With it, old_logp is the trainer's own (absent with num_iterations 1: the step's forward pass).
    rollout_is: str = "none"
    rollout_is_cap: float = 2.0

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"GRPOConfig.{field} must be {expected}, got {getattr(self, field)!r}")

        def is_num(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        def is_int(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        need(self.loss_type in LOSSES, "loss_type", f"one of {sorted(LOSSES)}")
        need(self.scale_rewards in SCALE_REWARDS, "scale_rewards", f"one of {list(SCALE_REWARDS)}")
        need(is_num(self.epsilon_low) and 0 <= self.epsilon_low < 1, "epsilon_low", "a float in [0, 1)")
        need(is_num(self.epsilon_high) and self.epsilon_high >= 0, "epsilon_high", "a float >= 0")
        need(self.dual_clip is None or (is_num(self.dual_clip) and self.dual_clip > 1),
             "dual_clip", "None or a float > 1")
        need(is_num(self.beta) and self.beta >= 0, "beta", "a float >= 0")
        need(self.kl_estimator in KL_ESTIMATORS, "kl_estimator", f"one of {list(KL_ESTIMATORS)}")
        need(is_int(self.num_iterations) and self.num_iterations >= 1, "num_iterations", "an int >= 1")
        need(isinstance(self.mask_truncated_completions, bool), "mask_truncated_completions", "a bool")
        need(is_int(self.max_completion_length) and self.max_completion_length >= 1,
             "max_completion_length", "an int >= 1")
        need(is_int(self.group_size) and self.group_size >= 2, "group_size", "an int >= 2")
        check_rollout_is(self.rollout_is, self.rollout_is_cap, "GRPOConfig.")


# ----------------------------------------------------------------------------------------- advantages
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
    valid = jnp.isfinite(r)
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


def build_loss_mask(
    completion_mask: jax.Array,
    valid: jax.Array | None,
    truncated: jax.Array | None,
    cfg: GRPOConfig,
) -> jax.Array:
    """f32[N, T] loss mask: completion tokens of valid samples, minus truncated ones if configured."""
    keep = jnp.ones(completion_mask.shape[:1], bool)
    if valid is not None:
        keep &= valid.astype(bool)
    if cfg.mask_truncated_completions:
        if truncated is None:
            raise ValueError("mask_truncated_completions=True needs batch['truncated'] (bool[N]), got none")
        keep &= ~truncated.astype(bool)
    return completion_mask.astype(jnp.float32) * keep[:, None]


def dead_row_denominator(batch: dict, live: jax.Array, cfg: GRPOConfig) -> jax.Array:
    """The loss denominator of the rows outside ``live`` (bool[N]). Without a KL term a row whose
    advantage is zero adds nothing to the loss sum, only to the denominator (grpo, dr_grpo, dapo), so
    an update over the live rows with this added to its denominator has exactly the full batch's
    gradient. Not defined for bnpo, whose denominators are per micro-batch."""
    if cfg.loss_type == "bnpo" or cfg.beta > 0:
        raise ValueError(f"dead_row_denominator needs beta 0 and a loss other than bnpo, got "
                         f"loss_type={cfg.loss_type!r}, beta={cfg.beta}")
    mask = build_loss_mask(batch["completion_mask"], batch.get("valid"), batch.get("truncated"), cfg)
    mask = mask * (~live.astype(bool))[:, None]
    zeros = jnp.zeros(mask.shape, jnp.float32)
    return get_loss(cfg.loss_type)(zeros, zeros, None, jnp.zeros(mask.shape[:1], jnp.float32), mask, cfg)[1]


# ----------------------------------------------------------------------------------------- optimizer
def make_optimizer(
    lr: float = 1e-6,
    warmup_steps: int = 0,
    total_steps: int = 1000,
    weight_decay: float = 0.0,
    b1: float = 0.9,
    b2: float = 0.99,
    max_grad_norm: float = 1.0,
) -> optax.GradientTransformation:
    """AdamW after global-norm clipping, lr: linear warmup 0 -> ``lr`` then cosine decay to 0.

    Defaults follow common GRPO practice (TRL: lr 1e-6, max_grad_norm 1.0; b2 0.99 as in DeepSeekMath/
    DAPO). Weight decay applies to >= 2-D parameters only (not biases/norm scales). The learning rate
    used by the last update is readable with :func:`current_learning_rate`.
    """
    if total_steps < max(warmup_steps, 1):
        raise ValueError(f"total_steps ({total_steps}) must be >= max(warmup_steps ({warmup_steps}), 1)")
    # The cosine needs at least one step after warmup (warmup_steps == total_steps is allowed).
    sched = optax.warmup_cosine_decay_schedule(0.0, lr, warmup_steps, max(total_steps, warmup_steps + 1),
                                               end_value=0.0)
    adamw = optax.inject_hyperparams(optax.adamw, static_args=("mask",))
    return optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        adamw(learning_rate=sched, b1=b1, b2=b2, weight_decay=weight_decay,
              mask=lambda p: jax.tree.map(lambda x: jnp.ndim(x) >= 2, p)),
    )


def current_learning_rate(opt_state: Any) -> jax.Array:
    """Learning rate of the most recent update of a :func:`make_optimizer` state (NaN if absent)."""
    kinds = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    for node in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, kinds)):
        if isinstance(node, kinds) and "learning_rate" in node.hyperparams:
            return jnp.asarray(node.hyperparams["learning_rate"], jnp.float32)
    return jnp.float32(jnp.nan)


# ----------------------------------------------------------------------------------------- log-probs
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


# ----------------------------------------------------------------------------------------- train step
def _micro_loss(params, graphdef, rest, batch, cfg: GRPOConfig, logprob_fn: LogprobFn):
    model = nnx.merge(graphdef, params, rest)
    logp, entropy = logprob_fn(model, batch)
    logp = logp.astype(jnp.float32)
    mask = build_loss_mask(batch["completion_mask"], batch.get("valid"), batch.get("truncated"), cfg)
    old = batch.get("old_logp")
    if old is None:
        if cfg.num_iterations > 1:
            raise ValueError("num_iterations > 1 needs batch['old_logp'] (else the ratio is always 1)")
        old = jax.lax.stop_gradient(logp)
    sampler, extra, rollout_aux = batch.get("sampler_logp"), {}, {}
    if sampler is not None:
        # The trainer's log-probs before the update: old_logp under correction, else this forward pass.
        train_old = old if cfg.rollout_is != "none" else jax.lax.stop_gradient(logp)
        rollout_aux = mismatch_metrics(train_old, sampler, mask, cfg.rollout_is, cfg.rollout_is_cap)
        if cfg.rollout_is != "none":
            extra["is_weight"] = rollout_is_weights(train_old, sampler, mask, cfg.rollout_is, cfg.rollout_is_cap)
    elif cfg.rollout_is != "none":
        raise ValueError(f"rollout_is={cfg.rollout_is!r} needs batch['sampler_logp'] (the sampler's log-probs)")
    loss_sum, denom, aux = get_loss(cfg.loss_type)(
        logp, old, batch.get("ref_logp"), batch["advantages"], mask, cfg, **extra
    )
    ent = jax.lax.stop_gradient(entropy.astype(jnp.float32))
    aux = dict(aux, **rollout_aux, entropy=(jnp.sum(jnp.where(mask > 0, ent * mask, 0.0)), mask.sum()))
    return loss_sum, (denom, aux)


def loss_and_grads(model: nnx.Module, batch: dict, cfg: GRPOConfig,
                   logprob_fn: LogprobFn) -> tuple[nnx.State, tuple[jax.Array, jax.Array, dict]]:
    """Gradient of the *unnormalised* loss sum w.r.t. the model's nnx.Param state.

    Returns (grads nnx.State, (loss_sum, denominator, aux)); divide grads by the (accumulated)
    denominator to get the gradient of the mean loss.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    return _grads_sum(graphdef, params, rest, batch, cfg, logprob_fn)


def _grads_sum(graphdef, params, rest, batch, cfg, logprob_fn):
    vg = jax.value_and_grad(_micro_loss, has_aux=True)
    (loss_sum, (denom, aux)), grads = vg(params, graphdef, rest, batch, cfg, logprob_fn)
    return grads, (loss_sum, denom, aux)


def accumulate_grads(graphdef, params, rest, batch: dict, cfg: GRPOConfig, logprob_fn: LogprobFn,
                     num_microbatches: int = 1, denom_offset: jax.Array | float = 0.0
                     ) -> tuple[nnx.State, dict[str, jax.Array]]:
    """Sum gradients and (sum, denominator) over ``num_microbatches`` micro-batches, divide once.

    Micro-batch i takes rows i, i+k, i+2k, ... (a strided split keeps a row-sharded batch evenly spread
    over devices). Returns (mean grads, metrics dict of scalars); exact w.r.t. one big batch for
    grpo/dr_grpo/dapo (bnpo is per micro-batch by definition). ``denom_offset`` is added to the
    denominator: the share of rows left out of ``batch`` whose loss terms are zero (see
    :func:`dead_row_denominator`).
    """
    k = num_microbatches
    sizes = {key: jnp.shape(v)[0] for key, v in batch.items()}
    n = sizes.get("advantages")
    if n is None or "completion_mask" not in batch:
        raise ValueError(f"batch needs 'advantages' and 'completion_mask', got keys {sorted(batch)}")
    bad = {key: s for key, s in sizes.items() if s != n}
    if bad:
        raise ValueError(f"every batch array must have leading dim N={n}; mismatched: {bad}")
    if not isinstance(k, int) or k < 1 or n % k:
        raise ValueError(f"num_microbatches must be an int >= 1 dividing N={n}, got {k!r}")

    if k == 1:
        grads, (loss_sum, denom, aux) = _grads_sum(graphdef, params, rest, batch, cfg, logprob_fn)
        grad_dtypes = jax.tree.map(lambda g: g.dtype, grads)
    else:
        split = lambda x: jnp.moveaxis(x.reshape(n // k, k, *x.shape[1:]), 1, 0)  # noqa: E731
        micro = jax.tree.map(split, batch)
        first = jax.tree.map(lambda x: x[0], micro)
        shapes = jax.eval_shape(lambda mb: _grads_sum(graphdef, params, rest, mb, cfg, logprob_fn), first)
        # Accumulate in float32 even for bf16 params; cast back to the param dtype after scaling.
        wide = lambda s: jnp.float32 if jnp.issubdtype(s.dtype, jnp.floating) else s.dtype  # noqa: E731
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, wide(s)), shapes)

        def body(acc, mb):
            out = _grads_sum(graphdef, params, rest, mb, cfg, logprob_fn)
            return jax.tree.map(lambda a, o: a + o.astype(a.dtype), acc, out), None

        (grads, (loss_sum, denom, aux)), _ = jax.lax.scan(body, zeros, micro)
        grad_dtypes = jax.tree.map(lambda s: s.dtype, shapes[0])
    denom = denom + denom_offset
    scale = 1.0 / jnp.where(denom > 0, denom, 1.0)
    grads = jax.tree.map(lambda g, dt: (g * scale).astype(dt), grads, grad_dtypes)
    metrics = {"loss": loss_sum * scale, "denominator": denom, "valid_tokens": aux["entropy"][1]}
    for name, (s, c) in aux.items():
        metrics[name] = s / jnp.maximum(c, 1.0)
    return grads, metrics


def train_step(graphdef, params, rest, opt_state, batch: dict, *, cfg: GRPOConfig,
               tx: optax.GradientTransformation, logprob_fn: LogprobFn,
               num_microbatches: int = 1, denom_offset: jax.Array | float = 0.0
               ) -> tuple[nnx.State, Any, dict[str, jax.Array]]:
    """One optimizer update on ``batch`` (dict of [N, ...] arrays: ``completion_mask`` [N, T] and
    ``advantages`` [N] required; optional ``old_logp``, ``ref_logp``, ``sampler_logp`` [N, T],
    ``valid``, ``truncated`` [N]; the rest is for ``logprob_fn``). Returns (params, opt_state, metrics)
    with metrics loss, kl, clip fractions, ratio, entropy, grad_norm (before clipping), lr, token
    counts, update_skipped, and with ``sampler_logp`` the rollout/... mismatch metrics
    (rlar_jax.rollout_correction.mismatch_metrics).

    Without a KL term (beta 0) every loss is a sum of advantage-weighted terms, so a batch whose
    advantages are all zero (every group's rewards equal: common with sparse rewards) has an exactly
    zero gradient. Such a step skips the forward and backward passes (`lax.cond`) and gives the
    optimizer zero gradients, which is what the full computation would give it; the metrics that need
    the forward pass are NaN for that step and `update_skipped` is 1.
    """
    def full(_):
        return accumulate_grads(graphdef, params, rest, batch, cfg, logprob_fn, num_microbatches, denom_offset)

    if cfg.beta > 0:
        grads, metrics = full(None)
        metrics["update_skipped"] = jnp.zeros((), jnp.float32)
    else:
        shapes = jax.eval_shape(full, None)

        def skip(_):
            grads = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes[0])
            metrics = {k: jnp.full(s.shape, jnp.nan if jnp.issubdtype(s.dtype, jnp.floating) else 0, s.dtype)
                       for k, s in shapes[1].items()}
            metrics["loss"] = jnp.zeros(shapes[1]["loss"].shape, shapes[1]["loss"].dtype)
            return grads, metrics

        signal = jnp.any(batch["advantages"] != 0)
        grads, metrics = jax.lax.cond(signal, full, skip, None)
        metrics["update_skipped"] = 1.0 - signal.astype(jnp.float32)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    metrics["grad_norm"] = optax.tree.norm(grads)
    metrics["lr"] = current_learning_rate(opt_state)
    return params, opt_state, metrics


def init_opt_state(tx: optax.GradientTransformation, params: Any) -> Any:
    """``tx.init(params)`` laid out as the train step returns it: moments follow their parameters,
    scalar counters are replicated over the parameters' mesh (when params are mesh-sharded). Feeding
    the step a state shaped like its own output means the first and later steps share one compilation.
    """
    state = tx.init(params)
    mesh = next((x.sharding.mesh for x in jax.tree.leaves(params)
                 if isinstance(x, jax.Array) and isinstance(x.sharding, NamedSharding)), None)
    if mesh is None:
        return state
    rep = NamedSharding(mesh, PartitionSpec())
    # Leaves not yet on the params' mesh (scalar counters) are replicated over it, even a 1-device mesh:
    # the step returns them that way, and a different input sharding would recompile it.
    on_mesh = lambda x: isinstance(x, jax.Array) and isinstance(x.sharding, NamedSharding)  # noqa: E731
    return jax.tree.map(lambda x: x if on_mesh(x) else jax.device_put(x, rep), state)


def make_train_step(graphdef, cfg: GRPOConfig, tx: optax.GradientTransformation,
                    logprob_fn: LogprobFn, num_microbatches: int = 1) -> Callable:
    """Jitted ``step(params, rest, opt_state, batch) -> (params, opt_state, metrics)``.

    ``params`` and ``opt_state`` are donated (their input buffers are reused; do not touch them after
    the call). Input shardings are inferred from the arrays; the new params/opt_state are constrained
    to the shardings of the old ones, since the compiler may otherwise pick different ones (seen with a
    replicated weight coming back sharded). One compilation per distinct sharding layout.
    Obtain the pieces with ``graphdef, params, rest = nnx.split(model, nnx.Param, ...)`` and
    ``opt_state = init_opt_state(tx, params)``; rebuild the model with ``nnx.merge(graphdef, params, rest)``.
    """
    compiled: dict[Any, Callable] = {}

    def build(p_sh, o_sh, p_def, o_def) -> Callable:
        def step(params, rest, opt_state, batch, denom_offset):
            return train_step(graphdef, params, rest, opt_state, batch, cfg=cfg, tx=tx, logprob_fn=logprob_fn,
                              num_microbatches=num_microbatches, denom_offset=denom_offset)

        # The new params/opt_state come back with exactly the old ones' shardings (None: compiler's choice).
        out = (jax.tree.unflatten(p_def, list(p_sh)), jax.tree.unflatten(o_def, list(o_sh)), None)
        return jax.jit(step, donate_argnums=(0, 2), out_shardings=out)

    def shardings(tree) -> tuple:
        # Only multi-device layouts are pinned; single-device leaves (e.g. step counters) follow along.
        # Abstract leaves (jax.ShapeDtypeStruct with a sharding) count like arrays.
        return tuple(x.sharding if isinstance(x, (jax.Array, jax.ShapeDtypeStruct))
                     and getattr(x, "sharding", None) is not None and len(x.sharding.device_set) > 1 else None
                     for x in jax.tree.leaves(tree))

    def jitted(params, opt_state) -> Callable:
        """The jitted step for this layout of params and opt_state (arrays or abstract
        jax.ShapeDtypeStructs), e.g. to ``.lower(params, rest, opt_state, batch, denom_offset)`` ahead
        of time."""
        key = (shardings(params), shardings(opt_state))
        if key not in compiled:
            compiled[key] = build(*key, jax.tree.structure(params), jax.tree.structure(opt_state))
        return compiled[key]

    def run(params, rest, opt_state, batch, denom_offset: float = 0.0):
        return jitted(params, opt_state)(params, rest, opt_state, batch, jnp.asarray(denom_offset, jnp.float32))

    run.compiled = compiled  # sharding layout -> jitted step, for inspection
    run.jitted = jitted
    return run
