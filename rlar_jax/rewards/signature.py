"""Task signatures: which queries share one reward plan.

The dataset's task tag wins when present (plus salient meta: the language pair of a translation, whether
a coding task ships tests); otherwise the signature is built from features of the query itself (its
detected family and the kinds of explicit format constraints it states, e.g. "instruction:json+max_words").
Without a tag the family comes from, in order: the high-precision rules (tests in meta, code blocks, an
explicit "translate ... into <language>", lettered answer options), the learned router
(`rlar_jax.rewards.routing`: MiniLM embeddings and a linear head) when its top probability reaches its
threshold, and otherwise the hand-written rules of `_detect_family` with their fallbacks (constraints
stated in the query -> "instruction", a short reference -> "other", else "dialogue"). Constraints stated
in the query make a router answer of "dialogue" or "other" "instruction".
The agent is therefore consulted once per new kind of query. `mode="per_query"` keys by query hash instead.
Format-constraint values (the word limit itself) are not part of the signature: they are re-read from
each query at scoring time by `extract_constraints`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from typing import Any, Mapping

from rlar_jax.languages import LANGUAGES  # noqa: F401 (re-exported)
from rlar_jax.rewards.query_cues import code_cue, factual_cue, translation_cue
from rlar_jax.rewards.query_rules import (_TAGS, _detect_family, _is_multiple_choice, _lang_pair, _strong_family,
                                         _tests_in)
from rlar_jax.rewards.constraints import constraints_to_meta, extract_constraints  # noqa: F401 (re-exported)

SIGNATURE_MODES: tuple[str, ...] = ("task", "per_query")

@dataclasses.dataclass(frozen=True)
class QueryFeatures:
    """What the planner needs to know about one query."""

    family: str
    task: str | None = None
    constraints: dict[str, Any] = dataclasses.field(default_factory=dict)
    lang_pair: str | None = None
    has_tests: bool = False
    multiple_choice: bool = False
    short_answer: bool = False
    has_reference: bool = False
    routed_by: str = "rules"  # "tag", "rule" (high-precision rule), "router", "router_low" (below the
    #                         threshold where the rules see no family) or "rules" (fallback)
    confidence: float | None = None  # the router's top probability when it was asked

    @property
    def constraint_kinds(self) -> list[str]:
        """Sorted names of the format constraints the query states."""
        return sorted(self.constraints)


def _routed_family(query: str, meta: Mapping[str, Any], constraints: Mapping[str, Any],
                   routing: str | None) -> tuple[str | None, str, float | None]:
    """(family or None, how it was decided, router confidence) for a query without a task tag; None
    leaves the decision to the hand-written rules (no router, or a router below its threshold)."""
    from rlar_jax.rewards import routing as routing_mod

    if routing_mod.routing_mode(routing) == "rules":
        return None, "rules", None
    router = routing_mod.get_router()
    if router is None:
        return None, "rules", None
    strong = _strong_family(query, meta)
    if strong is not None:
        return strong, "rule", None
    try:
        routed = router.route(query)
    except Exception as e:  # a fault in the learned router never stops scoring: the rules decide
        routing_mod.disable_router(e)
        return None, "rules", None
    family, confidence = routed.family, routed.confidence
    # A router family whose cue is absent is refused, and the best other family decides with its probability
    # among the others. Translation: no word can mark a translation request (the encoder only saw
    # non-English text). Code: nothing is about programming (topic words such as a tech career or "how does
    # X work" pulled the encoder towards code). Other: the query asks for an opinion, advice or writing.
    for gated, cue in (("translation", translation_cue), ("code", code_cue), ("other", factual_cue)):
        if family == gated and not cue(query):
            rest = {f: p for f, p in routed.probs.items() if f != gated}
            family = max(rest, key=rest.__getitem__)
            confidence = rest[family] / max(sum(rest.values()), 1e-12)
    if confidence < router.threshold:
        # The rules decide; where they see no family, a router family above the floor beats their default.
        if (confidence >= routing_mod.FALLBACK_FLOOR and not constraints
                and _detect_family(query, meta) is None):
            return family, "router_low", confidence
        return None, "rules", confidence
    if constraints and family in ("dialogue", "other"):
        family = "instruction"
    return family, "router", confidence


def _tag_family(task: str) -> tuple[str | None, str | None]:
    for pattern, family, qualifier in _TAGS:
        if re.search(pattern, task):
            return family, qualifier
    return None, None


def analyse_query(query: str, task: str | None = None, meta: Mapping[str, Any] | None = None,
                  reference: str | None = None, *, routing: str | None = None) -> QueryFeatures:
    """Detect a query's task family and salient features (tag first, then the query text).

    `routing`: "learned" (the router after the high-precision rules) or "rules" (the hand-written rules
    only); default $RLAR_JAX_ROUTING, else "learned". Without a usable router the rules decide.
    """
    if not isinstance(query, str):
        raise TypeError(f"query: expected str, got {type(query).__name__}")
    meta = dict(meta or {})
    tag = task.strip().lower().replace(" ", "_") if isinstance(task, str) and task.strip() else None
    reference = reference if reference is not None else meta.get("reference")
    has_ref = isinstance(reference, str) and bool(reference.strip())
    constraints = extract_constraints(query)
    family, qualifier = _tag_family(tag) if tag else (None, None)
    routed_by, confidence = ("tag" if family else "rules"), None
    if family is None:
        family, routed_by, confidence = _routed_family(query, meta, constraints, routing)
    family = family or _detect_family(query, meta)
    mc = qualifier == "mc" or (family in (None, "other") and _is_multiple_choice(query, meta))
    short = qualifier == "exact" or (has_ref and not mc and len(str(reference).split()) <= 10)
    if family is None:
        if constraints:
            family = "instruction"
        elif has_ref and short:
            family = "other"
        else:
            family = "dialogue"
    return QueryFeatures(
        family=family, task=tag, constraints=constraints,
        lang_pair=_lang_pair(query, tag, meta) if family == "translation" else None,
        has_tests=family == "code" and _tests_in(meta), multiple_choice=mc and family == "other",
        short_answer=short and family == "other" and not mc, has_reference=has_ref, routed_by=routed_by,
        confidence=confidence,
    )


def signature_of(features: QueryFeatures) -> str:
    """Signature text of analysed features (see `task_signature`)."""
    parts = [f"task:{features.task}" if features.task else features.family]
    if features.family == "translation" and features.lang_pair and not (
            features.task and features.task.endswith(features.lang_pair)):
        parts.append(features.lang_pair)
    if features.has_tests:
        parts.append("has_tests")
    if features.multiple_choice and not features.task:
        parts.append("mc")
    if features.short_answer and not features.task:
        parts.append("exact")
    if not features.has_reference and features.family in ("math", "translation", "other"):
        parts.append("noref")
    if features.constraints:
        parts.append("+".join(features.constraint_kinds))
    return ":".join(parts)


def task_signature(query: str, task: str | None = None, meta: Mapping[str, Any] | None = None, *,
                   reference: str | None = None, mode: str = "task") -> str:
    """The key under which a plan is cached: e.g. "task:gsm8k", "translation:en-de", "instruction:json+max_words".

    `mode="per_query"` gives every distinct query (with its tag and meta) its own plan.
    """
    if mode not in SIGNATURE_MODES:
        raise ValueError(f"mode: expected one of {list(SIGNATURE_MODES)}, got {mode!r}")
    if mode == "per_query":
        blob = json.dumps([query, task, dict(meta or {}), reference], sort_keys=True, default=str)
        return "query:" + hashlib.sha256(blob.encode()).hexdigest()[:16]
    return signature_of(analyse_query(query, task, meta, reference))
