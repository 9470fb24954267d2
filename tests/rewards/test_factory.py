"""The reward-system factory: the held-out metric (one fixed verifier per family, ground-truth constraints for
instruction prompts) and the single-reward-model baseline (`rewards.system: static`)."""

from __future__ import annotations

import numpy as np
import pytest

from rlar_jax.config import ConfigError, RewardsSection, load_config
from rlar_jax.datasets.examples import Example, chat
from rlar_jax.rewards.factory import build_reward_fn, eval_reward_fn

PROMPT = "Write a poem about rain. Write everything in lowercase letters only. Do not use any commas."


def example(prompt: str, constraints: dict | None = None, task: str = "ifgen", reference: str = "") -> Example:
    return Example(chat(prompt), reference, task, {"constraints": constraints} if constraints else {})


@pytest.fixture(scope="module")
def rlar(tmp_path_factory):
    fn = build_reward_fn(RewardsSection(), tmp_path_factory.mktemp("run"))
    yield fn
    fn.close()


def test_training_reads_constraints_from_text_and_the_metric_from_ground_truth(rlar):
    # ground truth disagrees with the text on purpose: training follows the text, the metric the truth
    ex = example(PROMPT, {"uppercase": True})
    responses = ["rain falls softly on the town", "Rain falls, softly"]
    train, _ = rlar.score([ex, ex], responses)
    np.testing.assert_allclose(train, [1.0, 0.0])  # lowercase + no commas, read from the prompt
    held, prov = eval_reward_fn(rlar).score([ex, ex], responses)
    np.testing.assert_allclose(held, [0.0, 0.0])  # ground truth: all capitals
    assert prov[0]["plan_id"] and prov[0]["signature"] == "eval:instruction"


def test_metric_family_comes_from_the_example_not_the_training_plan(tmp_path):
    static = build_reward_fn(RewardsSection(system="static"), tmp_path)
    try:
        math = Example(chat("Tom has 3 apples and buys 4 more. How many apples does he have?"), "7", "arith")
        held, prov = eval_reward_fn(static).score([math, math], ["#### 7", "#### 8"])
        np.testing.assert_allclose(held, [1.0, 0.0])  # math_answer, whatever the training reward was
        assert {p["signature"] for p in prov} == {"eval:math"}
        _, train_prov = static.score([math], ["#### 7"])
        assert list(train_prov[0]["components"]) == ["reward_model:minilm-embed-sim"]
    finally:
        static.close()


def test_static_model_must_be_in_the_catalog(tmp_path):
    with pytest.raises(ValueError, match="rewards.static_model: 'nope' is not in the reward-model catalog"):
        build_reward_fn(RewardsSection(system="static", static_model="nope"), tmp_path)
    with pytest.raises(ConfigError, match="rewards.system"):
        load_config(None, ["rewards.system=fixed"])


def test_one_verifier_scores_every_task(tmp_path):
    cfg = load_config(None, ["rewards.system=verifier", "rewards.verifier=translation_chrf"]).rewards
    fn = build_reward_fn(cfg, tmp_path)
    try:
        math = Example(chat("What is 3 + 4?"), "3 + 4 = 7", "gsm8k")
        wmt = Example(chat("Translate to German: The house is small."), "Das Haus ist klein.", "wmt_en_de")
        scores, prov = fn.score([math, math, wmt], ["3 + 4 = 7", "3 + 4 = 8", "Das Haus ist klein."])
        np.testing.assert_allclose(scores[[0, 2]], [1.0, 1.0])
        assert 0.3 < scores[1] < 1.0  # chrF is continuous: most character n-grams shared
        assert {tuple(p["components"]) for p in prov} == {("verifier:translation_chrf",)}
    finally:
        fn.close()


def test_an_unknown_verifier_is_named_before_any_sandbox_starts(tmp_path):
    cfg = RewardsSection(system="verifier", verifier="no_such_verifier")
    with pytest.raises(ValueError, match=r"^rewards\.verifier: 'no_such_verifier' is neither a seed verifier id"):
        build_reward_fn(cfg, tmp_path)
