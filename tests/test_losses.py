"""GRPO losses vs a float64 NumPy reference: values, analytic gradients w.r.t. logp, metrics."""

import zlib

import numpy as np
import jax
import jax.numpy as jnp
import pytest

from rlar_jax.grpo_config import GRPOConfig
from rlar_jax.losses import LOSSES, get_loss, loss_spec, register_loss, row_additive_losses, token_losses

N, T, L_MAX = 8, 7, 9


def make_inputs(seed: int):
    rng = np.random.default_rng(seed)
    old = rng.normal(-2.0, 0.5, (N, T))
    logp = old + rng.normal(0.0, 0.7, (N, T))  # ratios spread across both clip bounds
    ref = logp + rng.normal(0.0, 0.4, (N, T))
    adv = rng.normal(0.0, 1.0, N)
    # Force every clip branch: dual (ratio e^1.5 > c, A < 0), low (ratio < 1 - eps, A < 0), high.
    adv[0], logp[0] = -abs(adv[0]) - 0.5, old[0] + 1.5
    adv[1], logp[1] = -abs(adv[1]) - 0.1, old[1] - 0.5
    adv[3], logp[3] = abs(adv[3]) + 0.1, old[3] + 0.5
    lengths = rng.integers(1, T + 1, N)
    mask = (np.arange(T)[None] < lengths[:, None]).astype(np.float64)
    mask[2] = 0.0  # an invalid sample: zeroed row
    # Garbage where masked: exp(logp - old) would overflow if padding were not excluded.
    logp = np.where(mask > 0, logp, 80.0)
    ref = np.where(mask > 0, ref, -80.0)
    return logp, old, ref, adv, mask


def np_reference(logp, old, ref, adv, mask, cfg, loss_type):
    """Float64 loss value and d loss / d logp, written independently of the JAX code."""
    on = mask > 0
    ratio = np.exp(np.where(on, logp - old, 0.0))
    a = adv[:, None]
    lo, hi = 1 - cfg.epsilon_low, 1 + cfg.epsilon_high
    pg = -np.minimum(ratio * a, np.clip(ratio, lo, hi) * a)
    clipped = ((a > 0) & (ratio > hi)) | ((a < 0) & (ratio < lo))
    dpg = np.where(clipped, 0.0, -ratio * a)
    dual_hit = np.zeros_like(on)
    if cfg.dual_clip is not None:
        cap = -cfg.dual_clip * a
        dual_hit = (a < 0) & (pg > cap)
        pg, dpg = np.where(dual_hit, cap, pg), np.where(dual_hit, 0.0, dpg)
    d = np.where(on, ref - logp, 0.0)
    kl = -d if cfg.kl_estimator == "k1" else np.exp(d) - d - 1
    dkl = np.ones_like(d) if cfg.kl_estimator == "k1" else 1 - np.exp(d)
    tok = (pg + cfg.beta * kl) * mask
    dtok = (dpg + cfg.beta * dkl) * mask
    seq_tok = mask.sum(1)
    n_valid = (seq_tok > 0).sum()
    if loss_type == "grpo":
        w = 1.0 / (np.maximum(seq_tok, 1) * n_valid)[:, None]
    elif loss_type == "dr_grpo":
        w = 1.0 / (n_valid * cfg.max_completion_length)
    else:  # dapo and bnpo agree on a single (micro-)batch
        w = 1.0 / mask.sum()
    metrics = {
        "clip_low": ((a < 0) & (ratio < lo) & on).sum() / mask.sum(),
        "clip_high": ((a > 0) & (ratio > hi) & on).sum() / mask.sum(),
        "ratio": (ratio * mask).sum() / mask.sum(),
        "kl": (kl * mask).sum() / mask.sum(),
        "clip_dual": (dual_hit & on).sum() / mask.sum(),
    }
    return (tok * w).sum(), dtok * w, metrics


