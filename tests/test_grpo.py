"""GRPO config, optimizer, chunked log-probs, gradient accumulation and the train step (advantages:
test_advantages.py)."""

import os

# Two host devices for the sharding test; only effective if jax is not imported yet.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    _flags = os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2"
    os.environ["XLA_FLAGS"] = _flags.strip()

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from rlar_jax.advantages import group_advantages
from rlar_jax.grpo import (
    accumulate_grads, current_learning_rate, dead_row_denominator, init_opt_state, loss_and_grads, make_optimizer,
    make_train_step, optimizer_for,
)
from rlar_jax.config import load_config
from rlar_jax.grpo_config import GRPOConfig
from rlar_jax.models.logprobs import token_logprobs_chunked

VOCAB, DIM, SEQ = 13, 8, 9  # SEQ tokens -> T = SEQ - 1 predicted positions
G = 4
# One base config (KL and dual clip on) so tests share compiled functions.
CFG = GRPOConfig(loss_type="grpo", beta=0.04, dual_clip=3.0, group_size=G, max_completion_length=SEQ)


def cfg_for(loss_type: str, **kw) -> GRPOConfig:
    return dataclasses.replace(CFG, loss_type=loss_type, **kw)


# ----------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("field,value", [
    ("loss_type", "ppo"), ("advantage_estimator", "ppo"), ("scale_rewards", "std"), ("epsilon_low", 1.0),
    ("epsilon_high", -0.1), ("dual_clip", 0.5), ("beta", -1.0), ("kl_estimator", "k2"), ("num_iterations", 0),
    ("num_iterations", True), ("mask_truncated_completions", 1), ("max_completion_length", 0),
    ("group_size", 1),
])
def test_bad_config_names_field(field, value):
    with pytest.raises(ValueError, match=rf"GRPOConfig\.{field} must be"):
        GRPOConfig(**{field: value})


