"""Self-evolution's terms: its knobs, the evidence that a plan should be re-planned, group variance.

The reward library (`rlar_jax.rewards.library`) keeps the statistics and decides with these; the
planner and the agent receive the Evidence when they re-plan.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Sequence

from rlar_jax.reward_config import EvolutionConfig  # noqa: F401  (declared with the other config sections)

PLAN_TOTAL = "*"  # component id under which the combined reward of a plan may be recorded


@dataclasses.dataclass(frozen=True)
class Evidence:
    """Why a plan should be re-planned: `reason` in failure_rate | zero_variance | validation_failed |
    integrity (the sandbox's audit found scores that depend on other rows or on history)."""

    signature: str
    plan_id: str
    reason: str
    component_id: str | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One paragraph for the agent/planner and the logs."""
        what = f"component {self.component_id!r}" if self.component_id not in (None, PLAN_TOTAL) else "the plan"
        return f"plan {self.plan_id} for {self.signature!r}: {self.reason} of {what}: {json.dumps(self.details)}"


def zero_var_groups(scores: Sequence[float], group_size: int, eps: float) -> tuple[int, int]:
    """(groups with >= 2 finite scores, of which those whose scores are all equal)."""
    groups = zero = 0
    for start in range(0, len(scores) - group_size + 1, group_size):
        vals = [s for s in scores[start:start + group_size] if s is not None and math.isfinite(s)]
        if len(vals) >= 2:
            groups += 1
            zero += int(max(vals) - min(vals) <= eps)
    return groups, zero
