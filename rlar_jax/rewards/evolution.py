"""Self-evolution's terms: its knobs, the evidence that a plan should be re-planned, group variance.

The reward library (`rlar_jax.rewards.library`) keeps the statistics and decides with these; the
planner and the agent receive the Evidence when they re-plan.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Sequence

PLAN_TOTAL = "*"  # component id under which the combined reward of a plan may be recorded


@dataclasses.dataclass(frozen=True)
class EvolutionConfig:
    """Knobs of self-evolution (all windows count the most recent records of the active plan)."""

    window: int = 256  # samples per component over which the failure rate is measured
    min_samples: int = 32  # no failure-rate verdict before this many samples
    max_failure_rate: float = 0.5  # above this, the component is failing
    zero_variance_window: int = 32  # groups over which within-group variance is checked
    min_groups: int = 8  # no zero-variance verdict before this many groups
    zero_variance_fraction: float = 1.0  # fraction of zero-variance groups that means "no signal"
    variance_eps: float = 1e-9  # a group whose scores span no more than this has zero variance

    def __post_init__(self) -> None:
        for name in ("window", "min_samples", "zero_variance_window", "min_groups"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)!r}")
        for name in ("max_failure_rate", "zero_variance_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a number in [0, 1], got {getattr(self, name)!r}")


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
