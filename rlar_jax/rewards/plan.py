"""RewardPlan: which reward functions score a query's completions, and how their scores combine.

A plan is a list of weighted components (sandboxed verifiers or catalog reward models) for one task
signature. It is plain JSON (`to_json`/`from_json`); `plan_id` is a hash of its content so usage
statistics in the reward library are attached to exactly one plan version. Task signatures (which
queries share a plan) come from `rlar_jax.rewards.signature` and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from rlar_jax.rewards.families import TASK_FAMILIES
from rlar_jax.rewards.normalise import normalise

from rlar_jax.rewards.signature import (  # re-exported: signatures decide which queries share a plan
    QueryFeatures,
    analyse_query,
    constraints_to_meta,
    extract_constraints,
    task_signature,
)

__all__ = [
    "COMPONENT_KINDS", "CREATORS", "PlanError", "Component", "RewardPlan", "normalise_score",
    "QueryFeatures", "analyse_query", "constraints_to_meta", "extract_constraints",
    "task_signature",
]

COMPONENT_KINDS: tuple[str, ...] = ("verifier", "reward_model")
CREATORS: tuple[str, ...] = ("planner", "agent")
NORMALISE_TYPES: tuple[str, ...] = ("clip", "minmax", "sigmoid")

# resolver(kind, id) -> True when the component exists (library for verifiers, catalog for models).
Resolver = Callable[[str, str], bool]


class PlanError(ValueError):
    """A plan failed validation; `errors` lists "field: problem" strings, each naming the field."""

    def __init__(self, errors: Sequence[str]):
        self.errors = list(errors)
        super().__init__("invalid reward plan: " + "; ".join(self.errors))


@dataclasses.dataclass(frozen=True)
class Component:
    """One scorer of a plan. `normalise` maps its raw score to [0, 1]; `meta` overrides sample meta."""

    kind: str
    id: str
    weight: float = 1.0
    normalise: dict[str, Any] | None = None
    meta: dict[str, Any] | None = None

    def __hash__(self) -> int:  # the dict fields are not hashable themselves
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; optional fields are omitted when unset."""
        d: dict[str, Any] = {"kind": self.kind, "id": self.id, "weight": self.weight}
        if self.normalise is not None:
            d["normalise"] = dict(self.normalise)
        if self.meta is not None:
            d["meta"] = dict(self.meta)
        return d

    def errors(self, where: str, resolver: Resolver | None = None) -> list[str]:
        """Validation problems of this component, each prefixed by its field path `where`."""
        errs: list[str] = []
        if self.kind not in COMPONENT_KINDS:
            errs.append(f"{where}.kind: expected one of {list(COMPONENT_KINDS)}, got {self.kind!r}")
        if not isinstance(self.id, str) or not self.id.strip():
            errs.append(f"{where}.id: expected a non-empty string, got {self.id!r}")
        elif resolver is not None and self.kind in COMPONENT_KINDS and not resolver(self.kind, self.id):
            place = "reward library" if self.kind == "verifier" else "reward-model catalog"
            errs.append(f"{where}.id: unknown {self.kind} {self.id!r} (not in the {place})")
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w <= 0:
            errs.append(f"{where}.weight: expected a finite number > 0, got {w!r}")
        if self.normalise is not None:
            errs.extend(_normalise_errors(self.normalise, f"{where}.normalise"))
        if self.meta is not None and not isinstance(self.meta, dict):
            errs.append(f"{where}.meta: expected an object, got {type(self.meta).__name__}")
        return errs


def _normalise_errors(spec: Any, where: str) -> list[str]:
    if not isinstance(spec, dict):
        return [f"{where}: expected an object like {{'type': 'minmax', 'min': 0, 'max': 10}}, got {spec!r}"]
    kind = spec.get("type", "clip")
    if kind not in NORMALISE_TYPES:
        return [f"{where}.type: expected one of {list(NORMALISE_TYPES)}, got {kind!r}"]
    need = {"clip": (), "minmax": ("min", "max"), "sigmoid": ()}[kind]
    errs = [f"{where}.{k}: required for type {kind!r}" for k in need if k not in spec]
    for k in ("min", "max", "scale", "shift"):
        if k in spec and (isinstance(spec[k], bool) or not isinstance(spec[k], (int, float))):
            errs.append(f"{where}.{k}: expected a number, got {spec[k]!r}")
    if not errs and kind == "minmax" and not spec["max"] > spec["min"]:
        errs.append(f"{where}.max: expected > min ({spec['min']}), got {spec['max']}")
    return errs


def normalise_score(value: float | None, spec: Mapping[str, Any] | None) -> float:
    """One raw component score mapped to [0, 1] by `normalise` (None, NaN and inf become NaN)."""
    if value is None or not math.isfinite(value):
        return math.nan
    return float(normalise(np.asarray([value]), dict(spec or {}))[0])


