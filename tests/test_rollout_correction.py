"""Truncated importance weights and the sampler/trainer mismatch metrics against a direct NumPy
computation, their place in the loss (stop-gradient, KL unweighted) and in the accumulated train step."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlar_jax.grpo import GRPOConfig, accumulate_grads
from rlar_jax.losses import token_losses
from rlar_jax.rollout_correction import mismatch_metrics, rollout_is_weights

N, T = 6, 7
_rng = np.random.default_rng(0)
TRAIN = _rng.normal(-2.0, 1.0, (N, T)).astype(np.float32)
SAMPLER = (TRAIN + _rng.normal(0.0, 0.8, (N, T))).astype(np.float32)
MASK = np.ones((N, T), np.float32)
MASK[1, 4:] = 0  # padding after the stop token
MASK[4, :] = 0  # a row without loss tokens (failed reward)
ADV = np.array([1.0, -1.0, 0.5, 2.0, 0.0, -0.5], np.float32)


def np_log_weights(mode: str) -> np.ndarray:
    d = np.where(MASK > 0, TRAIN.astype(np.float64) - SAMPLER, 0.0)
    return np.broadcast_to(d.sum(-1, keepdims=True), d.shape) if mode == "sequence" else d


def np_weights(mode: str, cap: float) -> np.ndarray:
    if mode == "none":
        return np.ones((N, T))
    return np.where(MASK > 0, np.minimum(np.exp(np_log_weights(mode)), cap), 1.0)


@pytest.mark.parametrize("mode,cap", [("token", 2.0), ("token", 0.5), ("sequence", 1.0), ("sequence", 0.5),
                                      ("none", 2.0)])
def test_weights_match_numpy(mode, cap):
    want = np_weights(mode, cap)
    got = np.asarray(rollout_is_weights(jnp.asarray(TRAIN), jnp.asarray(SAMPLER), jnp.asarray(MASK), mode, cap))
    np.testing.assert_allclose(got, want, rtol=2e-6)
    if mode != "none":  # the data exercises both sides of the cap
        on = MASK > 0
        assert (want[on] == cap).any() and (want[on] < cap).any(), want


@pytest.mark.parametrize("mode,cap", [("none", 2.0), ("token", 2.0), ("sequence", 1.0)])
def test_mismatch_metrics_match_numpy(mode, cap):
    aux = mismatch_metrics(jnp.asarray(TRAIN), jnp.asarray(SAMPLER), jnp.asarray(MASK), mode, cap)
    got = {k: float(s) / float(c) for k, (s, c) in aux.items()}
    on = MASK > 0
    d = np.where(on, TRAIN.astype(np.float64) - SAMPLER, 0.0)
    rows = on.any(-1)
    want = {"rollout/logp_abs_diff": np.abs(d)[on].mean(), "rollout/seq_ratio": np.exp(d.sum(-1))[rows].mean()}
    if mode != "none":
        want["rollout/is_weight"] = np_weights(mode, cap)[on].mean()
        want["rollout/is_truncated"] = (np_log_weights(mode)[on] >= np.log(cap)).mean()
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=2e-5, err_msg=k)
    assert float(aux["rollout/logp_abs_diff"][1]) == on.sum() == 32
    assert float(aux["rollout/seq_ratio"][1]) == rows.sum() == 5


def test_weight_scales_the_policy_term_under_a_stop_gradient():
    cfg = GRPOConfig(group_size=2, epsilon_low=0.2, epsilon_high=0.28, beta=0.1, kl_estimator="k3")
    old = (TRAIN + _rng.normal(0.0, 0.3, (N, T))).astype(np.float32)
    ref = (TRAIN + _rng.normal(0.0, 0.3, (N, T))).astype(np.float32)

    def total(lp, mode):
        w = rollout_is_weights(lp, jnp.asarray(SAMPLER), jnp.asarray(MASK), mode, 2.0) if mode else None
        tok, _ = token_losses(lp, jnp.asarray(old), jnp.asarray(ref), jnp.asarray(ADV), jnp.asarray(MASK), cfg, w)
        return tok.sum()

    # NumPy: clipped surrogate times the weight, plus the unweighted k3 KL.
    ratio = np.exp(TRAIN.astype(np.float64) - old)
    a = ADV[:, None].astype(np.float64)
    pg = -np.minimum(ratio * a, np.clip(ratio, 0.8, 1.28) * a)
    dref = ref - TRAIN.astype(np.float64)
    kl = np.exp(dref) - dref - 1.0
    w = np_weights("token", 2.0)
    want = np.sum(np.where(MASK > 0, pg * w + 0.1 * kl, 0.0))
    np.testing.assert_allclose(float(total(jnp.asarray(TRAIN), "token")), want, rtol=1e-5)
    # The weight depends on logp, but no gradient flows through it: grad = w * d(pg)/dlogp + d(KL)/dlogp.
    g_w = np.asarray(jax.grad(lambda lp: total(lp, "token"))(jnp.asarray(TRAIN)), np.float64)
    unclipped = np.where(a > 0, ratio < 1.28, ratio > 0.8)
    dpg = np.where(unclipped, -a * ratio, 0.0)
    dkl = 0.1 * (1.0 - np.exp(dref))
    np.testing.assert_allclose(g_w, np.where(MASK > 0, w * dpg + dkl, 0.0), rtol=1e-4, atol=1e-6)


class LogpTable(nnx.Module):
    """A "policy" whose completion log-probs are its parameter: the step's gradient is dLoss/dlogp."""

    def __init__(self, logp: np.ndarray):
        self.logp = nnx.Param(jnp.asarray(logp))


