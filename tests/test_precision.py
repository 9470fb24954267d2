"""Mixed precision on the tiny config: float32 master weights with bfloat16 compute, the compute-dtype
weight copy rollouts sample with, the pure-bf16 learning-rate warning, and the config keys."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlar_jax.config import ConfigError, ModelSection, load_config
from rlar_jax.grpo import GRPOConfig, group_advantages, init_opt_state, make_optimizer, make_train_step
from rlar_jax.policy import build_policy
from rlar_jax.precision import ComputeCopy, PrecisionWarning, min_learning_rate, warn_if_lr_too_small

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
RANDOM_CONFIG = load_config(TINY).model.random_config
QUIET = ["trainer.eval_before=false", "trainer.eval_after=false", "trainer.checkpoint_every=0",
         "trainer.plot=false", "trainer.tensorboard=false", "trainer.progress=false"]


def tiny_policy(dtype: str, param_dtype: str = "float32"):
    return build_policy(ModelSection(name="random", dtype=dtype, param_dtype=param_dtype,
                                     random_config=RANDOM_CONFIG, random_seed=0), None)


def flat_params(model) -> dict[str, np.ndarray]:
    return {".".join(map(str, k)): np.asarray(v.get_value().astype(jnp.float32))
            for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}


class RowReward:
    """Reward = a row's index within its group of 4: every group has non-zero advantages."""

    def score(self, examples, completions):
        return np.arange(len(completions), dtype=np.float32) % 4, [{"plan_id": "row"}] * len(completions)


# ------------------------------------------------------------------------------------------- config
def test_config_keys_and_bad_values_name_the_field():
    cfg = load_config(TINY)
    assert (cfg.model.dtype, cfg.model.param_dtype) == ("float32", "float32")
    assert (cfg.loss.rollout_is, cfg.loss.rollout_is_cap) == ("none", 2.0)
    for name in ("gpu_single_host", "tpu_pod", "multitask_gpu"):
        shipped = load_config(ROOT / "configs" / f"{name}.yaml")
        assert (shipped.model.dtype, shipped.model.param_dtype) == ("bfloat16", "float32"), name
        assert (shipped.loss.rollout_is, shipped.loss.rollout_is_cap) == ("token", 2.0), name
    bad = {"model.dtype=int8": r"model: dtype must be one of \['float32', 'bfloat16', 'float16'\], got 'int8'",
           "model.param_dtype=float64": r"model: param_dtype must be one of .* got 'float64'",
           "loss.rollout_is=geometric": r"loss\.rollout_is: expected one of 'none' \| 'token' \| 'sequence'",
           "loss.rollout_is_cap=0": r"loss: rollout_is_cap must be > 0, got 0",
           "loss.rollout_is_cap=-2.0": r"loss: rollout_is_cap must be > 0, got -2"}
    for override, message in bad.items():
        with pytest.raises(ConfigError, match=message):
            load_config(TINY, [override])


# --------------------------------------------------------------------------------- the compute copy
def test_compute_copy_is_bf16_gives_the_same_logits_and_follows_updates():
    policy = tiny_policy("bfloat16")
    params = nnx.state(policy.model, nnx.Param)
    assert {x.dtype for x in jax.tree.leaves(params)} == {jnp.dtype(jnp.float32)}
    assert policy.config.dtype == "bfloat16" and policy.config.param_dtype == "float32"
    copy = ComputeCopy(policy.model)
    sampler = copy.get()
    assert copy.needed and copy.get() is sampler  # cast once, reused until the params change
    assert {x.dtype for x in jax.tree.leaves(nnx.state(sampler, nnx.Param))} == {jnp.dtype(jnp.bfloat16)}
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, 256, (2, 12)), jnp.int32)
    # The model casts each float32 weight to bf16 where it is used: the copy only moves that cast earlier.
    np.testing.assert_array_equal(np.asarray(sampler(tokens)[0]), np.asarray(policy.model(tokens)[0]))
    nnx.update(policy.model, jax.tree.map(lambda x: x + 1.0, params))
    assert copy.get() is sampler  # stale until invalidated
    copy.invalidate()
    moved = copy.get()
    np.testing.assert_array_equal(np.asarray(moved.model.final_norm[...], np.float32),
                                  np.asarray(policy.model.model.final_norm[...]).astype(jnp.bfloat16)
                                  .astype(np.float32))
    same = tiny_policy("float32")
    assert ComputeCopy(same.model).get() is same.model  # nothing to cast


