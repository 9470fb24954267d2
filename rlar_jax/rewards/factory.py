"""The factory of every reward system, selected by `rewards.system` in the experiment config (rlar, gsm8k,
static, custom), and the held-out metric function of a run."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rlar_jax.reward_config import RewardsSection
from rlar_jax.datasets.examples import Example
from rlar_jax.rewards.base import RewardFn
from rlar_jax.rewards.engine import ScoringEngine
from rlar_jax.rewards.families import TASK_FAMILIES, eval_verifiers, seed_for_family
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.rewards.signature import analyse_query


def static_plans(verifiers: Mapping[str, str]) -> Callable[[Sequence[Example]], list[RewardPlan]]:
    """plan_for() that gives every example of task T the one verifier `verifiers[T]`."""
    plans = {task: RewardPlan(task_signature=f"static:{task}",
                              task_family=task if task in TASK_FAMILIES else "other",
                              components=(Component("verifier", vid, 1.0),), rationale="fixed verifier")
             for task, vid in verifiers.items()}

    def plan_for(examples: Sequence[Example]) -> list[RewardPlan]:
        missing = sorted({e.task for e in examples} - set(plans))
        if missing:
            raise KeyError(f"no static verifier for task(s) {missing}; known: {sorted(plans)}")
        return [plans[e.task] for e in examples]

    return plan_for


def single_model_engine(model_id: str, backend, verifier_source) -> ScoringEngine:
    """Every example scored by the one catalog reward model `model_id` (the static-reward baseline)."""
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.rewards.system import RewardModels

    catalog = Catalog()
    if not catalog.knows(model_id):
        raise ValueError(f"rewards.static_model: {model_id!r} is not in the reward-model catalog; known: "
                         f"{[e.id for e in catalog.entries()]}")
    plan = RewardPlan(f"static:{model_id}", "other", (Component("reward_model", model_id, 1.0),),
                      rationale="one reward model for every task")
    return ScoringEngine(backend, lambda examples: [plan] * len(examples), verifier_source, RewardModels(catalog))


def load_custom(spec: str | None) -> RewardFn:
    """Import a trusted, user-written reward function given as "module:attr" (a RewardFn or a factory)."""
    if not spec or ":" not in spec:
        raise ValueError(f"rewards.custom must be 'module:attr' when rewards.system is custom, got {spec!r}")
    module, attr = spec.split(":", 1)
    obj = getattr(importlib.import_module(module), attr)
    fn = obj() if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "score")) else obj
    if not hasattr(fn, "score"):
        raise TypeError(f"rewards.custom {spec!r} is not a reward function (no score method)")
    return fn


def build_reward_fn(cfg: RewardsSection, run_dir: Path) -> RewardFn:
    """The configured reward system over a sandbox (one process) or a sandbox pool (several)."""
    if cfg.system == "custom":
        return load_custom(cfg.custom)
    from rlar_jax.sandbox import SandboxPool, load_verifier

    sources: dict[str, str] = {}  # verifier id -> source text, each file read once
    if cfg.system == "verifier":  # a wrong id fails here, before any sandbox process starts
        try:
            sources[cfg.verifier] = load_verifier(cfg.verifier)
        except (FileNotFoundError, TypeError) as exc:
            raise ValueError(f"rewards.verifier: {exc}") from None
    # Worker processes even for one: their watchdog bounds a verifier blocked in a host call, which the
    # epoch deadline of an in-process sandbox cannot interrupt.
    backend = SandboxPool(processes=max(1, cfg.processes))

    def source(vid: str) -> str:
        if vid not in sources:
            sources[vid] = load_verifier(vid)
        return sources[vid]

    if cfg.system == "gsm8k":  # the fixed reward of the math task alone: its seed verifier, no planner or agent
        return ScoringEngine(backend, static_plans({"math": seed_for_family()["math"]}), source)
    if cfg.system == "verifier":  # one fixed verifier for every task, no planner or agent
        plan = RewardPlan(f"verifier:{cfg.verifier}", "other", (Component("verifier", cfg.verifier, 1.0),),
                          rationale="one verifier for every task")
        return ScoringEngine(backend, lambda examples: [plan] * len(examples), source)
    if cfg.system == "static":
        return single_model_engine(cfg.static_model, backend, source)
    from rlar_jax.rewards.system import build_rlar_engine

    return build_rlar_engine(cfg, run_dir, backend)


# Held-out metrics use one fixed verifier per task family, so numbers before and after training stay
# comparable even when self-evolution changes the training plans in between.
# Instruction prompts are checked against their ground-truth constraints where the data has them
# (fraction of constraints met), else against the constraints read from the prompt. The verifier of each
# family is the one declaring it in EVAL_FOR (`rlar_jax.rewards.families`).


def eval_reward_fn(train_fn: RewardFn) -> RewardFn:
    """The held-out metric: each example's family (read from the example) scored by that family's fixed
    verifier, where one exists (other families keep the training plan); non-engine reward functions are
    used as they are."""
    if not isinstance(train_fn, ScoringEngine):
        return train_fn
    fixed = {fam: RewardPlan(f"eval:{fam}", fam, (Component("verifier", vid, 1.0),), rationale="held-out metric",
                             meta={"constraints_source": "example"} if vid == "format_constraints" else {})
             for fam, vid in eval_verifiers().items()}

    def plan_for(examples: Sequence[Example]) -> list[RewardPlan]:
        # The family comes from the example itself, not from the training plan, so the metric is the same
        # whichever reward system trained the policy.
        plans: list[RewardPlan | None] = [fixed.get(analyse_query(e.query, e.task, e.meta, e.reference).family)
                                          for e in examples]
        rest = [i for i, p in enumerate(plans) if p is None]
        if rest:
            for i, p in zip(rest, train_fn.plan_for([examples[i] for i in rest])):
                plans[i] = p
        return plans  # type: ignore[return-value]

    return ScoringEngine(train_fn.backend, plan_for, train_fn.verifier_source, train_fn.reward_model)
