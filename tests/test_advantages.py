"""Advantage estimators: the registry, group-relative ("grpo") and leave-one-out ("rloo") advantages
against NumPy, and an estimator registered in user code selected from YAML."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlar_jax.advantages import ADVANTAGES, get_advantage, group_advantages, register_advantage, rloo_advantages
from rlar_jax.grpo_config import GRPOConfig

G = 4


# ----------------------------------------------------------------------------------------- grpo
def np_advantages(rewards, g, mode, eps=1e-4):
    r = np.asarray(rewards, np.float64).reshape(-1, g)
    ok = np.isfinite(r)
    adv = np.zeros_like(r)
    vals = r[ok]
    bstd = np.std(vals, ddof=1) if vals.size >= 2 else 0.0
    for i in range(r.shape[0]):
        x = r[i][ok[i]]
        if x.size == 0:
            continue
        std = {"group": np.std(x, ddof=1) if x.size >= 2 else 0.0, "batch": bstd, "none": None}[mode]
        adv[i][ok[i]] = (x - x.mean()) if std is None else (x - x.mean()) / (std + eps)
    return adv.reshape(-1), ok.reshape(-1)


@pytest.mark.parametrize("mode", ["group", "batch", "none"])
def test_advantages_match_numpy(mode):
    rng = np.random.default_rng(0)
    r = rng.normal(size=5 * G).astype(np.float32)
    r[[1, 6, 7]] = np.nan
    r[8:12] = np.nan  # an all-failed group
    r[16:20] = 0.5  # zero-std group
    adv, valid = jax.jit(group_advantages, static_argnums=(1, 2))(jnp.asarray(r), G, mode)
    want, ok = np_advantages(r, G, mode)
    np.testing.assert_allclose(np.asarray(adv), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(valid), ok)
    assert np.asarray(adv)[8:12].tolist() == [0.0] * 4 and np.isfinite(np.asarray(adv)).all()


def test_failed_sample_leaves_group_statistics():
    r = np.array([1.0, np.nan, 0.0, 3.0, 2.0, 2.5, -1.0, 0.25], np.float32)
    adv, valid = group_advantages(r, G, "group")
    alone, _ = group_advantages(r[[0, 2, 3]], 3, "group")  # the same group without the failed sample
    np.testing.assert_allclose(np.asarray(adv)[[0, 2, 3]], np.asarray(alone), rtol=1e-6)
    assert float(adv[1]) == 0.0 and not bool(valid[1])
    # An all-failed group changes neither group nor batch statistics of the others.
    for mode in ("group", "batch"):
        with_dead = np.concatenate([r[4:], np.full(G, np.nan, np.float32)])
        a1, v1 = group_advantages(with_dead, G, mode)
        a0, _ = group_advantages(r[4:], G, mode)
        np.testing.assert_allclose(np.asarray(a1)[:G], np.asarray(a0), rtol=1e-6)
        assert np.asarray(a1)[G:].tolist() == [0.0] * G and not np.asarray(v1)[G:].any()


def test_wrong_reward_length_is_an_error_not_a_broadcast():
    with pytest.raises(ValueError, match="length 8, expected 12"):
        group_advantages(np.zeros(8, np.float32), G, expected=12)
    with pytest.raises(ValueError, match="length 10 is not a multiple of group_size 4"):
        group_advantages(np.zeros(10, np.float32), G)
    with pytest.raises(ValueError, match=r"1-D \[B\*G\], got shape \(2, 4\)"):
        group_advantages(np.zeros((2, 4), np.float32), G)
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        group_advantages(np.zeros(8, np.float32), G, "std")


# ----------------------------------------------------------------------------------------- rloo
def np_rloo(rewards, g, mode, eps=1e-4):
    """Leave-one-out advantages by their definition: each reward minus the mean of the other valid
    rewards of its group, then divided by the std that grpo uses (float64)."""
    r = np.asarray(rewards, np.float64).reshape(-1, g)
    ok = np.isfinite(r)
    vals = r[ok]
    bstd = np.std(vals, ddof=1) if vals.size >= 2 else 0.0
    adv = np.zeros_like(r)
    for i in range(r.shape[0]):
        x = r[i][ok[i]]
        if x.size < 2:
            continue  # no other reward to take a baseline from
        loo = np.array([x[j] - np.delete(x, j).mean() for j in range(x.size)])
        std = {"group": np.std(x, ddof=1), "batch": bstd, "none": None}[mode]
        adv[i][ok[i]] = loo if std is None else loo / (std + eps)
    return adv.reshape(-1), ok.reshape(-1)


@pytest.mark.parametrize("mode", ["group", "batch", "none"])
def test_rloo_matches_numpy(mode):
    rng = np.random.default_rng(1)
    r = rng.normal(size=6 * G).astype(np.float32)
    r[1] = np.nan  # a failed sample: left out of its group's baseline
    r[8:12] = np.nan  # an all-failed group
    r[[12, 13, 14]] = np.nan  # one valid reward: no baseline
    r[16:20] = 0.5  # zero-std group
    adv, valid = jax.jit(rloo_advantages, static_argnums=(1, 2))(jnp.asarray(r), G, mode)
    want, ok = np_rloo(r, G, mode)
    np.testing.assert_allclose(np.asarray(adv), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(valid), ok)
    assert np.asarray(adv)[[1, 8, 9, 10, 11, 12, 13, 14, 15]].tolist() == [0.0] * 9
    # The group with a failed sample by hand: rewards a, c, d; A_a = a - (c + d) / 2.
    a, c, d = (float(r[i]) for i in (0, 2, 3))
    if mode == "none":
        np.testing.assert_allclose(float(adv[0]), a - (c + d) / 2, rtol=1e-5)
        np.testing.assert_allclose(float(adv[3]), d - (a + c) / 2, rtol=1e-5)


def test_rloo_is_grpo_times_n_over_n_minus_1_and_checks_shapes():
    r = np.array([1.0, 0.0, 0.0, 1.0, 2.0, np.nan, 0.5, 1.0], np.float32)
    g_adv, _ = group_advantages(r, G, "none")
    l_adv, _ = rloo_advantages(r, G, "none")
    np.testing.assert_allclose(np.asarray(l_adv[:4]), np.asarray(g_adv[:4]) * 4 / 3, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(l_adv[4:]), np.asarray(g_adv[4:]) * 3 / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="length 8, expected 12"):
        rloo_advantages(np.zeros(8, np.float32), G, expected=12)
    with pytest.raises(ValueError, match="length 10 is not a multiple of group_size 4"):
        rloo_advantages(np.zeros(10, np.float32), G)
    with pytest.raises(ValueError, match="scale_rewards must be one of"):
        rloo_advantages(np.zeros(8, np.float32), G, "std")


# ----------------------------------------------------------------------------------------- registry
def test_registry():
    assert list(ADVANTAGES) == ["grpo", "rloo"]
    assert get_advantage("grpo") is group_advantages and get_advantage("rloo") is rloo_advantages
    assert GRPOConfig().advantage_estimator == "grpo"
    with pytest.raises(ValueError, match=r"^advantage_estimator: unknown advantage estimator 'gae'; registered: \['grpo', 'rloo'\]"):
        get_advantage("gae")
    with pytest.raises(ValueError, match="already registered"):
        register_advantage("rloo")(rloo_advantages)
    with pytest.raises(ValueError, match=r"GRPOConfig\.advantage_estimator must be one of"):
        GRPOConfig(advantage_estimator="gae")


def test_an_estimator_registered_in_user_code_is_selectable_from_yaml(tmp_path):
    """Every valid completion gets advantage 1: the dapo loss is then -(mean ratio) = -1 at the start."""
    from tiny_run import run_tiny

    calls = []

    @register_advantage("all_ones")
    def all_ones(rewards, group_size, scale_rewards="group", eps=1e-4, expected=None):
        calls.append((group_size, scale_rewards))
        valid = jnp.isfinite(rewards)
        return jnp.where(valid, 1.0, 0.0), valid

    try:
        trainer, rows = run_tiny(tmp_path / "ones", "loss.advantage_estimator=all_ones", "loss.loss_type=dapo",
                                 "trainer.steps=2")
    finally:
        del ADVANTAGES["all_ones"]
    assert trainer.grpo.advantage_estimator == "all_ones"
    assert calls and set(calls) == {(4, "group")}  # G and scale_rewards of the tiny config
    assert [r["step"] for r in rows] == [0, 1]
    for r in rows:
        # Ratio against the sampler's log-probs of the same params: ~1, inside the clip range.
        assert r["update_skipped"] == 0.0 and abs(r["ratio"] - 1.0) < 1e-3
        np.testing.assert_allclose(r["loss"], -r["ratio"], rtol=1e-5)
