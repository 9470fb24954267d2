"""Offline planner routing on a labelled mixed set, signatures, constraint extraction and replan rules."""

from __future__ import annotations

import json

import pytest

from rlar_jax.rewards.catalog import Catalog, CatalogEntry
from rlar_jax.rewards.library import Evidence
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.signature import analyse_query, extract_constraints, task_signature

MC = "Which gas do plants absorb?\nA) Oxygen\nB) Carbon dioxide\nC) Nitrogen\nD) Helium"
TESTS = {"test_list": ["assert f(2) == 4"]}
J = "judge-policy"
D = "hh-harmless-bt-smollm2"  # the shipped BT head: the best measured dialogue model (the judge is below chance)
E = "minilm-embed-sim"
F = "format_constraints"

# (query, task tag, reference, meta, expected family, expected component ids)
LABELLED = [
    # math: tagged and untagged (word problems, arithmetic, LaTeX)
    ("Natalia sold clips to 48 of her friends in April, and then half as many in May. How many clips did she "
     "sell altogether?", "gsm8k", "72", {}, "math", {"math_answer"}),
    ("Weng earns $12 an hour for babysitting. Yesterday she did 50 minutes. How much did she earn?", "gsm8k", "10",
     {}, "math", {"math_answer"}),
    ("What is the smallest positive integer $n$ such that $17n \\equiv 1234 \\pmod{7}$?", "math500", "3", {},
     "math", {"math_answer"}),
    ("Compute $\\frac{3}{4} + \\frac{5}{8}$.", None, "\\frac{11}{8}", {}, "math", {"math_answer"}),
    ("A train travels 120 km in 2 hours. How far does it travel in 5 hours at the same speed?", None, "300", {},
     "math", {"math_answer"}),
    ("Solve for x: 3x + 7 = 22.", None, "5", {}, "math", {"math_answer"}),
    ("Evaluate \\sqrt{144} + 2^3.", None, "20", {}, "math", {"math_answer"}),
    ("If a shirt costs 25 dollars and is discounted by 20 percent, what is the new price?", None, "20", {}, "math",
     {"math_answer"}),
    ("Tom has 3 boxes with 12 apples each. He gives away 7. How many apples are left?", None, "29", {}, "math",
     {"math_answer"}),
    ("What is 17 * 23?", None, "391", {}, "math", {"math_answer"}),
    # code
    ("Write a function to find the minimum cost path to reach (m, n) from (0, 0).", "mbpp", None, TESTS, "code",
     {"code_tests"}),
    ("Write a python function to remove first and last occurrence of a given character from the string.", "mbpp",
     None, TESTS, "code", {"code_tests"}),
    ("Implement a function that returns the n-th Fibonacci number.", None, None, TESTS, "code", {"code_tests"}),
    ("def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n", "humaneval", None, {"tests": "assert add(1, 2) == 3"},
     "code", {"code_tests"}),
    ("Write a Python script that prints the lines of a file in reverse order.", None, None, TESTS, "code",
     {"code_tests"}),
    ("Write a function that checks whether a string is a palindrome.", None, None, {}, "code", {D}),
    ("Create a JavaScript function that debounces another function.", None, None, {}, "code", {D}),
    # translation
    ("Translate the following sentence from English to German: The weather is nice today.", None,
     "Das Wetter ist heute schön.", {}, "translation", {"translation_chrf", E}),
    ("Translate into French: I would like a cup of coffee.", None, "Je voudrais une tasse de café.", {},
     "translation", {"translation_chrf", E}),
    ("Die Katze schläft auf dem Sofa.", "wmt22-de-en", "The cat is sleeping on the sofa.", {}, "translation",
     {"translation_chrf", E}),
    ("The meeting was postponed until next week.", "wmt22", "Das Treffen wurde verschoben.",
     {"src_lang": "en", "tgt_lang": "de"}, "translation", {"translation_chrf", E}),
    ("Please translate this Spanish phrase to English: ¿Dónde está la biblioteca?", None,
     "Where is the library?", {}, "translation", {"translation_chrf", E}),
    ("Translate to Chinese: Good morning, everyone.", None, None, {}, "translation", {D}),
    # dialogue / open-ended
    ("How can I get better at making friends as an adult?", None, None, {}, "dialogue", {D}),
    ("\n\nHuman: My neighbor's dog barks all night. What should I do?\n\nAssistant:", "hh_rlhf_harmless", None, {},
     "dialogue", {D}),
    ("Can you give me some tips for a job interview?", None, None, {}, "dialogue", {D}),
    ("Human: What's a good name for a goldfish?\nAssistant:", None, None, {}, "dialogue", {D}),
    ("Write a short story about a lighthouse keeper.", "llmbar", None, {}, "dialogue", {D}),
    ("Explain why the sky is blue to a five-year-old.", None, None, {}, "dialogue", {D}),
    # format-constrained instructions (alone, or on top of another family); the judge is at chance on
    # instruction pairs (catalog evidence), so the constraints alone decide
    ("Write a haiku about autumn. Answer in JSON with keys 'title' and 'poem'.", None, None, {}, "instruction",
     {F}),
    ("Describe your ideal weekend in at most 50 words.", None, None, {}, "instruction", {F}),
    ("List three benefits of exercise. Use exactly 3 bullet points.", None, None, {}, "instruction", {F}),
    ("Write a product description for a water bottle. Do not use the word \"amazing\".", None, None, {},
     "instruction", {F}),
    ("Write a tweet about recycling and include the keywords planet, future.", None, None, {}, "instruction",
     {F}),
    ("Write a limerick about a cat, all in lowercase letters.", "ifeval", None, {}, "instruction", {F}),
    ("Solve 12 * 13 and wrap your reasoning in <think> tags before the answer.", None, "156", {}, "math",
     {"math_answer", F}),
    ("How many legs do 4 spiders have? Respond in JSON format.", None, "32", {}, "math", {"math_answer", F}),
    # multiple choice and short factual answers
    (MC, None, "B", {}, "other", {"multiple_choice"}),
    ("What is the powerhouse of the cell? (A) nucleus (B) ribosome (C) mitochondria (D) golgi", "mmlu", "C", {},
     "other", {"multiple_choice"}),
    ("Which planet is known as the Red Planet?\nA. Venus\nB. Mars\nC. Jupiter\nD. Saturn", "arc_challenge", "B", {},
     "other", {"multiple_choice"}),
    ("What is the capital of Australia?", None, "Canberra", {}, "other", {"exact_match"}),
    ("Who wrote Pride and Prejudice?", "triviaqa", "Jane Austen", {}, "other", {"exact_match"}),
    ("What is the chemical symbol for gold?", None, "Au", {}, "other", {"exact_match"}),
    ("Which ocean is the largest?", None, "the Pacific Ocean", {}, "other", {"exact_match"}),
]