# ----------------------------------------------------------------------------------------- optimizer
def test_optimizer_schedule_clip_and_decay_mask():
    lr, warm, total, wd = 0.1, 2, 6, 0.5
    tx = make_optimizer(lr, warm, total, weight_decay=wd, max_grad_norm=1.0)
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(2)}
    state = tx.init(params)
    zero = jax.tree.map(jnp.zeros_like, params)
    for step in range(total):
        cosine = 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))
        want = lr * step / warm if step < warm else lr * cosine
        before = params
        updates, state = tx.update(zero, state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(float(current_learning_rate(state)), want, rtol=1e-6, atol=1e-9)
        # Zero grads: only decoupled weight decay moves the 2-D weight; the bias is excluded.
        decayed = np.asarray(before["w"]) * (1 - want * wd)
        np.testing.assert_allclose(np.asarray(params["w"]), decayed, rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(params["b"]), np.ones(2))
    # Global-norm clipping happens before Adam: its second moment sees the clipped gradient.
    tx = make_optimizer(1e-3, 0, 10, b2=0.99, max_grad_norm=1.0)
    g = {"w": jnp.full((2, 2), 3.0), "b": jnp.full(2, 4.0)}  # global norm sqrt(4*9 + 2*16) = sqrt(68)
    _, state = tx.update(g, tx.init(g), g)
    nu = state[1].inner_state[0].nu
    np.testing.assert_allclose(np.asarray(nu["w"]), 0.01 * (3.0 / math.sqrt(68)) ** 2, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(nu["b"]), 0.01 * (4.0 / math.sqrt(68)) ** 2, rtol=1e-5)


@pytest.mark.parametrize("schedule", ["constant", "linear"])
def test_optimizer_schedules_after_warmup(schedule):
    lr, warm, total = 0.1, 2, 6
    tx = make_optimizer(lr, warm, total, schedule=schedule)
    params = {"w": jnp.ones((2, 2))}
    state = tx.init(params)
    zero = jax.tree.map(jnp.zeros_like, params)
    seen = []
    for _ in range(total):
        _, state = tx.update(zero, state, params)
        seen.append(float(current_learning_rate(state)))
    after = [lr] * 4 if schedule == "constant" else [lr * (1 - k / (total - warm)) for k in range(4)]
    np.testing.assert_allclose(seen, [0.0, lr / 2, *after], rtol=1e-6, atol=1e-9)


def test_optimizer_schedule_from_config_and_bad_name():
    cfg = load_config(None, ["optim.lr_schedule=constant", "optim.learning_rate=0.5", "optim.warmup_steps=0"])
    tx = optimizer_for(cfg.optim, 3)
    params = {"w": jnp.ones((2, 2))}
    state = tx.init(params)
    for _ in range(3):
        _, state = tx.update(jax.tree.map(jnp.zeros_like, params), state, params)
    assert float(current_learning_rate(state)) == 0.5
    with pytest.raises(ValueError, match=r"optim\.lr_schedule.*'cosine' \| 'linear' \| 'constant'"):
        load_config(None, ["optim.lr_schedule=step"])
    with pytest.raises(ValueError, match="lr_schedule must be 'cosine', 'linear' or 'constant', got 'step'"):
        make_optimizer(1e-3, 0, 10, schedule="step")


def test_bfloat16_moments_are_stored_narrow_and_track_the_float32_update():
    params = {"w": jax.random.normal(jax.random.key(0), (8, 8)), "b": jnp.zeros(8)}
    full = make_optimizer(1e-2, 0, 10, schedule="constant")
    narrow = make_optimizer(1e-2, 0, 10, schedule="constant", moment_dtype="bfloat16")
    s_full, s_narrow = full.init(params), narrow.init(params)
    adam = s_narrow[1].inner_state[0]
    assert {x.dtype for x in jax.tree.leaves((adam.mu, adam.nu))} == {jnp.dtype(jnp.bfloat16)}
    assert adam.count.dtype == jnp.int32  # counters and hyper-parameters keep their dtypes
    p_full = p_narrow = params
    step = jax.jit(lambda tx_state, p, g, tx=narrow: tx.update(g, tx_state, p))
    for k in range(5):
        g = jax.tree.map(lambda x: jax.random.normal(jax.random.key(k + 1), x.shape), params)
        u_full, s_full = full.update(g, s_full, p_full)
        u_narrow, s_narrow = step(s_narrow, p_narrow, g)
        p_full, p_narrow = optax.apply_updates(p_full, u_full), optax.apply_updates(p_narrow, u_narrow)
        assert jax.tree.map(lambda x: x.dtype, s_narrow) == jax.tree.map(lambda x: x.dtype, narrow.init(params))
        # Each update differs from the float32 one only by the moments' rounding (bfloat16: 2^-8 relative),
        # a few percent of the step size lr = 1e-2 at most, also where the first moment nearly cancels.
        for a, b in zip(jax.tree.leaves(u_narrow), jax.tree.leaves(u_full)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=0.03, atol=3e-4)
    assert float(current_learning_rate(s_narrow)) == pytest.approx(1e-2)


def test_bfloat16_moments_from_config_and_their_b2_limit():
    cfg = load_config(None, ["optim.moment_dtype=bfloat16"])
    state = optimizer_for(cfg.optim, 3).init({"w": jnp.ones((2, 2))})
    assert state[1].inner_state[0].nu["w"].dtype == jnp.bfloat16
    with pytest.raises(ValueError, match=r"optim\.b2 \(0\.999\) with optim\.moment_dtype bfloat16.*b2 <= 0\.995"):
        load_config(None, ["optim.moment_dtype=bfloat16", "optim.b2=0.999"])
    with pytest.raises(ValueError, match=r"optim\.moment_dtype"):
        load_config(None, ["optim.moment_dtype=float16"])


# ----------------------------------------------------------------------------------------- log-probs
def test_chunked_logprobs_match_unchunked():
    rng = np.random.default_rng(1)
    n, t, d, v = 3, 7, 5, 29
    h = jnp.asarray(rng.normal(size=(n, t, d)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(d, v)), jnp.float32)
    y = jnp.asarray(rng.integers(0, v, (n, t)), jnp.int32)

    def full(h, w):
        lsm = jax.nn.log_softmax(h @ w, axis=-1)
        lp = jnp.take_along_axis(lsm, y[..., None], -1)[..., 0]
        return lp, -jnp.sum(jnp.exp(lsm) * lsm, -1)

    def chunked(h, w, chunk):
        return token_logprobs_chunked(h, lambda x: x @ w, y, chunk)

    for chunk in (3, 100):  # padded last chunk; chunk > T
        lp, ent = jax.jit(chunked, static_argnums=2)(h, w, chunk)
        lp0, ent0 = full(h, w)
        np.testing.assert_allclose(np.asarray(lp), np.asarray(lp0), atol=1e-5)
        np.testing.assert_allclose(np.asarray(ent), np.asarray(ent0), atol=1e-5)
    obj = lambda f: lambda h, w: jnp.sum(f(h, w)[0] * jnp.cos(jnp.arange(t)))  # noqa: E731
    g_c = jax.jit(jax.grad(obj(lambda h, w: chunked(h, w, 3)), argnums=(0, 1)))(h, w)
    g_f = jax.grad(obj(full), argnums=(0, 1))(h, w)
    for a, b in zip(g_c, g_f):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    with pytest.raises(ValueError, match=r"targets must be \[N, T\]"):
        token_logprobs_chunked(h, lambda x: x @ w, y[:, :3], 2)


# ----------------------------------------------------------------------------------------- tiny model
class TinyLM(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(VOCAB, DIM, rngs=rngs)
        self.proj = nnx.Linear(DIM, DIM, rngs=rngs)
        self.head = nnx.Linear(DIM, VOCAB, rngs=rngs)

    def __call__(self, tokens):
        return self.head(jnp.tanh(self.proj(self.embed(tokens))))


def logprob_fn(model, batch):
    tokens = batch["tokens"]
    lsm = jax.nn.log_softmax(model(tokens[:, :-1]).astype(jnp.float32), axis=-1)
    lp = jnp.take_along_axis(lsm, tokens[:, 1:, None], -1)[..., 0]
    return lp, -jnp.sum(jnp.exp(lsm) * lsm, -1)


def split_model(seed=0):
    return nnx.split(TinyLM(nnx.Rngs(seed)), nnx.Param, ...)


@jax.jit
def mixed_logp(p_main, p_other, tokens):
    """Log-probs of a blend of two models: a stand-in for the sampling policy / reference model."""
    graphdef, _, rest = split_model()
    lp = lambda p: logprob_fn(nnx.merge(graphdef, p, rest), {"tokens": tokens})[0]  # noqa: E731
    return 0.7 * lp(p_main) + 0.3 * lp(p_other)


def make_batch(seed, n=16, rewards=None):
    """A batch whose old/ref log-probs come from perturbed models, so ratios and KL are non-trivial."""
    rng = np.random.default_rng(seed)
    tokens = jnp.asarray(rng.integers(0, VOCAB, (n, SEQ)), jnp.int32)
    t, prompt = SEQ - 1, 3
    ends = rng.integers(prompt + 1, t + 1, n)
    mask = (np.arange(t)[None] >= prompt) & (np.arange(t)[None] < ends[:, None])
    if rewards is None:
        rewards = rng.normal(size=n).astype(np.float32)
    adv, valid = jax.jit(group_advantages, static_argnums=(1, 2, 3, 4))(rewards, G, "group", 1e-4, n)
    main = split_model()[1]
    return {"tokens": tokens, "completion_mask": jnp.asarray(mask, jnp.float32), "advantages": adv,
            "valid": valid, "old_logp": mixed_logp(main, split_model(101)[1], tokens),
            "ref_logp": mixed_logp(main, split_model(202)[1], tokens)}


@functools.lru_cache(maxsize=None)
def jitted_accumulate(cfg, k):
    graphdef, _, _ = split_model()
    return jax.jit(lambda p, r, b: accumulate_grads(graphdef, p, r, b, cfg, logprob_fn, k))


class CompileCounter:
    """Counts XLA backend compilations while active (jax.monitoring event listener)."""

    def __init__(self):
        self.n, self.on = 0, False
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **kw):
        if self.on and event == "/jax/core/compile/backend_compile_duration":
            self.n += 1


COMPILES = CompileCounter()


def assert_trees_close(a, b, atol=1e-5):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=1e-5)


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_accumulation_equals_big_batch(loss_type):
    cfg = cfg_for(loss_type)
    _, params, rest = split_model()
    rewards = np.where(np.arange(16) == 5, np.nan, np.arange(16.0) % 3).astype(np.float32)  # one failure
    batch = make_batch(1, rewards=rewards)
    g1, m1 = jitted_accumulate(cfg, 1)(params, rest, batch)
    g4, m4 = jitted_accumulate(cfg, 4)(params, rest, batch)
    assert_trees_close(g1, g4)
    assert max(float(jnp.abs(x).max()) for x in jax.tree.leaves(g1)) > 1e-3  # non-trivial gradient
    for key in ("loss", "kl", "clip_region", "ratio", "entropy", "denominator"):
        np.testing.assert_allclose(float(m1[key]), float(m4[key]), rtol=1e-5, atol=1e-7)
    assert float(m1["clip_region"]) > 0


