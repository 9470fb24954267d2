"""The RLAR reward system: plans per task signature (planner or agent, cached in the library), scored by
the engine with sandboxed verifiers and Flax reward models, usage fed back to the library.

Reward integrity (see `rlar_jax.sandbox.audit` for the design): rows the sandbox's audit fails are
flagged in the library as `integrity` evidence, and a plan read from the library has its verifiers
re-validated (`Library.revalidate`) on fresh instances before its first use in a process, since the
library may come from another run, guest build or set of limits. Either evidence demotes the plan.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlar_jax.reward_config import RewardsSection
from rlar_jax.datasets.examples import Example
from rlar_jax.rewards.agent import AgentConfig, RewardAgent
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.engine import RewardModelFn, ScoringEngine, VerifierBackend
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.resolver import PlanResolver

log = logging.getLogger(__name__)


def agent_config(cfg: RewardsSection) -> AgentConfig:
    """AgentConfig from `rewards.agent`, falling back to the RLAR_JAX_AGENT_* environment."""
    return AgentConfig.from_section(cfg.agent)


class RewardModels:
    """Catalog reward models, loaded on first use and cached (loading a judge LM is expensive)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._fns: dict[str, RewardModelFn] = {}
        self._lock = threading.Lock()

    def __call__(self, model_id: str) -> RewardModelFn:
        with self._lock:
            if model_id not in self._fns:
                from rlar_jax.rewards.models.registry import load_reward_model

                entry = self.catalog.get(model_id)
                if entry is None:
                    raise KeyError(f"reward model {model_id!r} is not in the catalog")
                self._fns[model_id] = load_reward_model(entry)
            return self._fns[model_id]


class RLARSystem(ScoringEngine):
    """ScoringEngine whose plans come from a PlanResolver over the persistent reward library."""

    def __init__(self, backend: VerifierBackend, library: Library, resolver: PlanResolver, catalog: Catalog):
        self.library, self.resolver, self.catalog = library, resolver, catalog
        super().__init__(backend, self._plans, self._source, RewardModels(catalog), self._record)

    def _plans(self, examples: Sequence[Example]) -> list[RewardPlan]:
        unique: dict[int, Example] = {}
        for e in examples:
            unique.setdefault(id(e), e)
        items = [{"query": e.query, "task": e.task, "reference": e.reference, "meta": e.meta} for e in unique.values()]
        plans = dict(zip(unique, self.resolver.resolve(items)))
        return [plans[id(e)] for e in examples]

    def _source(self, verifier_id: str) -> str:
        row = self.library.get_verifier(verifier_id)
        if row is None:
            raise KeyError(f"verifier {verifier_id!r} is not in the reward library")
        return row["source"]

    def _record(self, plans: list[RewardPlan], provenance: list[dict], rewards: np.ndarray, group_size: int) -> None:
        self._flag_integrity(plans, provenance)
        if group_size < 2:  # evaluation batches carry no group statistics
            return
        self.library.record_scored([p.plan_id for p in plans], [p["components"] for p in provenance],
                                   rewards.tolist(), group_size)

    def _flag_integrity(self, plans: list[RewardPlan], provenance: list[dict]) -> None:
        """Rows the sandbox's audit failed (kind `integrity`: scores that depend on other rows or on
        history) are evidence against their plan; the resolver demotes it on its next lookup."""
        caught: dict[tuple[str, str], list] = {}
        for plan, prov in zip(plans, provenance):
            for key, err in prov.get("errors", {}).items():
                if key.startswith("verifier:") and str(err).startswith("integrity:"):
                    caught.setdefault((plan.plan_id, key.split(":", 1)[1]), [0, str(err)])[0] += 1
        for (plan_id, cid), (rows, err) in caught.items():
            self.library.flag(plan_id, cid, "integrity", {"rows": rows, "message": err[:500]})

    def close(self) -> None:
        """Close the sandbox backend and the library."""
        super().close()
        self.library.close()


def build_rlar_engine(cfg: RewardsSection, run_dir: Path, backend: VerifierBackend,
                      catalog: Catalog | None = None) -> RLARSystem:
    """The default reward system of a training run."""
    catalog = catalog or Catalog(online=cfg.agent.hub_search)
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    library = Library.for_run(run_dir, cfg.library, evolution=cfg.evolution)
    planner = OfflinePlanner(catalog)
    acfg = agent_config(cfg)
    agent = RewardAgent(acfg, library, backend, catalog, planner) if acfg.enabled else None
    resolver = PlanResolver(library, planner, agent, mode=cfg.mode, replan=cfg.replan, validator=backend)
    log.info("reward system: %s, library %s", "agent " + str(acfg.model) if agent else "offline planner",
             library.path if hasattr(library, "path") else cfg.library)
    return RLARSystem(backend, library, resolver, catalog)


def describe(system: Any) -> dict[str, Any]:
    """Counters of a reward system (plans cached/new/re-planned, failures) for logs and metrics."""
    out: dict[str, Any] = dict(getattr(system, "stats", {}))
    resolver = getattr(system, "resolver", None)
    if resolver is not None:
        out.update({f"plans/{k}": v for k, v in resolver.counts.items()})
        if resolver.agent is not None:
            out.update({f"agent/{k}": v for k, v in resolver.agent.stats.snapshot().items()})
    return out