@dataclasses.dataclass(frozen=True)
class RewardPlan:
    """Weighted reward components for every query of one task signature."""

    task_signature: str
    task_family: str
    components: tuple[Component, ...]
    rationale: str = ""
    created_by: str = "planner"
    version: int = 1
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)  # plan-level verifier meta

    def __hash__(self) -> int:
        return hash(self.plan_id)

    @property
    def plan_id(self) -> str:
        """Content hash (rationale excluded): same content and version, same id."""
        body = {k: v for k, v in self._body().items() if k != "rationale"}
        blob = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def _body(self) -> dict[str, Any]:
        return {
            "task_signature": self.task_signature,
            "task_family": self.task_family,
            "components": [c.to_dict() for c in self.components],
            "rationale": self.rationale,
            "created_by": self.created_by,
            "version": self.version,
            "meta": self.meta,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict including `plan_id`."""
        return {**self._body(), "plan_id": self.plan_id}

    def to_json(self, indent: int | None = 2) -> str:
        """The plan as JSON text (what `rlar-jax plan` prints)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=str)

    @classmethod
    def from_dict(cls, data: Any, resolver: Resolver | None = None) -> "RewardPlan":
        """Build and validate a plan from a dict; raises PlanError naming every bad field."""
        if not isinstance(data, dict):
            raise PlanError([f"plan: expected a JSON object, got {type(data).__name__}"])
        known = {"task_signature", "task_family", "components", "rationale", "created_by", "version",
                 "meta", "plan_id"}
        errs = [f"{k}: unknown field (expected one of {sorted(known)})" for k in data if k not in known]
        raw_comps = data.get("components")
        comps: list[Component] = []
        if not isinstance(raw_comps, list):
            errs.append(f"components: expected a list of components, got {type(raw_comps).__name__}")
        else:
            for i, c in enumerate(raw_comps):
                if not isinstance(c, dict):
                    errs.append(f"components[{i}]: expected an object, got {type(c).__name__}")
                    continue
                bad = sorted(set(c) - {"kind", "id", "weight", "normalise", "meta"})
                errs.extend(f"components[{i}].{k}: unknown field" for k in bad)
                comps.append(Component(kind=c.get("kind"), id=c.get("id"), weight=c.get("weight", 1.0),
                                       normalise=c.get("normalise"), meta=c.get("meta")))
        version = data.get("version", 1)
        plan = cls(task_signature=data.get("task_signature"), task_family=data.get("task_family"),
                   components=tuple(comps), rationale=data.get("rationale", ""),
                   created_by=data.get("created_by", "planner"), version=version,
                   meta=data.get("meta") or {})
        errs.extend(plan.errors(resolver))
        if not errs and "plan_id" in data and data["plan_id"] != plan.plan_id:
            errs.append(f"plan_id: {data['plan_id']!r} does not match the content hash {plan.plan_id!r}")
        if errs:
            raise PlanError(errs)
        return plan

    @classmethod
    def from_json(cls, text: str, resolver: Resolver | None = None) -> "RewardPlan":
        """Parse and validate JSON text produced by `to_json` (or written by the agent)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise PlanError([f"plan: not valid JSON ({e})"]) from e
        return cls.from_dict(data, resolver)

    def errors(self, resolver: Resolver | None = None) -> list[str]:
        """All validation problems, each naming its field; empty when the plan is valid."""
        errs: list[str] = []
        if not isinstance(self.task_signature, str) or not self.task_signature.strip():
            errs.append(f"task_signature: expected a non-empty string, got {self.task_signature!r}")
        if self.task_family not in TASK_FAMILIES:
            errs.append(f"task_family: expected one of {list(TASK_FAMILIES)}, got {self.task_family!r}")
        if self.created_by not in CREATORS:
            errs.append(f"created_by: expected one of {list(CREATORS)}, got {self.created_by!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            errs.append(f"version: expected an integer >= 1, got {self.version!r}")
        if not isinstance(self.rationale, str):
            errs.append(f"rationale: expected a string, got {type(self.rationale).__name__}")
        if not isinstance(self.meta, dict):
            errs.append(f"meta: expected an object, got {type(self.meta).__name__}")
        if not self.components:
            errs.append("components: expected at least one component, got none")
        seen: set[tuple[str, str]] = set()
        for i, c in enumerate(self.components):
            errs.extend(c.errors(f"components[{i}]", resolver))
            if (c.kind, c.id) in seen:
                errs.append(f"components[{i}].id: duplicate component {c.kind}:{c.id}")
            seen.add((c.kind, c.id))
        return errs

    def validate(self, resolver: Resolver | None = None) -> "RewardPlan":
        """Raise PlanError if invalid; returns self so calls chain."""
        errs = self.errors(resolver)
        if errs:
            raise PlanError(errs)
        return self

    def with_(self, **changes: Any) -> "RewardPlan":
        """A copy with fields replaced (plan_id follows the new content)."""
        return dataclasses.replace(self, **changes)

    def weights(self) -> list[float]:
        """Component weights normalised to sum to 1."""
        total = sum(c.weight for c in self.components)
        return [c.weight / total for c in self.components]

    def combine(self, scores: Sequence[float]) -> float:
        """A sample's reward: weighted mean of normalised component scores; any failure gives NaN."""
        if len(scores) != len(self.components):
            raise ValueError(f"scores: expected {len(self.components)} values (one per component), "
                             f"got {len(scores)}")
        total = 0.0
        for c, w, s in zip(self.components, self.weights(), scores):
            v = normalise_score(s, c.normalise)
            if math.isnan(v):
                return math.nan
            total += w * v
        return total

    def scoring_meta(self, index: int, query: str, sample_meta: Mapping[str, Any] | None) -> dict[str, Any]:
        """Meta passed to component `index`: sample meta < plan meta < component meta < the query's constraints.

        The signature fixes which format constraints apply; their values (e.g. the word limit) are
        re-read from each query for the `format_constraints` verifier, so one cached plan serves every
        query of its signature. A plan with meta `constraints_source: "example"` (the held-out metric)
        checks the example's own ground-truth `constraints` instead, when it has them.
        """
        merged: dict[str, Any] = dict(sample_meta or {})
        merged.update(self.meta)
        comp = self.components[index]
        if comp.meta:
            merged.update(comp.meta)
        if comp.id == "format_constraints":
            truth = (sample_meta or {}).get("constraints")
            use_truth = self.meta.get("constraints_source") == "example" and isinstance(truth, Mapping)
            merged.update(constraints_to_meta(truth if use_truth else extract_constraints(query)))
        return merged