def test_bnpo_accumulation_is_mean_of_micro_batch_means():
    cfg = cfg_for("bnpo")
    _, params, rest = split_model()
    batch = make_batch(2)
    k = 4
    g4, m4 = jitted_accumulate(cfg, k)(params, rest, batch)
    micro = [jax.tree.map(lambda x: x[i::k], batch) for i in range(k)]  # the strided split
    outs = [jitted_accumulate(cfg, 1)(params, rest, mb) for mb in micro]
    assert_trees_close(g4, jax.tree.map(lambda *g: sum(g) / k, *[o[0] for o in outs]))
    np.testing.assert_allclose(float(m4["loss"]), np.mean([float(o[1]["loss"]) for o in outs]), rtol=1e-5)
    # With equal token counts per micro-batch bnpo equals the big-batch (dapo) value.
    even = dict(batch, completion_mask=jnp.ones_like(batch["completion_mask"]))
    assert_trees_close(jitted_accumulate(cfg, k)(params, rest, even)[0],
                       jitted_accumulate(cfg_for("dapo"), 1)(params, rest, even)[0])


def test_failed_group_contributes_zero_gradient():
    cfg = CFG
    model = TinyLM(nnx.Rngs(0))
    rewards = np.arange(16.0, dtype=np.float32) % 5
    rewards[4:8] = np.nan  # group 1 failed entirely
    batch = make_batch(3, rewards=rewards)
    dead = jax.tree.map(lambda x: x[4:8], batch)
    grads, (loss_sum, denom, _) = jax.jit(lambda b: loss_and_grads(model, b, cfg, logprob_fn))(dead)
    assert float(loss_sum) == 0.0 and float(denom) == 0.0
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(grads))
    keep = np.r_[0:4, 8:16]
    _, params, rest = split_model()
    g_all, m_all = jitted_accumulate(cfg, 1)(params, rest, batch)
    g_kept, m_kept = jitted_accumulate(cfg, 1)(params, rest, jax.tree.map(lambda x: x[keep], batch))
    assert_trees_close(g_all, g_kept, atol=1e-6)
    np.testing.assert_allclose(float(m_all["loss"]), float(m_kept["loss"]), rtol=1e-6)


