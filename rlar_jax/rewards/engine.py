"""Scoring engine: score a rollout batch by each sample's plan.

Each sample's reward is the weighted mean of its plan's component scores. Verifier components run in
the WebAssembly sandbox, one `score_batch` call per (verifier, batch) so the per-call cost is paid
once; reward-model components call a batched scorer. A failed component (exception, fuel, deadline,
invalid score, missing verifier) makes that sample's reward NaN; the engine itself never raises for a
bad sample. Every sample gets provenance: plan id, component scores, errors and seconds.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from rlar_jax.datasets.examples import Example
from rlar_jax.rewards.base import RewardModelFn
from rlar_jax.rewards.plan import RewardPlan

log = logging.getLogger(__name__)


class VerifierBackend(Protocol):
    """The sandbox (or a pool of sandboxes): `score_batch(source, rows) -> list[ScoreResult]`."""

    def score_batch(self, source: str, rows: list[dict]) -> list[Any]:
        ...




class ScoringEngine:
    """Scores (example, completion) pairs with per-example `RewardPlan`s.

    plan_for: examples -> one plan per example (the resolver over planner/agent/library, or a fixed table).
    verifier_source: verifier id -> source text (seed file or library entry).
    reward_model: catalog id -> batched scorer (loaded lazily, cached by the caller).
    on_scored: called with (plans, provenance, rewards, group_size) after each batch, e.g. to feed the
        reward library's usage statistics; its failures are logged, never raised.
    """

    def __init__(self, backend: VerifierBackend, plan_for: Callable[[Sequence[Example]], list[RewardPlan]],
                 verifier_source: Callable[[str], str], reward_model: Callable[[str], RewardModelFn] | None = None,
                 on_scored: Callable[[list[RewardPlan], list[dict], np.ndarray, int], None] | None = None):
        self.backend = backend
        self.plan_for = plan_for
        self.verifier_source = verifier_source
        self.reward_model = reward_model
        self.on_scored = on_scored
        self.stats: Counter[str] = Counter()

    def score(self, examples: Sequence[Example], completions: Sequence[str]) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """float32[N] rewards (NaN = failed) and provenance per sample."""
        n = len(completions)
        if len(examples) != n:
            raise ValueError(f"got {len(examples)} examples for {n} completions; expected one example per completion")
        try:
            plans = self.plan_for(examples)
        except Exception as e:  # a broken planner must not stop training: every sample fails, counted
            log.exception("reward planning failed")
            self.stats["planning_failures"] += 1
            prov = [{"plan_id": None, "components": {}, "errors": {"plan": f"{type(e).__name__}: {e}"}}
                    for _ in range(n)]
            return np.full(n, np.nan, np.float32), prov
        scores: dict[tuple[int, int], float] = {}  # (sample, component index) -> raw score
        errors: dict[int, dict[str, str]] = defaultdict(dict)
        seconds = np.zeros(n)
        # Group samples by component so each verifier / reward model is called once per batch.
        by_component: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        for i, plan in enumerate(plans):
            for j, c in enumerate(plan.components):
                by_component[(c.kind, c.id)].append((i, j))
        for (kind, cid), members in by_component.items():
            # A reward model judges the reply against the whole dialogue (what it was trained on); a verifier
            # reads the request it checks, the last user message.
            rows = [{"prompt": examples[i].prompt if kind == "reward_model" else examples[i].query,
                     "response": completions[i], "reference": examples[i].reference,
                     "meta": plans[i].scoring_meta(j, examples[i].query, examples[i].meta)} for i, j in members]
            t0 = time.perf_counter()
            results = self._run_component(kind, cid, rows)
            dt = (time.perf_counter() - t0) / max(len(members), 1)
            for (i, j), (score, err) in zip(members, results):
                scores[(i, j)] = score
                seconds[i] += dt
                if err:
                    errors[i][f"{kind}:{cid}"] = err
                    self.stats[f"failures/{kind}:{cid}"] += 1
        rewards = np.empty(n, np.float32)
        provenance = []
        for i, plan in enumerate(plans):
            raw = [scores.get((i, j), math.nan) for j in range(len(plan.components))]
            rewards[i] = plan.combine(raw)
            provenance.append({"plan_id": plan.plan_id, "signature": plan.task_signature,
                               "components": {f"{c.kind}:{c.id}": s for c, s in zip(plan.components, raw)},
                               "errors": dict(errors.get(i, {})), "seconds": float(seconds[i])})
        self.stats["samples"] += n
        self.stats["failed_samples"] += int(np.isnan(rewards).sum())
        if self.on_scored is not None:
            try:
                self.on_scored(plans, provenance, rewards, _group_size(examples))
            except Exception:
                log.exception("reward bookkeeping failed")  # the library must never stop training
        return rewards, provenance

    def close(self) -> None:
        """Close the verifier backend (sandbox stores or pool workers)."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()

    def _run_component(self, kind: str, cid: str, rows: list[dict]) -> list[tuple[float, str | None]]:
        """[(score, error or None)] for rows; all NaN with the error when the component cannot run."""
        try:
            if kind == "verifier":
                source = self.verifier_source(cid)
                out = []
                for r in self.backend.score_batch(source, rows):
                    err = None if r.error_kind is None else f"{r.error_kind}: {r.message}"[:500]
                    out.append((float(r.score) if err is None else math.nan, err))
                return out
            if kind == "reward_model":
                if self.reward_model is None:
                    raise KeyError(f"reward model {cid!r} requested but this engine has no reward models")
                fn = self.reward_model(cid)
                scores = list(fn([r["prompt"] for r in rows], [r["response"] for r in rows],
                                 [r["reference"] for r in rows], [r["meta"] for r in rows]))
                if len(scores) != len(rows):
                    raise ValueError(f"reward model {cid!r} returned {len(scores)} scores for {len(rows)} rows")
                return [_checked(float(s)) for s in scores]
            raise ValueError(f"unknown component kind {kind!r}; expected verifier or reward_model")
        except Exception as e:
            log.warning("reward component %s:%s failed for %d samples: %s", kind, cid, len(rows), e)
            return [(math.nan, f"{type(e).__name__}: {e}"[:500])] * len(rows)


def _checked(score: float) -> tuple[float, str | None]:
    """A reward-model score in [0, 1], or NaN with the reason (never clamped)."""
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        return math.nan, f"invalid_score: {score!r} is not in [0, 1]"
    return score, None


def _group_size(examples: Sequence[Example]) -> int:
    """Length of the runs of identical examples (GRPO groups are contiguous); 1 when runs differ."""
    if not examples:
        return 1
    run = 1
    while run < len(examples) and examples[run] is examples[0]:
        run += 1
    if len(examples) % run or any(examples[k] is not examples[k - k % run] for k in range(len(examples))):
        return 1
    return run
