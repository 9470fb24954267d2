"""A trusted, deterministic host-side reward used by trainer tests (`rewards.system: custom`)."""

import numpy as np


class LengthReward:
    """Reward = completion length in characters / 30, capped at 1: gives every group a learning signal."""

    def score(self, examples, completions):
        rewards = np.array([min(len(c), 30) / 30 for c in completions], np.float32)
        return rewards, [{"plan_id": "length"} for _ in completions]


class CountingLengthReward(LengthReward):
    """LengthReward that also records, per process, how many completions this process scored."""

    def score(self, examples, completions):
        import os

        import jax

        log_dir = os.environ.get("RLAR_TEST_SCORE_LOG")
        if log_dir:
            with open(os.path.join(log_dir, f"scored_{jax.process_index()}.txt"), "a") as f:
                f.write(f"{len(completions)}\n")
        return super().score(examples, completions)