def test_labelled_set_routing_at_least_95_percent():
    planner = OfflinePlanner(Catalog())
    assert len(LABELLED) >= 40
    assert sum(1 for row in LABELLED if row[1] is None) >= 20  # many without a task tag
    wrong = []
    for query, task, ref, meta, family, comps in LABELLED:
        plan = planner.plan(query, task, ref, meta)
        got = (plan.task_family, {c.id for c in plan.components})
        if got != (family, comps):
            wrong.append((query[:60], got, (family, comps)))
    accuracy = 1 - len(wrong) / len(LABELLED)
    assert accuracy >= 0.95, f"accuracy {accuracy:.3f}; misrouted: {wrong}"


def test_translation_weights_and_format_meta():
    planner = OfflinePlanner(Catalog())
    plan = planner.plan("Translate into German: good night", None, "gute Nacht")
    assert [(c.id, c.weight) for c in plan.components] == [("translation_chrf", 1.0), (E, 0.5)]
    assert plan.meta["lang_pair"] == "xx-de"
    assert plan.weights() == pytest.approx([2 / 3, 1 / 3])
    plan = planner.plan("Summarise the article in at most 40 words and answer in JSON.", None, None)
    assert plan.meta["constraints"] == {"json": True, "max_words": 40}
    assert plan.task_signature == "instruction:json+max_words"


def test_embedding_model_only_when_in_catalog():
    planner = OfflinePlanner(Catalog(entries=[e for e in Catalog().entries() if e.id != E]))
    plan = planner.plan("Translate into German: good night", None, "gute Nacht")
    assert [c.id for c in plan.components] == ["translation_chrf"]


def test_registered_bt_head_preferred_for_dialogue(isolated_home):
    reg = isolated_home / "reward_models"
    reg.mkdir()
    (reg / "hh-bt.json").write_text(json.dumps({
        "id": "hh-bt-smollm2", "kind": "bt_head", "architecture": "llama", "source": str(isolated_home / "ckpt"),
        "tasks": ["dialogue", "harmlessness"], "languages": ["en"], "normalisation": {"type": "sigmoid"},
        "description": "Bradley-Terry head trained on HH-harmless pairs"}))
    (reg / "broken.json").write_text("{not json")
    planner = OfflinePlanner(Catalog())
    plan = planner.plan("How do I calm down before an exam?", None, None)
    assert [c.id for c in plan.components] == [D]  # without evidence it is not preferred over the measured head
    entry = json.loads((reg / "hh-bt.json").read_text())
    (reg / "hh-bt.json").write_text(json.dumps({**entry, "evidence": {"dialogue": 0.9}}))
    plan = OfflinePlanner(Catalog()).plan("How do I calm down before an exam?", None, None)
    assert [c.id for c in plan.components] == ["hh-bt-smollm2"]


