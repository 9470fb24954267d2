"""Offline planner: the embedded default that maps task tags and query features to a RewardPlan.

No LLM is involved: routing rules pick seed verifiers (`verifiers/<id>.py`) and catalog reward models.
It also proposes the next-best alternative when the reward library demotes a plan (`replan`), and it is
the fallback whenever the reward agent fails.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.families import seed_for_family
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.rewards.signature import (
    QueryFeatures,
    analyse_query,
    constraints_to_meta,
    signature_of,
    task_signature,
)

if TYPE_CHECKING:
    from rlar_jax.rewards.evolution import Evidence

log = logging.getLogger(__name__)

EMBED_MODEL = "minilm-embed-sim"
JUDGE_MODEL = "judge-policy"
FORMAT_WEIGHT = 0.5  # format constraints next to a primary scorer: they shape, the primary decides
SECONDARY_WEIGHT = 0.5


class OfflinePlanner:
    """Rule-based planner over the seed verifiers and a reward-model catalog."""

    def __init__(self, catalog: Catalog | None = None):
        """`catalog` defaults to the built-in entries (plus registered ones under $RLAR_JAX_HOME)."""
        self.catalog = catalog if catalog is not None else Catalog()

    def _model(self, task: str, fallback: str = JUDGE_MODEL) -> str | None:
        entry = self.catalog.best_for(task)
        if entry is not None:
            return entry.id
        fb = self.catalog.get(fallback)
        return fallback if fb is not None and fb.usable_for(task) else None

    def _rm(self, comps: list[Component], entry_id: str | None, weight: float, why: str, notes: list[str]) -> None:
        if entry_id and entry_id not in {c.id for c in comps}:
            comps.append(Component("reward_model", entry_id, weight))
            notes.append(why)

    def components_for(self, f: QueryFeatures) -> tuple[list[Component], list[str]]:
        """Components and rationale notes for analysed query features."""
        comps: list[Component] = []
        notes: list[str] = []
        fam = f.family
        if fam == "math" and f.has_reference:
            comps.append(Component("verifier", "math_answer"))
            notes.append("math with a reference answer: check the final answer (math_answer)")
        elif fam == "code" and f.has_tests:
            comps.append(Component("verifier", "code_tests"))
            notes.append("code with tests: run the tests (code_tests)")
        elif fam == "translation" and f.has_reference:
            comps.append(Component("verifier", "translation_chrf"))
            notes.append("translation with a reference: chrF against it")
            self._rm(comps, EMBED_MODEL if self.catalog.knows(EMBED_MODEL) else None, SECONDARY_WEIGHT,
                     "plus embedding similarity to the reference for meaning", notes)
        elif fam == "other" and f.multiple_choice:
            comps.append(Component("verifier", "multiple_choice"))
            notes.append("multiple choice: compare the chosen option letter")
        elif fam == "other" and f.short_answer:
            comps.append(Component("verifier", "exact_match"))
            notes.append("short factual answer with a reference: normalised exact match")
        elif fam == "instruction" and f.constraints:
            comps.append(Component("verifier", "format_constraints", meta=constraints_to_meta(f.constraints)))
            notes.append(f"explicit format instructions ({', '.join(f.constraint_kinds)}): format_constraints")
            self._rm(comps, self._model("instruction"), SECONDARY_WEIGHT,
                     "plus a reward model for the content itself", notes)
        else:
            # Open-ended (dialogue, or a checkable family missing its reference/tests): a reward model.
            self._rm(comps, self._model("dialogue"), 1.0,
                     f"open-ended {fam} query without a checkable answer: reward model", notes)
            if f.has_reference:
                self._rm(comps, EMBED_MODEL if self.catalog.knows(EMBED_MODEL) else None, SECONDARY_WEIGHT,
                         "plus embedding similarity to the reference", notes)
        if f.constraints and fam != "instruction":
            comps.append(Component("verifier", "format_constraints", FORMAT_WEIGHT,
                                   meta=constraints_to_meta(f.constraints)))
            notes.append(f"plus format constraints stated in the query ({', '.join(f.constraint_kinds)})")
        if not comps:  # an empty catalog and nothing checkable: still score something rather than nothing
            seeds = seed_for_family()  # a family without a seed verifier (dialogue) falls back to "other"'s
            comps.append(Component("verifier", seeds.get(fam) or seeds["other"]))
            notes.append("no reward model available: falling back to the family's seed verifier")
        return comps, notes

    def plan(self, query: str, task: str | None = None, reference: str | None = None,
             meta: Mapping[str, Any] | None = None, *, signature: str | None = None,
             mode: str = "task") -> RewardPlan:
        """The offline plan for one query (its signature's plan). Never calls an LLM."""
        f = analyse_query(query, task, meta, reference)
        if signature is None:
            signature = signature_of(f) if mode == "task" else task_signature(
                query, task, meta, reference=reference, mode=mode)
        comps, notes = self.components_for(f)
        plan_meta: dict[str, Any] = {}
        if f.constraints:
            plan_meta["constraints"] = dict(f.constraints)
        if f.lang_pair:
            plan_meta["lang_pair"] = f.lang_pair
        return RewardPlan(task_signature=signature, task_family=f.family, components=tuple(comps),
                          rationale="; ".join(notes), created_by="planner", meta=plan_meta).validate()

    def replan(self, previous: RewardPlan, evidence: "Evidence") -> RewardPlan:
        """Next-best alternative to a demoted plan, given why it was demoted.

        Failing or self-inconsistent component: a generated verifier is swapped for the family's seed
        verifier; any other failing component is dropped when others remain, else replaced by a reward
        model. No learning signal (zero within-group variance): a reward model component is added.
        """
        comps = list(previous.components)
        notes = [f"replanned after {evidence.reason} of {evidence.component_id or 'the plan'}"]
        bad = next((c for c in comps if c.id == evidence.component_id), None)
        if evidence.reason in ("failure_rate", "validation_failed", "integrity") and bad is not None:
            comps.remove(bad)
            seed = seed_for_family().get(previous.task_family)  # the verifier declaring it in DEFAULT_FOR
            if bad.id.startswith("gen-") and seed and seed not in {c.id for c in comps}:
                seed_meta = (constraints_to_meta(previous.meta.get("constraints") or {})
                             if seed == "format_constraints" else None)
                comps.insert(0, Component("verifier", seed, bad.weight, None, seed_meta or None))
                notes.append(f"swapped generated verifier {bad.id} for seed verifier {seed}")
            elif comps:
                notes.append(f"dropped {bad.kind} {bad.id}")
            else:
                replacement = self._model(previous.task_family) or self._model("dialogue")
                if replacement is None or replacement == bad.id:
                    replacement = EMBED_MODEL if self.catalog.knows(EMBED_MODEL) else None
                if replacement is None:
                    raise RuntimeError(f"no alternative to {bad.id} for {previous.task_signature}")
                comps.append(Component("reward_model", replacement, 1.0))
                notes.append(f"replaced {bad.id} by reward model {replacement}")
        elif evidence.reason == "zero_variance":
            have = {c.id for c in comps}
            options = [self._model(previous.task_family), self._model("dialogue"), JUDGE_MODEL, EMBED_MODEL]
            added = next((o for o in options if o and o not in have and self.catalog.knows(o)
                          and self.catalog.get(o).usable_for(previous.task_family)), None)
            if added:
                comps.append(Component("reward_model", added, SECONDARY_WEIGHT))
                notes.append(f"added reward model {added} for a graded signal within groups")
            else:
                notes.append("no further reward model available; plan kept")
        else:
            notes.append("no rule for this evidence; plan kept")
        log.info("planner replan %s: %s", previous.task_signature, "; ".join(notes))
        return RewardPlan(task_signature=previous.task_signature, task_family=previous.task_family,
                          components=tuple(comps), rationale="; ".join(notes), created_by="planner",
                          version=previous.version + 1, meta=dict(previous.meta)).validate()