def test_truncation_mask_and_missing_inputs():
    _, params, rest = split_model()
    batch = make_batch(4)
    trunc = jnp.asarray(np.arange(16) % 3 == 0)
    cfg_t = cfg_for("dapo", mask_truncated_completions=True)
    _, m_t = jitted_accumulate(cfg_t, 1)(params, rest, dict(batch, truncated=trunc))
    _, m_v = jitted_accumulate(cfg_for("dapo"), 1)(params, rest, dict(batch, valid=batch["valid"] & ~trunc))
    np.testing.assert_allclose(float(m_t["loss"]), float(m_v["loss"]), rtol=1e-6)
    np.testing.assert_allclose(float(m_t["valid_tokens"]), float(m_v["valid_tokens"]))
    with pytest.raises(ValueError, match="needs batch\\['truncated'\\]"):
        jitted_accumulate(cfg_t, 1)(params, rest, batch)
    no_old = {k: v for k, v in batch.items() if k != "old_logp"}
    with pytest.raises(ValueError, match="num_iterations > 1 needs batch\\['old_logp'\\]"):
        jitted_accumulate(cfg_for("dapo", num_iterations=2), 1)(params, rest, no_old)
    with pytest.raises(ValueError, match="num_microbatches must be an int >= 1 dividing N=16"):
        jitted_accumulate(CFG, 3)(params, rest, batch)