# ----------------------------------------------------------------- one update at lr 1e-6 (real Trainer)
def test_bf16_compute_with_fp32_params_changes_every_parameter_at_lr_1e_6(tmp_path):
    from rlar_jax.trainer import Trainer

    cfg = load_config(TINY, [f"trainer.run_dir={tmp_path}", "trainer.steps=1", "model.dtype=bfloat16",
                             "model.param_dtype=float32", "optim.learning_rate=1.0e-6", "loss.rollout_is=token",
                             *QUIET])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)  # float32 master weights: no warning
        trainer = Trainer(cfg, reward_fn=RowReward())
    before = flat_params(trainer.policy.model)
    assert trainer.sampler.needed  # rollouts sample from a bf16 copy
    trainer.run()
    after = flat_params(trainer.policy.model)
    changed = {k: float(np.mean(after[k] != before[k])) for k in before}
    print("fraction of elements changed per parameter:", changed)
    assert len(changed) >= 10
    assert min(changed.values()) >= 0.9999, changed  # measured: 1.0, the embedding 0.99994 (1 of 16576)
    rec = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert rec["update_skipped"] == 0 and rec["lr"] == pytest.approx(1e-6)
    # bf16 sampler vs float32 trainer: a measurable, small mismatch; weights near 1, capped at 2.
    print({k: v for k, v in rec.items() if k.startswith("rollout/")})
    assert 1e-4 < rec["rollout/logp_abs_diff"] < 0.2
    assert 0.5 < rec["rollout/seq_ratio"] < 2.0
    assert 0.9 < rec["rollout/is_weight"] <= 2.0 and 0 <= rec["rollout/is_truncated"] < 0.05


# ------------------------------------------------------------------------------- pure bf16 safeguard
def test_pure_bf16_with_a_small_lr_warns_and_its_update_rounds_away(tmp_path):
    from rlar_jax.trainer import Trainer

    policy = tiny_policy("bfloat16", "bfloat16")
    mats = [np.abs(np.asarray(x, np.float32)) for x in jax.tree.leaves(nnx.state(policy.model, nnx.Param))
            if x.ndim >= 2]
    floor = 2.0 ** -8 * np.concatenate([m.ravel() for m in mats]).mean()  # eps(bf16) / 2 x mean |w|
    assert min_learning_rate(nnx.state(policy.model, nnx.Param), "bfloat16") == pytest.approx(floor, rel=1e-5)
    assert 1e-5 < floor < 1e-3  # weights of std 0.02: about 6e-5
    with pytest.warns(PrecisionWarning, match=r"optim\.learning_rate=1e-06 .* model\.param_dtype=bfloat16"):
        assert warn_if_lr_too_small(policy.model, 1e-6) is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error", PrecisionWarning)
        assert warn_if_lr_too_small(policy.model, 2 * floor) is None
        assert warn_if_lr_too_small(tiny_policy("bfloat16").model, 1e-9) is None  # float32 params
    cfg = load_config(TINY, [f"trainer.run_dir={tmp_path}", "model.dtype=bfloat16", "model.param_dtype=bfloat16",
                             "optim.learning_rate=1.0e-6", *QUIET])
    with pytest.warns(PrecisionWarning, match=r"model\.param_dtype=bfloat16"):
        Trainer(cfg, reward_fn=RowReward())

    # What the warning is about: one step at lr 1e-6 leaves most bf16 weights exactly as they were.
    before = flat_params(policy.model)
    task = FirstLetterTask(policy, lr=1e-6)
    task.step()
    after = flat_params(policy.model)
    unchanged = np.mean(np.concatenate([(after[k] == before[k]).ravel() for k in before]))
    print(f"pure bf16, lr 1e-6: {unchanged:.1%} of the parameters unchanged after one update")
    assert unchanged > 0.9


# -------------------------------------------------------------------- learning curve: bf16 vs float32
LETTER = "Q"
PROMPTS = ["Tell me about rain.", "Describe snow.", "Say a word about cats.", "Write a line on dogs.",
           "Tell me about ships.", "Describe bread.", "Say a word about stars.", "Write a line on trees."]
OTHERS = "abcdefghijklmnopqrstuvwxyz"
G = 8


