"""The reward interface the trainer calls: `score(examples, completions) -> (float32[N] with NaN, provenance)`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from rlar_jax.datasets.examples import Example

# A batched reward model: (prompts, responses, references, metas) -> scores in [0, 1] (NaN on failure).
RewardModelFn = Callable[[list[str], list[str], list[str], list[dict]], Sequence[float]]


class RewardFn(Protocol):
    """Scores completions. Sample i is `completions[i]` answering `examples[i]` (groups are contiguous).

    Returns float32[N] rewards in [0, 1] (NaN for a sample whose reward failed: it is masked out of the
    loss) and one provenance dict per sample (plan id, component scores, errors, seconds). Must not raise
    for a bad sample.
    """

    def score(self, examples: Sequence[Example], completions: Sequence[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        ...


def check_rewards(rewards: Any, expected: int, source: str = "reward function") -> np.ndarray:
    """Validate a reward vector: exactly `expected` finite-or-NaN floats (never broadcast)."""
    arr = np.asarray(rewards, dtype=np.float32)
    if arr.ndim != 1 or arr.shape[0] != expected:
        raise ValueError(f"{source} returned {arr.shape[0] if arr.ndim == 1 else arr.shape} rewards for "
                         f"{expected} completions; expected exactly one reward per completion")
    if np.isinf(arr).any():
        raise ValueError(f"{source} returned infinite rewards at indices {np.flatnonzero(np.isinf(arr))[:8].tolist()}")
    return arr