def test_train_step_donates_and_decreases_loss():
    cfg = GRPOConfig(loss_type="dapo", beta=0.02, epsilon_high=0.28, group_size=G)
    graphdef, params, rest = split_model()
    tx = make_optimizer(lr=3e-2, warmup_steps=2, total_steps=20, weight_decay=0.01)
    opt_state = init_opt_state(tx, params)
    batch = make_batch(5)
    step = make_train_step(graphdef, cfg, tx, logprob_fn, num_microbatches=2)
    losses = []
    for i in range(6):
        old_leaf = jax.tree.leaves(params)[0]
        COMPILES.on, COMPILES.n = i > 0, 0
        params, opt_state, metrics = step(params, rest, opt_state, batch)
        COMPILES.on = False
        assert COMPILES.n == 0  # one compilation serves every step
        assert old_leaf.is_deleted()  # donated buffer was reused
        losses.append(float(metrics["loss"]))
        want_lr = 3e-2 * i / 2 if i < 2 else 3e-2 * 0.5 * (1 + math.cos(math.pi * (i - 2) / 18))
        np.testing.assert_allclose(float(metrics["lr"]), want_lr, rtol=1e-6, atol=1e-9)
        assert all(np.isfinite(float(v)) for v in metrics.values())
    assert losses[-1] < losses[0] - 0.05, losses
    assert all(b <= a + 1e-6 for a, b in zip(losses[2:], losses[3:])), losses


@pytest.mark.skipif(len(jax.devices()) < 2, reason="needs 2 devices (XLA_FLAGS set before jax import)")
def test_train_step_keeps_sharding():
    cfg = GRPOConfig(loss_type="grpo", beta=0.02, group_size=G)
    graphdef, params, rest = split_model()
    tx = make_optimizer(lr=1e-2, total_steps=10)
    batch = make_batch(6)
    mesh = Mesh(np.array(jax.devices()[:2]), ("fsdp",))
    spec = lambda x: P(*([None] * (x.ndim - 1) + ["fsdp"])) if x.shape[-1] % 2 == 0 else P()  # noqa: E731
    sh_params = jax.tree.map(lambda x: jax.device_put(x, NamedSharding(mesh, spec(x))), params)
    sh_batch = jax.tree.map(lambda x: jax.device_put(x, NamedSharding(mesh, P("fsdp"))), batch)
    want_specs = jax.tree.map(lambda x: x.sharding.spec, sh_params)
    ref_params, _, ref_m = make_train_step(graphdef, cfg, tx, logprob_fn, 2)(
        jax.tree.map(jnp.copy, params), rest, tx.init(params), batch)
    step = make_train_step(graphdef, cfg, tx, logprob_fn, 2)
    sh_opt = init_opt_state(tx, sh_params)
    out, out_opt, m = step(sh_params, rest, sh_opt, sh_batch)
    assert jax.tree.map(lambda x: x.sharding.spec, out) == want_specs
    adam = out_opt[1].inner_state[0]  # Adam moments follow their parameters' layout
    assert jax.tree.map(lambda x: x.sharding.spec, adam.mu) == want_specs
    assert jax.tree.map(lambda x: x.sharding.spec, adam.nu) == want_specs
    out_copy = jax.tree.map(jnp.copy, out)
    COMPILES.on, COMPILES.n = True, 0
    again, _, _ = step(out_copy, rest, out_opt, sh_batch)  # outputs feed back in
    COMPILES.on = False
    assert COMPILES.n == 0 and len(step.compiled) == 1
    assert jax.tree.map(lambda x: x.sharding.spec, again) == want_specs
    specs = jax.tree.leaves(want_specs, is_leaf=lambda s: isinstance(s, P))
    assert any(len(s) and s[-1] == "fsdp" for s in specs)  # the layout under test is really sharded
    assert_trees_close(out, ref_params, atol=1e-6)
    np.testing.assert_allclose(float(m["loss"]), float(ref_m["loss"]), rtol=1e-6)