class FirstLetterTask:
    """The learnable task of tests/test_learning.py (reward 1 when a completion starts with Q) on a fixed
    pool: each prompt's group holds 2 completions starting with Q and 6 with other letters (then EOS),
    so two runs see the same samples and differ only in their numerics. Each step takes the sampler's
    log-probs from the compute-dtype copy (as the trainer's rollouts do), then one GRPO update."""

    def __init__(self, policy, lr: float, rollout_is: str = "none"):
        from rlar_jax.trainer import make_logprob_fn

        tok = policy.tokenizer
        q, eos = tok.encode(LETTER)[0], tok.eos_ids[0]
        prompts = [tok.encode(p) for p in PROMPTS]
        width = max(map(len, prompts))
        rows, attn, firsts = [], [], []
        for i, p in enumerate(prompts):  # left-padded prompt, then the first letter and EOS
            for g in range(G):
                first = q if g < 2 else tok.encode(OTHERS[(3 * i + g) % len(OTHERS)])[0]
                rows.append([tok.pad_id] * (width - len(p)) + p + [first, eos])
                attn.append([False] * (width - len(p)) + [True] * (len(p) + 2))
                firsts.append(first == q)
        tokens, attn = np.asarray(rows, np.int32), np.asarray(attn)
        self.is_q = np.asarray(firsts)
        adv, valid = group_advantages(jnp.asarray(self.is_q, jnp.float32), G)
        self.batch = {"tokens": jnp.asarray(tokens), "attn_mask": jnp.asarray(attn),
                      "completion_mask": jnp.ones((len(rows), 2), bool), "advantages": adv, "valid": valid,
                      "truncated": jnp.zeros(len(rows), bool)}
        self.model, self.copy = policy.model, ComputeCopy(policy.model)
        cfg = GRPOConfig(loss_type="dapo", epsilon_high=0.28, group_size=G, max_completion_length=2,
                         rollout_is=rollout_is)
        logprob_fn = make_logprob_fn(1.0)
        self.graphdef, self.params, self.rest = nnx.split(self.model, nnx.Param, ...)
        self.tx = make_optimizer(lr, 0, 1000)
        self.opt_state = init_opt_state(self.tx, self.params)
        self.step_fn = make_train_step(self.graphdef, cfg, self.tx, logprob_fn)
        self.sampler_logp = nnx.jit(lambda m, b: logprob_fn(m, b)[0])
        self.rollout_is = rollout_is

    def step(self) -> dict[str, float]:
        """One update; returns the sampler's expected reward p(Q) and NLL of Q before it, and the metrics."""
        slp = self.sampler_logp(self.copy.get(), self.batch)
        p_q = np.exp(np.asarray(slp[:, 0])[self.is_q])
        batch = dict(self.batch, sampler_logp=slp)
        if self.rollout_is == "none":
            batch["old_logp"] = slp
        self.params, self.opt_state, m = self.step_fn(self.params, self.rest, self.opt_state, batch)
        nnx.update(self.model, self.params)
        self.copy.invalidate()
        return {"p_q": float(p_q.mean()), "nll_q": float(-np.log(p_q).mean()),
                **{k: float(v) for k, v in m.items()}}


def test_bf16_compute_learning_curve_matches_float32():
    """bf16 compute with float32 master weights learns like float32. Tolerance: at each of the 10 steps
    (p(Q) rising from 1/259 to about 0.46), p(Q) within 0.03 of the float32 run and the task loss
    -log p(Q) within 5% of it. Measured: at most 0.013 and 3.6% (step 9); later steps of this fixed-pool
    task at lr 0.01 turn oscillatory, where Adam amplifies any rounding difference, float32 runs included."""
    steps, lr = 10, 0.01
    curves = {}
    for dtype in ("float32", "bfloat16"):
        task = FirstLetterTask(tiny_policy(dtype), lr)
        curves[dtype] = [task.step() for _ in range(steps)]
    f32, b16 = curves["float32"], curves["bfloat16"]
    print("\np(Q) float32: ", " ".join(f"{r['p_q']:.3f}" for r in f32))
    print("p(Q) bfloat16:", " ".join(f"{r['p_q']:.3f}" for r in b16))
    print("|dlogp| bf16 sampler vs fp32 trainer:", " ".join(f"{r['rollout/logp_abs_diff']:.4f}" for r in b16))
    assert f32[0]["p_q"] < 0.02 and min(f32[-1]["p_q"], b16[-1]["p_q"]) > 0.4  # the task is being learned
    for a, b in zip(f32, b16):
        assert abs(a["p_q"] - b["p_q"]) <= 0.03, (a["p_q"], b["p_q"])
        assert abs(a["nll_q"] - b["nll_q"]) <= 0.05 * a["nll_q"], (a["nll_q"], b["nll_q"])
        assert abs(a["loss"] - b["loss"]) <= 0.01  # the GRPO surrogate (near 0: on-policy, zero-mean advantages)
        assert a["rollout/logp_abs_diff"] < 1e-5 < b["rollout/logp_abs_diff"] < 0.05