def table_logprob_fn(model, batch):
    logp = model.logp[...][batch["rows"]]  # the micro-batch's rows of the table
    return logp, jnp.zeros_like(logp)


@pytest.mark.parametrize("mode", ["none", "token", "sequence"])
@pytest.mark.parametrize("k", [1, 2])
def test_train_step_weights_and_metrics(mode, k):
    cfg = GRPOConfig(loss_type="dapo", group_size=2, epsilon_high=0.28, rollout_is=mode, rollout_is_cap=2.0)
    graphdef, params, rest = nnx.split(LogpTable(TRAIN), nnx.Param, ...)
    batch = {"completion_mask": jnp.asarray(MASK), "advantages": jnp.asarray(ADV),
             "sampler_logp": jnp.asarray(SAMPLER), "rows": jnp.arange(N)}
    if mode == "none":
        batch["old_logp"] = jnp.asarray(SAMPLER)  # the ratio's old policy is the sampler (as in the trainer)
    grads, metrics = jax.jit(lambda p, b: accumulate_grads(graphdef, p, rest, b, cfg, table_logprob_fn, k))(
        params, batch)
    on = MASK > 0
    a = ADV[:, None].astype(np.float64)
    if mode == "none":  # ratio exp(train - sampler), clipped at 0.8 / 1.28, no weight
        ratio = np.exp(TRAIN.astype(np.float64) - SAMPLER)
        dpg = np.where(np.where(a > 0, ratio < 1.28, ratio > 0.8), -a * ratio, 0.0)
    else:  # old = this forward pass: ratio 1, gradient -A * w per token
        dpg = -a * np_weights(mode, 2.0)
    want = np.where(on, dpg, 0.0) / on.sum()
    np.testing.assert_allclose(np.asarray(jax.tree.leaves(grads)[0]), want, rtol=1e-5, atol=1e-7)
    d = np.where(on, TRAIN.astype(np.float64) - SAMPLER, 0.0)
    np.testing.assert_allclose(float(metrics["rollout/logp_abs_diff"]), np.abs(d)[on].mean(), rtol=1e-5)
    np.testing.assert_allclose(float(metrics["rollout/seq_ratio"]), np.exp(d.sum(-1))[on.any(-1)].mean(),
                               rtol=1e-5)
    assert ("rollout/is_weight" in metrics) == (mode != "none")


def test_correction_needs_the_sampler_logprobs_and_valid_settings():
    cfg = GRPOConfig(group_size=2, rollout_is="token")
    graphdef, params, rest = nnx.split(LogpTable(TRAIN), nnx.Param, ...)
    batch = {"completion_mask": jnp.asarray(MASK), "advantages": jnp.asarray(ADV), "rows": jnp.arange(N)}
    with pytest.raises(ValueError, match=r"rollout_is='token' needs batch\['sampler_logp'\]"):
        accumulate_grads(graphdef, params, rest, batch, cfg, table_logprob_fn)
    with pytest.raises(ValueError, match=r"GRPOConfig\.rollout_is must be one of"):
        dataclasses.replace(cfg, rollout_is="geometric")
    for cap in (0.0, -1.0, True):
        with pytest.raises(ValueError, match=r"GRPOConfig\.rollout_is_cap must be a number > 0"):
            dataclasses.replace(cfg, rollout_is_cap=cap)