def test_all_zero_advantages_skip_the_passes_with_the_same_update():
    # Every group has equal rewards: all advantages are 0, the gradient is exactly 0 without KL.
    cfg = GRPOConfig(loss_type="dapo", beta=0.0, group_size=G)
    graphdef, params, rest = split_model()
    tx = make_optimizer(lr=1e-2, warmup_steps=0, total_steps=10, weight_decay=0.1)
    flat = make_batch(7, rewards=np.repeat(np.arange(4.0, dtype=np.float32), G))
    assert float(jnp.abs(flat["advantages"]).max()) == 0.0
    live = make_batch(7)
    step = make_train_step(graphdef, cfg, tx, logprob_fn)
    # Reference: the full computation, then the optimizer, by hand.
    grads, ref_metrics = jitted_accumulate(cfg, 1)(params, rest, flat)
    assert all(float(jnp.abs(g).max()) == 0.0 for g in jax.tree.leaves(grads))
    opt_state = init_opt_state(tx, params)
    updates, _ = tx.update(grads, opt_state, params)
    want = optax.apply_updates(params, updates)
    # A prior live step gives Adam non-zero moments, so the skipped step still moves the params.
    p1, o1, m1 = step(jax.tree.map(jnp.copy, params), rest, init_opt_state(tx, params), live)
    assert float(m1["update_skipped"]) == 0.0 and np.isfinite(float(m1["entropy"]))
    got, _, m0 = step(jax.tree.map(jnp.copy, params), rest, init_opt_state(tx, params), flat)
    assert float(m0["update_skipped"]) == 1.0 and float(m0["loss"]) == 0.0 and float(m0["grad_norm"]) == 0.0
    assert math.isnan(float(m0["entropy"])) and math.isnan(float(m0["clip_region"]))
    for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))  # weight decay applied, nothing else
    assert any(float(jnp.abs(x - y).max()) > 0 for x, y in zip(jax.tree.leaves(got), jax.tree.leaves(params)))
    before = jax.tree.map(np.asarray, p1)
    p2, _, m2 = step(p1, rest, o1, flat)  # momentum from the live step keeps moving the params
    assert float(m2["update_skipped"]) == 1.0
    moved = [float(np.abs(np.asarray(x) - y).max()) for x, y in zip(jax.tree.leaves(p2), jax.tree.leaves(before))]
    assert max(moved) > 1e-4
    # With a KL term the gradient is not zero, so nothing is skipped.
    kl_step = make_train_step(graphdef, dataclasses.replace(cfg, beta=0.04), tx, logprob_fn)
    _, _, mk = kl_step(jax.tree.map(jnp.copy, params), rest, init_opt_state(tx, params), flat)
    assert float(mk["update_skipped"]) == 0.0 and float(mk["grad_norm"]) > 0


