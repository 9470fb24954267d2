"""Planner plans scored by the seed verifiers in the real WebAssembly sandbox, and CASES re-validation."""

from __future__ import annotations

import pytest

from rlar_jax.rewards.resolver import PlanResolver
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner

MC = "Which gas do plants absorb?\nA) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Helium"

# (query, task, reference, meta, responses, expected verifier scores per response {verifier id: score})
CASES = [
    ("What is 6 * 7?", None, "42", {}, ["The answer is 42.", "It is 41."],
     [{"math_answer": 1.0}, {"math_answer": 0.0}]),
    ("Describe the sea in at most 5 words and do not use the word \"blue\".", None, None, {},
     ["Vast, deep, restless water.", "The big blue sea shines brightly today."],
     [{"format_constraints": 1.0}, {"format_constraints": 0.0}]),
    ("Solve 12 * 13. Wrap your reasoning in <think> tags.", None, "156", {},
     ["<think>12*13 = 120 + 36</think>The answer is 156.", "156"],
     [{"math_answer": 1.0, "format_constraints": 1.0}, {"math_answer": 1.0, "format_constraints": 0.0}]),
    ("List two fruits. Use exactly 2 bullet points, all lowercase.", None, None, {},
     ["- apple\n- pear", "- Apple\n- pear\n- fig"],
     [{"format_constraints": 1.0}, {"format_constraints": 0.0}]),
    (MC, None, "B", {}, ["The answer is (B).", "A) Oxygen"], [{"multiple_choice": 1.0}, {"multiple_choice": 0.0}]),
    ("What is the capital of Australia?", None, "Canberra", {}, ["Canberra", "Sydney"],
     [{"exact_match": 1.0}, {"exact_match": 0.0}]),
    ("Write a function add(a, b) that returns the sum.", "mbpp", "", {"tests": ["assert add(1, 2) == 3",
                                                                          "assert add(0, 0) == 0"]},
     ["```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b):\n    return a - b"],
     [{"code_tests": 1.0}, {"code_tests": 0.5}]),
]


def _score(plan: RewardPlan, library: Library, sandbox, query, reference, meta, responses):
    out = [{} for _ in responses]
    for i, c in enumerate(plan.components):
        if c.kind != "verifier":
            continue
        rows = [{"prompt": query, "response": r, "reference": reference or "",
                 "meta": plan.scoring_meta(i, query, meta)} for r in responses]
        for d, res in zip(out, sandbox.score_batch(library.get_verifier(c.id)["source"], rows)):
            assert res.error_kind is None, (c.id, res.message, res.traceback)
            d[c.id] = res.score
    return out


@pytest.mark.parametrize("query,task,reference,meta,responses,expected", CASES)
def test_planner_plans_score_with_seed_verifiers(sandbox, query, task, reference, meta, responses, expected):
    library = Library(":memory:")
    plan = OfflinePlanner(Catalog()).plan(query, task, reference, meta)
    assert _score(plan, library, sandbox, query, reference, meta, responses) == expected


def test_cached_plan_reads_each_querys_constraint_values(sandbox):
    library = Library(":memory:")
    resolver = PlanResolver(library, OfflinePlanner(Catalog()))
    first = "Describe the sea in at most 5 words and do not use the word \"blue\"."
    second = "Describe a forest in at most 8 words and do not use the word \"green\"."
    p1, p2 = resolver.resolve([{"query": first}, {"query": second}])
    assert p1 is p2 and p1.task_signature == "instruction:forbidden_words+max_words"
    seven_words = "Tall old trees whisper in the wind."
    assert _score(p2, library, sandbox, second, None, {}, [seven_words, "A green forest."]) == [
        {"format_constraints": 1.0}, {"format_constraints": 0.5}]
    # the judge's measured accuracy on instruction pairs is at chance, so the constraints alone decide
    assert [c.id for c in p2.components] == ["format_constraints"]
    assert p2.combine([0.5]) == pytest.approx(0.5)


BROKEN_CASES = '''"""Answer must contain the reference."""


def score(prompt, response, reference, meta):
    return 1.0 if reference in response else 0.0


CASES = [("q", "it is 4", "4", {}, 1.0), ("q", "it is 5", "4", {}, 1.0)]
'''


def test_cases_revalidation_failure_demotes_and_replans(sandbox, tmp_path):
    with Library(tmp_path / "lib.sqlite") as library:
        # a generated verifier stored earlier whose CASES no longer hold (e.g. an older guest accepted it)
        vid = library.add_verifier(BROKEN_CASES, origin="generated", tasks=["math"])
        plan = library.put_plan(RewardPlan("task:gsm8k", "math", (Component("verifier", vid),), created_by="agent"))
        assert library.needs_replan("task:gsm8k") is None
        ev = library.revalidate("task:gsm8k", sandbox)
        assert ev is not None and (ev.reason, ev.component_id) == ("validation_failed", vid)
        assert ev.details["failed_cases"][0]["index"] == 1 and ev.details["failed_cases"][0]["got"] == 0.0
        assert library.needs_replan("task:gsm8k") == ev
        new = PlanResolver(library, OfflinePlanner(Catalog())).resolve([{"query": "What is 2+2?", "task": "gsm8k",
                                                                          "reference": "4"}])[0]
        assert new.version == 2 and [c.id for c in new.components] == ["math_answer"]
        assert library.plan_record(plan.plan_id)["demotion"]["reason"] == "validation_failed"
        # seeds pass their own CASES
        assert library.revalidate("task:gsm8k", sandbox) is None
