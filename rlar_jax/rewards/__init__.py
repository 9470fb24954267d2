"""The agentic reward system: reward plans, the offline planner, the reward library, the reward-model
catalog, the LLM reward agent and the plan resolver (the last two imported lazily)."""

from rlar_jax.rewards.catalog import BUILTIN_ENTRIES, Catalog, CatalogEntry
from rlar_jax.rewards.evolution import Evidence, EvolutionConfig
from rlar_jax.rewards.families import TASK_FAMILIES
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import Component, PlanError, RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.signature import QueryFeatures, analyse_query, extract_constraints, task_signature

_AGENT_NAMES = ("AgentConfig", "AgentOutcome", "AgentStats", "RewardAgent")

__all__ = [
    "BUILTIN_ENTRIES", "Catalog", "CatalogEntry", "Evidence", "EvolutionConfig", "Library", "Component",
    "PlanError", "RewardPlan", "TASK_FAMILIES", "OfflinePlanner", "QueryFeatures", "analyse_query",
    "extract_constraints", "task_signature", "PlanResolver", *_AGENT_NAMES,
]


def __getattr__(name: str):
    if name in _AGENT_NAMES:
        from rlar_jax.rewards import agent

        return getattr(agent, name)
    if name == "PlanResolver":
        from rlar_jax.rewards.resolver import PlanResolver

        return PlanResolver
    raise AttributeError(f"module 'rlar_jax.rewards' has no attribute {name!r}")