@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo"])
def test_live_rows_with_dead_row_denominator_give_the_full_gradient(loss_type):
    cfg = cfg_for(loss_type, beta=0.0, dual_clip=None)
    _, params, rest = split_model()
    rewards = np.arange(16.0, dtype=np.float32) % 3
    rewards[0:4] = 1.0  # groups 0 and 2 have equal rewards: zero advantage, no signal
    rewards[8:12] = 0.0
    batch = make_batch(8, rewards=rewards)
    live = np.abs(np.asarray(batch["advantages"])) > 0
    assert list(live.reshape(4, G).any(1)) == [False, True, False, True]
    g_full, m_full = jitted_accumulate(cfg, 1)(params, rest, batch)
    offset = dead_row_denominator(batch, jnp.asarray(live), cfg)
    assert float(offset) > 0
    small = jax.tree.map(lambda x: x[np.flatnonzero(live)], batch)
    graphdef = split_model()[0]
    for k in (1, 2):
        g, m = jax.jit(lambda p, r, b, o: accumulate_grads(graphdef, p, r, b, cfg, logprob_fn, k, o))(
            params, rest, small, offset)
        assert_trees_close(g, g_full, atol=1e-6)
        np.testing.assert_allclose(float(m["loss"]), float(m_full["loss"]), rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(float(m["denominator"]), float(m_full["denominator"]), rtol=1e-6)
    with pytest.raises(ValueError, match=r"dead_row_denominator needs loss\.beta 0 and a row-additive loss "
                                         r"\(grpo, dr_grpo, dapo\), got loss_type='bnpo'"):
        dead_row_denominator(batch, jnp.asarray(live), cfg_for("bnpo", beta=0.0))
    with pytest.raises(ValueError, match=r"got loss_type='dapo', beta=0\.04"):
        dead_row_denominator(batch, jnp.asarray(live), cfg_for("dapo", beta=0.04))


def test_row_additive_metadata_decides_skips_and_live_groups(tmp_path):
    """The all-zero skip, LiveGroups and the trainer's choice all follow GRPOConfig.can_drop_zero_advantage_rows."""
    from rlar_jax.config import load_config
    from rlar_jax.live_groups import LiveGroups
    from rlar_jax.losses import LOSSES, register_loss
    from rlar_jax.trainer import Trainer
    from tiny_run import TINY

    # bnpo is not row-additive: an all-zero-advantage batch runs the full passes (whose gradient is zero).
    graphdef, params, rest = split_model()
    tx = make_optimizer(lr=1e-2, total_steps=10)
    flat = make_batch(7, rewards=np.repeat(np.arange(4.0, dtype=np.float32), G))
    _, _, m = make_train_step(graphdef, cfg_for("bnpo", beta=0.0), tx, logprob_fn)(
        jax.tree.map(jnp.copy, params), rest, init_opt_state(tx, params), flat)
    assert float(m["update_skipped"]) == 0.0 and float(m["grad_norm"]) == 0.0 and np.isfinite(float(m["entropy"]))

    mesh = Mesh(np.array(jax.devices()[:1]), ("data",))
    assert LiveGroups(cfg_for("dapo", beta=0.0), 16, mesh).buckets == (4, 8)
    with pytest.raises(ValueError, match=r"^dropping zero-advantage groups needs loss\.beta 0 and a row-additive loss "
                                         r"\(grpo, dr_grpo, dapo\), got loss_type='bnpo', beta=0\.0$"):
        LiveGroups(cfg_for("bnpo", beta=0.0), 16, mesh)

    @register_loss("sum_not_additive", row_additive=False)
    def sum_not_additive(logp, old_logp, ref_logp, advantages, mask, cfg):
        return -jnp.sum(advantages[:, None] * logp * mask), jnp.float32(1.0), {}

    try:
        for loss_type, want in (("bnpo", False), ("sum_not_additive", False), ("grpo", True)):
            cfg = load_config(TINY, [f"trainer.run_dir={tmp_path}", f"loss.loss_type={loss_type}",
                                     "trainer.drop_zero_advantage_groups=true", "rewards.system=custom",
                                     "rewards.custom=rewards_for_tests:LengthReward"])
            trainer = Trainer(cfg)
            assert (trainer.live_groups is not None) == want, loss_type
    finally:
        del LOSSES["sum_not_additive"]
