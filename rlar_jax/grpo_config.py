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
from rlar_jax.losses import KL_ESTIMATORS, LOSSES, loss_spec, row_additive_losses
from rlar_jax.rollout_correction import check_rollout_is


@dataclasses.dataclass(frozen=True)
class GRPOConfig:
    """Hyper-parameters of the GRPO objective. Invalid values raise ValueError naming the field."""

    # Loss normalisation, a key of rlar_jax.losses.LOSSES: "grpo" (sequence mean then batch mean),
    # "dr_grpo" (sum / (N * max_completion_length)), "dapo" (token mean over the batch, TRL's default)
    # or "bnpo" (token mean per micro-batch), or a loss registered with rlar_jax.losses.register_loss.
    # See rlar_jax/losses.py for the exact definitions.
    loss_type: str = "dapo"
    # How rewards become advantages, a key of rlar_jax.advantages.ADVANTAGES: "grpo" (reward minus the
    # group mean) or "rloo" (reward minus the mean of the group's other rewards), or an estimator
    # registered with rlar_jax.advantages.register_advantage. See rlar_jax/advantages.py.
    advantage_estimator: str = "grpo"
    # Advantage scaling after subtracting the baseline: divide by the group's std ("group"), by the
    # std of all valid rewards of the batch ("batch", more robust for low-variance groups) or not at all
    # ("none", Dr. GRPO).
    scale_rewards: str = "group"
    # Lower clip: the ratio is clipped at 1 - epsilon_low. Must be in [0, 1).
    epsilon_low: float = 0.2
    # Upper clip: the ratio is clipped at 1 + epsilon_high; above epsilon_low it is DAPO's "clip-higher".
    epsilon_high: float = 0.28
    # Dual clip constant c > 1 (e.g. 3.0): caps the loss of negative-advantage tokens at -c * A so a
    # huge ratio cannot blow up the update. None disables it.
    dual_clip: float | None = None
    # KL coefficient against the reference model; 0.0 (default, as in TRL/DAPO) skips the reference.
    beta: float = 0.0
    # KL estimator per token: "k1" = logp - ref_logp, "k3" = exp(ref - logp) - (ref - logp) - 1
    # (unbiased, always >= 0; the usual GRPO choice).
    kl_estimator: str = "k3"
    # mu: optimizer updates per generation batch. With mu > 1 the batch must carry old_logp (from the
    # policy that sampled it); with mu = 1 and no old_logp, the ratio is exp(logp - stop_grad(logp)).
    num_iterations: int = 1
    # Drop completions that hit max_completion_length without EOS from the loss (DAPO overlong filter).
    mask_truncated_completions: bool = False
    # Maximum completion length in tokens; the constant normaliser of "dr_grpo".
    max_completion_length: int = 256
    # G: completions sampled per prompt; groups are contiguous blocks of G in the batch. Must be >= 2.
    group_size: int = 8
    # Truncated importance sampling against the sampler's log-probs (batch["sampler_logp"]), see
    # rlar_jax/rollout_correction.py: "none", "token" or "sequence" (weight per token, or one weight per
    # sequence from the sum of its tokens' log-ratios), each weight capped at rollout_is_cap (> 0).
    # With it, old_logp is the trainer's own (absent with num_iterations 1: the step's forward pass).
    rollout_is: str = "none"
    rollout_is_cap: float = 2.0

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
