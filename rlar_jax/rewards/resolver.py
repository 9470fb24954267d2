"""Plan resolution for a batch: group items by task signature, reuse plans from the reward library,
consult the reward agent (or the offline planner when no endpoint is configured) once per new signature,
and re-plan signatures the library's evidence has demoted."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from rlar_jax.rewards.evolution import Evidence
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.signature import task_signature

if TYPE_CHECKING:  # the agent module is only needed by callers that build an agent
    from rlar_jax.rewards.agent import RewardAgent

log = logging.getLogger(__name__)


def _field(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)


class PlanResolver:
    """Plans for a batch of queries: one per task signature, cached in the library, re-planned on evidence."""

    def __init__(self, library: Library, planner: OfflinePlanner, agent: RewardAgent | None = None,
                 mode: str = "task", replan: bool = True, max_workers: int = 4, validator: Any = None):
        """`agent` None (or without an endpoint) plans with `planner` alone; `mode` is the signature mode;
        `replan` checks the library's evidence on every lookup and re-plans demoted signatures;
        `validator` (a Sandbox or SandboxPool) re-validates a stored plan's verifiers before its first use
        in this process (`Library.revalidate`)."""
        self.library, self.planner, self.agent, self.mode, self.replan = library, planner, agent, mode, replan
        self.max_workers = max_workers
        self.validator = validator if callable(getattr(validator, "validate", None)) else None
        self._revalidated: set[str] = set()
        self.counts: Counter[str] = Counter()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def signature(self, item: Any) -> str:
        """Task signature of an item (mapping or object with query/task/reference/meta)."""
        return task_signature(_field(item, "query"), _field(item, "task"), _field(item, "meta"),
                              reference=_field(item, "reference"), mode=self.mode)

    def resolve(self, items: Sequence[Any]) -> list[RewardPlan]:
        """One plan per item; items sharing a signature share the plan (planned at most once).

        New signatures of one batch are planned concurrently (up to `max_workers` agent conversations).
        """
        sigs = [self.signature(it) for it in items]
        first: dict[str, Any] = {}
        for sig, it in zip(sigs, items):
            first.setdefault(sig, it)
        if self.max_workers > 1 and len(first) > 1:
            with ThreadPoolExecutor(min(self.max_workers, len(first)), thread_name_prefix="reward-plan") as pool:
                plans = dict(zip(first, pool.map(lambda kv: self.plan_signature(*kv), first.items())))
        else:
            plans = {sig: self.plan_signature(sig, it) for sig, it in first.items()}
        return [plans[s] for s in sigs]

    def _count(self, key: str) -> None:
        with self._guard:
            self.counts[key] += 1

    def plan_signature(self, sig: str, item: Any) -> RewardPlan:
        """The active plan of `sig` (from the library, re-planned if evidence says so, or new)."""
        with self._guard:
            lock = self._locks.setdefault(sig, threading.Lock())
        with lock:  # concurrent batches with the same new signature consult the agent only once
            current = self.library.active_plan(sig)
            if current is not None:
                evidence = self.library.needs_replan(sig) if self.replan else None
                if evidence is None and self.replan:
                    evidence = self._revalidate(sig, current)
                if evidence is None:
                    self._count("cached")
                    return current
                self._count("replanned")
                log.info("re-planning %s: %s", sig, evidence.describe())
                return self.library.put_plan(self._new(sig, item, evidence, current), evidence,
                                             expect_active=current.plan_id)
            self._count("new")
            return self.library.put_plan(self._new(sig, item, None, None), expect_active=None)

    def _revalidate(self, sig: str, plan: RewardPlan) -> Evidence | None:
        """Evidence from re-running a stored plan's CASES, once per plan and process (None if they pass)."""
        with self._guard:
            if self.validator is None or plan.plan_id in self._revalidated:
                return None
            self._revalidated.add(plan.plan_id)
        try:
            return self.library.revalidate(sig, self.validator)
        except Exception:  # the sandbox being unavailable must not stop planning
            log.exception("re-validating the plan of %s failed", sig)
            return None

    def _new(self, sig: str, item: Any, evidence: Evidence | None, previous: RewardPlan | None) -> RewardPlan:
        q, t, r, m = (_field(item, k) for k in ("query", "task", "reference", "meta"))
        if self.agent is not None and self.agent.config.enabled:
            plan, _ = self.agent.plan_for(q, t, r, m, _field(item, "samples"), signature=sig, evidence=evidence,
                                          previous=previous)
            return plan
        if evidence is not None and previous is not None:
            return self.planner.replan(previous, evidence)
        return self.planner.plan(q, t, r, m, signature=sig)
