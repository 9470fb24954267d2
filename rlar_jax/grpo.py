"""GRPO: the loss mask, optimizer and the jitted (accumulating) train step (log-probs: rlar_jax.models.logprobs).

The objective's settings are :class:`rlar_jax.grpo_config.GRPOConfig`; losses live in
:mod:`rlar_jax.losses` and are looked up by ``GRPOConfig.loss_type``, advantage estimators in
:mod:`rlar_jax.advantages`. The step is model-agnostic: it takes
``logprob_fn(model, batch) -> (logp f32[N, T], entropy f32[N, T])``.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx
from jax.sharding import NamedSharding, PartitionSpec

from rlar_jax.advantages import group_advantages  # noqa: F401  (re-exported)
from rlar_jax.grpo_config import GRPOConfig  # (also re-exported)
from rlar_jax.losses import LOSSES, get_loss, register_loss  # noqa: F401  (re-exported)
from rlar_jax.rollout_correction import mismatch_metrics, rollout_is_weights

LogprobFn = Callable[[nnx.Module, dict], tuple[jax.Array, jax.Array]]


# ----------------------------------------------------------------------------------------- loss mask
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
    """The loss denominator of the rows outside ``live`` (bool[N]). When
    ``cfg.can_drop_zero_advantage_rows`` a row whose advantage is zero adds nothing to the loss sum, only
    to the denominator, so an update over the live rows with this added to its denominator has exactly
    the full batch's gradient; otherwise (KL term, or a loss such as bnpo) ValueError."""
    cfg.check_can_drop_zero_advantage_rows("dead_row_denominator")
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
    schedule: str = "cosine",
    moment_dtype: str = "float32",
) -> optax.GradientTransformation:
    """AdamW after global-norm clipping; lr: linear warmup 0 -> ``lr``, then ``schedule``: "cosine"
    (decay to 0 at ``total_steps``), "linear" (straight to 0 at ``total_steps``) or "constant".

    Defaults follow common GRPO practice (TRL: lr 1e-6, max_grad_norm 1.0; b2 0.99 as in DeepSeekMath/
    DAPO). Weight decay applies to >= 2-D parameters only (not biases/norm scales). The learning rate
    used by the last update is readable with :func:`current_learning_rate`. ``moment_dtype`` "bfloat16"
    stores both moments in bfloat16 (:func:`moments_stored_as`); the update runs in float32.
    """
    if total_steps < max(warmup_steps, 1):
        raise ValueError(f"total_steps ({total_steps}) must be >= max(warmup_steps ({warmup_steps}), 1)")
    # The decays need at least one step after warmup (warmup_steps == total_steps is allowed).
    decay_steps = max(total_steps - warmup_steps, 1)
    if schedule == "cosine":
        after = optax.cosine_decay_schedule(lr, decay_steps, alpha=0.0)
    elif schedule == "linear":
        after = optax.linear_schedule(lr, 0.0, decay_steps)
    elif schedule == "constant":
        after = optax.constant_schedule(lr)
    else:
        raise ValueError(f"lr_schedule must be 'cosine', 'linear' or 'constant', got {schedule!r}")
    sched = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup_steps), after], [warmup_steps])
    adamw = optax.inject_hyperparams(optax.adamw, static_args=("mask",))
    tx = optax.chain(
        optax.clip_by_global_norm(max_grad_norm),
        adamw(learning_rate=sched, b1=b1, b2=b2, weight_decay=weight_decay,
              mask=lambda p: jax.tree.map(lambda x: jnp.ndim(x) >= 2, p)),
    )
    return tx if moment_dtype == "float32" else moments_stored_as(tx, jnp.dtype(moment_dtype))


def moments_stored_as(tx: optax.GradientTransformation, dtype: Any) -> optax.GradientTransformation:
    """``tx`` with its floating-point state arrays (AdamW's moments, not scalar hyper-parameters) stored
    in ``dtype``: each update casts them up to float32, runs ``tx`` and casts the new state back."""
    def stored(x: Any) -> bool:
        return isinstance(x, jax.Array | jax.ShapeDtypeStruct) and x.ndim >= 1 and jnp.issubdtype(x.dtype, jnp.floating)

    def init(params: Any) -> Any:
        return jax.tree.map(lambda x: x.astype(dtype) if stored(x) else x, tx.init(params))

    def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
        wide = jax.tree.map(lambda x: x.astype(jnp.float32) if stored(x) else x, state)
        updates, new = tx.update(updates, wide, params)
        return updates, jax.tree.map(lambda x, old: x.astype(old.dtype), new, state)

    return optax.GradientTransformation(init, update)


def optimizer_for(optim: Any, total_steps: int) -> optax.GradientTransformation:
    """The optimizer of a config's ``optim`` section (:class:`rlar_jax.config.OptimSection`) over
    ``total_steps`` updates: the one place the section's fields map onto :func:`make_optimizer`."""
    return make_optimizer(optim.learning_rate, optim.warmup_steps, max(total_steps, 1), optim.weight_decay,
                          optim.b1, optim.b2, optim.max_grad_norm, optim.lr_schedule, optim.moment_dtype)


def current_learning_rate(opt_state: Any) -> jax.Array:
    """Learning rate of the most recent update of a :func:`make_optimizer` state (NaN if absent)."""
    kinds = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)
    for node in jax.tree.leaves(opt_state, is_leaf=lambda x: isinstance(x, kinds)):
        if isinstance(node, kinds) and "learning_rate" in node.hyperparams:
            return jnp.asarray(node.hyperparams["learning_rate"], jnp.float32)
    return jnp.float32(jnp.nan)


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
    over devices). Returns (mean grads, metrics dict of scalars); exact w.r.t. one big batch for a
    row-additive loss (rlar_jax.losses; bnpo is per micro-batch by definition). ``denom_offset`` is added to the
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

    When ``cfg.can_drop_zero_advantage_rows`` (no KL term, a row-additive loss) a batch whose advantages
    are all zero (every group's rewards equal: common with sparse rewards) has an exactly zero gradient.
    Such a step skips the forward and backward passes (`lax.cond`) and gives the optimizer zero
    gradients, which is what the full computation would give it; the metrics that need the forward pass
    are NaN for that step and `update_skipped` is 1.
    """
    def full(_):
        return accumulate_grads(graphdef, params, rest, batch, cfg, logprob_fn, num_microbatches, denom_offset)

    if not cfg.can_drop_zero_advantage_rows:
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
