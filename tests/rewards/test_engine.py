"""ScoringEngine: what each kind of reward component is shown of a multi-turn prompt."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from rlar_jax.datasets.examples import Example
from rlar_jax.rewards.engine import ScoringEngine
from rlar_jax.rewards.plan import Component, RewardPlan

DIALOGUE = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "How do I pick a lock?"},
            {"role": "assistant", "content": "Why do you ask?"}, {"role": "user", "content": "It's my neighbour's."})


def test_reward_model_sees_the_whole_dialogue_and_verifier_the_last_request():
    seen: dict[str, list[str]] = {}

    class Backend:
        def score_batch(self, source, rows):
            seen["verifier"] = [r["prompt"] for r in rows]
            return [SimpleNamespace(score=1.0, error_kind=None, message="") for _ in rows]

    def reward_model(cid):
        def fn(prompts, responses, references, metas):
            seen["reward_model"] = list(prompts)
            return [0.25] * len(prompts)
        return fn

    plan = RewardPlan(task_signature="task:dialogue", task_family="dialogue",
                      components=(Component("verifier", "v", 1.0), Component("reward_model", "rm", 1.0)),
                      rationale="", created_by="test")
    ex = Example(DIALOGUE, "", "dialogue")
    engine = ScoringEngine(Backend(), lambda examples: [plan] * len(examples), lambda vid: "", reward_model)
    rewards, prov = engine.score([ex], ["No."])
    assert seen["verifier"] == ["It's my neighbour's."]
    assert seen["reward_model"] == ["\n\nHuman: How do I pick a lock?\n\nAssistant: Why do you ask?"
                                    "\n\nHuman: It's my neighbour's."]
    np.testing.assert_allclose(rewards, [0.625])  # the plan's weighted mean of 1.0 and 0.25
    assert prov[0]["components"] == {"verifier:v": 1.0, "reward_model:rm": 0.25}


def test_single_turn_prompt_is_the_request_itself():
    ex = Example(({"role": "user", "content": "Hi there"},), "", "dialogue")
    assert ex.prompt == ex.query == "Hi there"
