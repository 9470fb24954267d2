"""The agentic reward system: reward plans, the offline planner, the reward library, the reward-model
catalog and the LLM reward agent (imported lazily: it pulls in the openai client)."""

from rlar_jax.rewards.catalog import BUILTIN_ENTRIES, Catalog, CatalogEntry
from rlar_jax.rewards.evolution import Evidence, EvolutionConfig
from rlar_jax.rewards.families import TASK_FAMILIES
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import Component, PlanError, RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.signature import QueryFeatures, analyse_query, extract_constraints, task_signature

_AGENT_NAMES = ("AgentConfig", "AgentOutcome", "AgentStats", "PlanResolver", "RewardAgent")

__all__ = [
    "BUILTIN_ENTRIES", "Catalog", "CatalogEntry", "Evidence", "EvolutionConfig", "Library", "Component",
    "PlanError", "RewardPlan", "TASK_FAMILIES", "OfflinePlanner", "QueryFeatures", "analyse_query",
    "extract_constraints", "task_signature", *_AGENT_NAMES,
]


def __getattr__(name: str):
    if name in _AGENT_NAMES:
        from rlar_jax.rewards import agent

        return getattr(agent, name)
    raise AttributeError(f"module 'rlar_jax.rewards' has no attribute {name!r}")
