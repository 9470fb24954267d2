"""Labelled queries that train the task-family router (`rlar_jax.rewards.routing`).

Every family gets queries from the bundled data sets where one exists, in the shape the loaders give
them to the planner, plus templated queries that widen the phrasing:
  math         GSM8K train, generated arithmetic (arith train), MATH-500 (first 200 problems); templated
               short questions (angles, rates, percentages, equations, areas, probability, calculus), proofs,
               counting problems, casual and non-English word problems
  code         MBPP few-shot and train task ids (1-10, 511-974); templated requests in 14 languages; web,
               HTTP, framework, front-end, devops, SQL, regex and language-concept questions
  translation  WMT22 sources and references (lines 1000 onwards; the bench reads from the start) wrapped
               in request templates written in English and in 12 other languages, many target languages;
               short requests that name the language without "translate" ("Say 'X' in Greek")
  dialogue     HH-RLHF harmless last human turns (pairs 1000 onwards), LLMBar inputs without format
               constraints, the instruction requests of `ifgen` without their constraints, chit-chat in
               several languages, notes and messages, brainstorming, "should I X or Y" questions
  instruction  `ifgen` train prompts; open requests with constraints stated in words, phrased freely
  other        factual short-answer questions (fact tables, science values, places, quoted titles, other
               languages) and multiple-choice questions
Every family but translation also gets all of its hand-written templates in `multilingual.json` (math, code,
dialogue, instruction and other in 14+ languages, plus English everyday facts and multiple choice, devops
and git requests, opinions and stories, and probability questions), on top of
the sampled `per_family`, so that the language of a query does not decide its family.
Some templates are written casually (`casual`: lower case, no final punctuation) as people type them.
`training_queries(seed)` is deterministic in `seed`; nothing here is read from the routing evaluation set.
"""

from __future__ import annotations

import random

from rlar_jax.rewards.routing_data.code_queries import _code
from rlar_jax.rewards.routing_data.common import multilingual
from rlar_jax.rewards.routing_data.dialogue_queries import _dialogue
from rlar_jax.rewards.routing_data.instruction_queries import _instruction
from rlar_jax.rewards.routing_data.math_queries import _math
from rlar_jax.rewards.routing_data.other_queries import _other
from rlar_jax.rewards.routing_data.translation_queries import _translation

PER_FAMILY = 1000  # queries per family (sampled down from the pools of each family's module)

BUILDERS = {"math": _math, "code": _code, "translation": _translation, "dialogue": _dialogue,
            "instruction": _instruction, "other": _other}


def training_queries(seed: int = 0, per_family: int = PER_FAMILY) -> list[tuple[str, str]]:
    """(query, family) pairs for every family: at most `per_family` sampled from the family's pools, plus
    its hand-written multilingual queries; duplicates removed; deterministic in `seed`."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for family, build in BUILDERS.items():
        rng = random.Random(f"routing:{family}:{seed}")
        queries = [q.strip() for q in build(rng) if q.strip()]
        queries = [q for q in dict.fromkeys(queries) if q not in seen]
        if len(queries) > per_family:
            queries = rng.sample(queries, per_family)
        taken = seen | set(queries)
        queries += [q for q in dict.fromkeys(multilingual(rng, family)) if q not in taken]
        seen.update(queries)
        out += [(q, family) for q in queries]
    return out