@pytest.mark.parametrize("query,expected", [
    ("Answer in JSON. Keep it under 30 words.", {"json": True, "max_words": 30}),
    ("Write at least 100 words in at most 4 sentences.",
     {"min_words": 100, "max_sentences": 4}),
    ("Use fewer than 20 words.", {"max_words": 19}),
    ("Do not use the words \"very\" or \"really\" and include the keywords sun, moon.",
     {"forbidden_words": ["very", "really"], "keywords": ["sun", "moon"]}),
    ("Wrap your reasoning in <think> tags. End your response with \"Is there anything else?\"",
     {"think_tags": True, "end_with": "Is there anything else?"}),
    ("Reply in all capital letters with exactly two paragraphs and no commas.",
     {"uppercase": True, "paragraphs": 2, "no_commas": True}),
    ("What is 2 + 2?", {}),
])
def test_extract_constraints(query, expected):
    assert extract_constraints(query) == expected


def test_signatures():
    assert task_signature("x", "gsm8k", {}, reference="1") == "task:gsm8k"
    assert task_signature("Translate into German: hi", None, {}, reference="hallo") == "translation:xx-de"
    assert task_signature("src text", "wmt22", {"lang_pair": "en-de"}, reference="r") == "task:wmt22:en-de"
    assert task_signature("src", "wmt22-en-de", {}, reference="r") == "task:wmt22-en-de"
    assert task_signature("Write a function f.", "mbpp", TESTS) == "task:mbpp:has_tests"
    assert task_signature("Write a poem. Answer in JSON, at most 50 words.") == "instruction:json+max_words"
    # the constraint values are not part of the signature; their kinds are
    assert task_signature("Write a poem in at most 10 words.") == task_signature("Describe a cat in at most 90 words.")
    assert task_signature("What is 3 + 4?", None, {}, reference="7") == "math"
    assert task_signature("What is 3 + 4?") == "math:noref"
    per_a = task_signature("What is 3 + 4?", mode="per_query")
    assert per_a.startswith("query:") and per_a != task_signature("What is 3 + 5?", mode="per_query")
    assert per_a == task_signature("What is 3 + 4?", mode="per_query")
    with pytest.raises(ValueError, match="mode"):
        task_signature("x", mode="batch")
    f = analyse_query("Translate from German into English: Guten Tag", None, {}, "Good day")
    assert (f.family, f.lang_pair) == ("translation", "de-en")


def test_replan_rules():
    planner = OfflinePlanner(Catalog())
    gen = RewardPlan("math", "math", (Component("verifier", "gen-0123456789ab", 1.0),), created_by="agent",
                     version=3)
    ev = Evidence("math", gen.plan_id, "failure_rate", "gen-0123456789ab", {"failure_rate": 0.9})
    new = planner.replan(gen, ev)
    assert [c.id for c in new.components] == ["math_answer"] and new.version == 4
    assert "swapped generated verifier" in new.rationale
    seed = planner.plan("What is 2+3?", None, "5")
    zero = planner.replan(seed, Evidence("math", seed.plan_id, "zero_variance", "math_answer", {}))
    assert [c.kind for c in zero.components] == ["verifier", "reward_model"]
    assert zero.components[1].id == J and zero.components[1].weight == 0.5
    two = planner.plan("What is 3 + 3? Answer in JSON.", None, "6")
    dropped = planner.replan(two, Evidence("math:json", two.plan_id, "failure_rate", F, {}))
    assert [c.id for c in dropped.components] == ["math_answer"]


def test_catalog_entry_validation_names_fields():
    with pytest.raises(ValueError, match="kind: expected one of"):
        CatalogEntry(id="x", kind="oracle", architecture="llama", source="hf:x/y")
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        CatalogEntry.from_dict({"id": "x", "kind": "judge", "architecture": "a", "source": "s", "colour": 1})
    cat = Catalog()
    assert [e.id for e in cat.search("embedding similarity reference")][0] == E
    assert [e.id for e in cat.search("", task="dialogue")] == [D, E]  # the judge is below chance there
    assert cat.search("sequence classification reward", task="code") == []
    assert cat.hub_search("reward") == []  # offline by default: the hub hook is guarded