VARIANTS = {
    "plain": dict(),  # the defaults: clip-higher 0.2 / 0.28
    "symmetric": dict(epsilon_low=0.2, epsilon_high=0.2),
    "clip_higher_dual": dict(epsilon_low=0.2, epsilon_high=0.28, dual_clip=3.0),
    "k1": dict(beta=0.05, kl_estimator="k1"),
    "k3_dual": dict(beta=0.1, kl_estimator="k3", dual_clip=2.0),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("loss_type", ["grpo", "dr_grpo", "dapo", "bnpo"])
def test_loss_value_and_grad_match_numpy(loss_type, variant):
    cfg = GRPOConfig(loss_type=loss_type, max_completion_length=L_MAX, **VARIANTS[variant])
    logp, old, ref, adv, mask = make_inputs(seed=zlib.crc32(f"{loss_type}/{variant}".encode()) % 1000)
    want, want_grad, want_m = np_reference(logp, old, ref, adv, mask, cfg, loss_type)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    args = tuple(map(f32, (old, ref, adv, mask)))

    def mean_loss(lp):
        s, d, aux = get_loss(loss_type)(lp, args[0], args[1], args[2], args[3], cfg)
        return s / d, aux

    (got, aux), grad = jax.jit(jax.value_and_grad(mean_loss, has_aux=True))(f32(logp))
    np.testing.assert_allclose(float(got), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(grad), want_grad, rtol=1e-5, atol=1e-6)
    assert np.isfinite(np.asarray(grad)).all()
    for name in ("clip_low", "clip_high", "ratio", "kl"):
        s, c = aux[name]
        np.testing.assert_allclose(float(s / c), want_m[name], rtol=1e-6, atol=1e-7)
    assert want_m["clip_low"] > 0 and want_m["clip_high"] > 0  # both clip branches exercised
    if cfg.dual_clip is not None:
        s, c = aux["clip_dual"]
        assert want_m["clip_dual"] > 0  # the dual clip branch is exercised
        np.testing.assert_allclose(float(s / c), want_m["clip_dual"], rtol=1e-6)


def test_micro_batch_sums_compose_exactly():
    """Summing (sum, denominator) over halves equals the full batch for grpo/dr_grpo/dapo; bnpo is
    the equal-weight mean of the two local token means, which differs when token counts differ."""
    logp, old, ref, adv, mask = (jnp.asarray(x, jnp.float32) for x in make_inputs(3))
    halves = (slice(0, 3), slice(3, N))  # unequal token counts
    for lt in ("grpo", "dr_grpo", "dapo", "bnpo"):
        cfg = GRPOConfig(loss_type=lt, beta=0.05, max_completion_length=L_MAX)
        fn = get_loss(lt)
        parts = [fn(logp[h], old[h], ref[h], adv[h], mask[h], cfg) for h in halves]
        acc = sum(p[0] for p in parts) / sum(p[1] for p in parts)
        s, d, _ = fn(logp, old, ref, adv, mask, cfg)
        if lt != "bnpo":
            np.testing.assert_allclose(float(acc), float(s / d), rtol=1e-6)
        else:
            local = [float(p[0]) for p in parts]  # each is its micro-batch's token mean
            np.testing.assert_allclose(float(acc), np.mean(local), rtol=1e-6)
            dapo_s, dapo_d, _ = get_loss("dapo")(logp, old, ref, adv, mask, cfg)
            np.testing.assert_allclose(float(s / d), float(dapo_s / dapo_d), rtol=1e-6)
            assert abs(float(acc) - float(dapo_s / dapo_d)) > 1e-4


def test_empty_batch_gives_zero_loss_and_zero_denominator():
    logp, old, ref, adv, _ = (jnp.asarray(x, jnp.float32) for x in make_inputs(4))
    zero = jnp.zeros((N, T))
    for lt in ("grpo", "dr_grpo", "dapo", "bnpo"):
        cfg = GRPOConfig(loss_type=lt, max_completion_length=L_MAX)
        s, d, _ = get_loss(lt)(logp, old, ref, adv, zero, cfg)
        assert float(s) == 0.0 and float(d) == 0.0


def test_registry_and_errors():
    @register_loss("unit_sum", row_additive=False)
    def unit_sum(logp, old_logp, ref_logp, advantages, mask, cfg):
        tok, aux = token_losses(logp, old_logp, ref_logp, advantages, mask, cfg)
        return tok.sum(), jnp.float32(1.0), aux

    try:
        assert get_loss("unit_sum") is unit_sum
        assert loss_spec("unit_sum").row_additive is False
        assert GRPOConfig(loss_type="unit_sum").loss_type == "unit_sum"
        with pytest.raises(ValueError, match="already registered"):
            register_loss("unit_sum", row_additive=False)(unit_sum)
    finally:
        del LOSSES["unit_sum"]
    with pytest.raises(TypeError, match="row_additive"):
        register_loss("unit_sum")  # the metadata must be stated
    with pytest.raises(TypeError, match="row_additive must be a bool"):
        register_loss("unit_sum", row_additive=1)
    assert "unit_sum" not in LOSSES
    with pytest.raises(ValueError, match=r"^loss_type: unknown loss 'nope'; registered: \['grpo', .*register_loss\)"):
        get_loss("nope")

    logp, old, ref, adv, mask = (jnp.asarray(x, jnp.float32) for x in make_inputs(5))
    cfg = GRPOConfig(loss_type="grpo", max_completion_length=L_MAX)
    with pytest.raises(ValueError, match=r"old_logp must have the shape of logp \(8, 7\), got \(8, 6\)"):
        get_loss("grpo")(logp, old[:, :6], ref, adv, mask, cfg)
    with pytest.raises(ValueError, match=r"advantages must be \[N\]"):
        get_loss("grpo")(logp, old, ref, adv[:4], mask, cfg)
    with pytest.raises(ValueError, match="beta > 0 needs ref_logp"):
        get_loss("dapo")(logp, old, None, adv, mask, GRPOConfig(beta=0.1))
    with pytest.raises(ValueError, match="T=7 exceeds max_completion_length=5"):
        get_loss("dr_grpo")(logp, old, ref, adv, mask, GRPOConfig(loss_type="dr_grpo", max_completion_length=5))


def test_row_additive_metadata_decides_what_the_update_may_drop():
    assert {n: LOSSES[n].row_additive for n in ("grpo", "dr_grpo", "dapo", "bnpo")} == {
        "grpo": True, "dr_grpo": True, "dapo": True, "bnpo": False}
    assert row_additive_losses() == ["grpo", "dr_grpo", "dapo"]
    for lt in ("grpo", "dr_grpo", "dapo", "bnpo"):
        cfg = GRPOConfig(loss_type=lt)
        assert not cfg.needs_reference and cfg.can_drop_zero_advantage_rows == (lt != "bnpo")
        kl = GRPOConfig(loss_type=lt, beta=0.04)  # a KL term makes every row count
        assert kl.needs_reference and not kl.can_drop_zero_advantage_rows
    with pytest.raises(ValueError, match=r"^dropping zero-advantage groups needs loss\.beta 0 and a row-additive "
                                         r"loss \(grpo, dr_grpo, dapo\), got loss_type='bnpo', beta=0\.0$"):
        GRPOConfig(loss_type="bnpo").check_can_drop_zero_advantage_rows("dropping zero-advantage groups")
    # What the flag promises: without the zero-advantage rows, and with their denominator added back,
    # the loss is the full batch's. bnpo's per-micro-batch token mean does not keep that promise.
    logp, old, _, adv, mask = (jnp.asarray(x, jnp.float32) for x in make_inputs(6))
    adv = adv.at[jnp.asarray([1, 4, 5])].set(0.0)
    live, dead = np.array([0, 2, 3, 6, 7]), np.array([1, 4, 5])
    for lt in ("grpo", "dr_grpo", "dapo", "bnpo"):
        cfg, fn = GRPOConfig(loss_type=lt, max_completion_length=L_MAX), get_loss(lt)
        s, d, _ = fn(logp, old, None, adv, mask, cfg)
        s_live, d_live, _ = fn(logp[live], old[live], None, adv[live], mask[live], cfg)
        d_dead = fn(logp[dead], old[dead], None, adv[dead], mask[dead], cfg)[1]
        assert float(s) != 0.0
        gap = abs(float(s_live / (d_live + d_dead)) - float(s / d))
        assert (gap < 1e-6) if cfg.can_drop_zero_advantage_rows else (gap > 1e-3), (lt, gap)


def test_a_loss_registered_in_user_code_is_selectable_from_yaml(tmp_path):
    """A plain REINFORCE sum, registered here, trains the tiny config from `loss.loss_type` alone."""
    from tiny_run import run_tiny

    traced = []

    @register_loss("reinforce_sum", row_additive=True)
    def reinforce_sum(logp, old_logp, ref_logp, advantages, mask, cfg):
        traced.append(logp.shape)
        w = jnp.where(mask > 0, mask, 0.0)
        n_tok = w.sum()
        mean_logp = (jax.lax.stop_gradient(jnp.sum(logp * w)), n_tok)  # marks the metrics as this loss's
        return -jnp.sum(advantages[:, None] * logp * w), n_tok, {"reinforce/logp": mean_logp}

    try:
        trainer, rows = run_tiny(tmp_path / "reinforce", "loss.loss_type=reinforce_sum", "trainer.steps=2")
    finally:
        del LOSSES["reinforce_sum"]
    assert trainer.grpo.loss_type == "reinforce_sum" and traced
    assert trainer.live_groups is not None  # declared row-additive, no KL term
    assert [r["step"] for r in rows] == [0, 1]
    for r in rows:
        assert r["update_skipped"] == 0.0 and np.isfinite(r["loss"]) and r["loss"] != 0.0
        assert np.isfinite(r["reinforce/logp"]) and r["reinforce/logp"] < 0  # mean log-prob of the completions
        assert r["grad_norm"] > 0
