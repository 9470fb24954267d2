"""GRPOConfig: the hyper-parameters of the GRPO objective and what they imply for the update.

Loss and advantage-estimator names are checked against their registries (:data:`rlar_jax.losses.LOSSES`,
:data:`rlar_jax.advantages.ADVANTAGES`), so names registered by user code are accepted as well.
:attr:`GRPOConfig.needs_reference` and :attr:`GRPOConfig.can_drop_zero_advantage_rows` are the one
place deciding whether the update needs the reference model and whether it may leave out the rows
whose advantage is zero (the train step, ``LiveGroups`` and the trainer all ask them).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from rlar_jax.advantages import ADVANTAGES, SCALE_REWARDS
from rlar_jax.config import LossSection, SamplingSection
from rlar_jax.losses import KL_ESTIMATORS, LOSSES, loss_spec, row_additive_losses
from rlar_jax.rollout_correction import check_rollout_is


@dataclasses.dataclass(frozen=True)
class GRPOConfig(LossSection):
    """Hyper-parameters of the GRPO objective: the `loss` section (every knob documented there) plus what
    the loss reads from `sampling`. Invalid values raise ValueError naming the field."""

    # Maximum completion length in tokens (sampling.max_new_tokens); the constant normaliser of "dr_grpo".
    max_completion_length: int = 256
    # G (sampling.group_size): completions per prompt; groups are contiguous blocks of G in the batch. >= 2.
    group_size: int = 8

    @classmethod
    def from_sections(cls, loss: LossSection, sampling: SamplingSection) -> "GRPOConfig":
        """The objective of an experiment: its `loss` section and the sampling settings the loss reads."""
        knobs = {f.name: getattr(loss, f.name) for f in dataclasses.fields(LossSection)}
        return cls(**knobs, max_completion_length=sampling.max_new_tokens, group_size=sampling.group_size)

    def __post_init__(self) -> None:
        def need(ok: bool, field: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"GRPOConfig.{field} must be {expected}, got {getattr(self, field)!r}")

        def is_num(x: Any) -> bool:
            return isinstance(x, (int, float)) and not isinstance(x, bool)

        def is_int(x: Any) -> bool:
            return isinstance(x, int) and not isinstance(x, bool)

        need(self.loss_type in LOSSES, "loss_type", f"one of {sorted(LOSSES)}")
        need(self.advantage_estimator in ADVANTAGES, "advantage_estimator", f"one of {sorted(ADVANTAGES)}")
        need(self.scale_rewards in SCALE_REWARDS, "scale_rewards", f"one of {list(SCALE_REWARDS)}")
        need(is_num(self.epsilon_low) and 0 <= self.epsilon_low < 1, "epsilon_low", "a float in [0, 1)")
        need(is_num(self.epsilon_high) and self.epsilon_high >= 0, "epsilon_high", "a float >= 0")
        need(self.dual_clip is None or (is_num(self.dual_clip) and self.dual_clip > 1),
             "dual_clip", "None or a float > 1")
        need(is_num(self.beta) and self.beta >= 0, "beta", "a float >= 0")
        need(self.kl_estimator in KL_ESTIMATORS, "kl_estimator", f"one of {list(KL_ESTIMATORS)}")
        need(is_int(self.num_iterations) and self.num_iterations >= 1, "num_iterations", "an int >= 1")
        need(isinstance(self.mask_truncated_completions, bool), "mask_truncated_completions", "a bool")
        need(is_int(self.max_completion_length) and self.max_completion_length >= 1,
             "max_completion_length", "an int >= 1")
        need(is_int(self.group_size) and self.group_size >= 2, "group_size", "an int >= 2")
        check_rollout_is(self.rollout_is, self.rollout_is_cap, "GRPOConfig.")

    @property
    def needs_reference(self) -> bool:
        """True when the loss has a KL term (beta > 0): the update needs the reference model's log-probs."""
        return self.beta > 0

    @property
    def can_drop_zero_advantage_rows(self) -> bool:
        """True when rows whose advantage is zero contribute only to the loss denominator: a row-additive
        loss (rlar_jax.losses) and no KL term. The update over the other rows, with the left-out rows'
        denominator added back, then has exactly the full batch's gradient, and a batch whose advantages
        are all zero has a zero gradient (the train step skips its passes)."""
        return not self.needs_reference and loss_spec(self.loss_type).row_additive

    def check_can_drop_zero_advantage_rows(self, what: str) -> None:
        """ValueError naming the settings when :attr:`can_drop_zero_advantage_rows` is False; ``what``
        names the operation that needs it."""
        if not self.can_drop_zero_advantage_rows:
            raise ValueError(f"{what} needs loss.beta 0 and a row-additive loss ({', '.join(row_additive_losses())}), "
                             f"got loss_type={self.loss_type!r}, beta={self.beta}")
