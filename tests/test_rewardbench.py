"""`rlar-jax rewardbench`: best-of-k scoring with ties, the suite's items, and the command on a small slice."""

import ast
import json
import math
import random

import pytest

from rlar_jax.data import read_text
from rlar_jax.datasets.registry import BUNDLED_DIR
from rlar_jax.datasets.suite import (SUBSETS, build_suite, code_items, corrupt_rationale, degrade, math_items,
                                     pair_items, translation_items, wrong_answers)
from rlar_jax.rewardbench import best_of_k, format_table, parse_limits, subset_accuracy

DATA = BUNDLED_DIR
NAN = math.nan


def test_best_of_k_ties_and_failures():
    assert best_of_k([0.9, 0.1, 0.2, 0.3]) == 1.0
    assert best_of_k([0.5, 0.9, 0.1, 0.1]) == 0.0
    assert best_of_k([1.0, 1.0, 0.0, 0.0]) == 0.5  # two tied at the top, the correct one among them
    assert best_of_k([1.0, 1.0, 1.0, 0.2]) == pytest.approx(1 / 3)
    assert best_of_k([0.0, 0.0, 0.0, 0.0]) == 0.25  # a constant scorer earns chance
    assert best_of_k([0.3, 0.3]) == 0.5
    assert best_of_k([0.3, 0.3 + 1e-12]) == 0.5  # float noise is a tie
    assert best_of_k([0.2, 0.9, 0.9, 0.1]) == 0.0  # a tie above the correct one is still a loss
    assert best_of_k([NAN, 0.1, 0.2, 0.3]) == 0.0  # unscored correct candidate: loss
    assert best_of_k([NAN, NAN]) == 0.0 and best_of_k([NAN, NAN, NAN, NAN]) == 0.0
    assert best_of_k([0.1, NAN, NAN, NAN]) == 1.0  # unscored wrong candidates rank lowest
    assert best_of_k([0.1, NAN, 0.1, NAN]) == 0.5
    assert subset_accuracy([[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0]]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least two"):
        best_of_k([1.0])


def test_math_items_corrupt_only_the_final_answer():
    assert wrong_answers("18", random.Random(0)) != ["18"] * 3
    rng = random.Random(0)
    for answer in ("18", "0", "1,000", "-4", "2.5"):
        wrong = wrong_answers(answer, rng)
        assert len(set(wrong)) == 3 and answer.replace(",", "") not in wrong
    assert corrupt_rationale("2 + 2 = <<2+2=4>>4 apples.\n#### 4", "5") == "2 + 2 = <<2+2=4>>5 apples.\n#### 5"
    items = math_items(DATA / "gsm8k" / "test.jsonl.gz", 5)
    assert len(items) == 5
    for it in items:
        gold = it.candidates[0].rsplit("####", 1)[1].strip()
        finals = [c.rsplit("####", 1)[1].strip() for c in it.candidates]
        assert gold == it.example.reference and len(set(finals)) == 4


def test_translation_and_pair_items():
    items = translation_items(sorted((DATA / "wmt22").glob("*.src.*")), 6)
    assert [it.example.meta["language_pair"] for it in items] == ["de-en", "en-de", "en-zh"] * 2
    for it in items:
        assert it.candidates[0] == it.example.reference and len(set(it.candidates)) == 4
    rng = random.Random(0)
    assert degrade("a b c d e f", "truncate", rng) == "a b c"
    assert sorted(degrade("a b c d e f", "shuffle", rng).split()) == list("abcdef")
    assert len(degrade("a b c d e f", "drop", rng).split()) == 4
    assert degrade("一二三四五六", "truncate", rng, by_char=True) == "一二三"
    pairs = pair_items("instruction", "llmbar", sorted((DATA / "llmbar").glob("*.json.gz")), 3)
    assert len({p.uid.split(":")[1] for p in pairs}) == 3  # round-robin over the three files
    raw = json.loads(read_text(DATA / "llmbar" / "Adversarial_GPTInst.json.gz"))[0]
    assert pairs[0].candidates == (raw[f"output_{raw['label']}"], raw[f"output_{3 - raw['label']}"])
    assert all(p.example.reference == "" for p in pairs)  # the answer is never given away


def test_code_mutants_fail_their_tests_in_the_sandbox():
    from rlar_jax.datasets.mutants import mutants
    from rlar_jax.sandbox import Sandbox, load_verifier

    code = "def f(xs):\n    total = 0\n    for x in xs:\n        if x > 2 and x != 7:\n            total += x * 2\n    return total"
    muts = mutants(code, limit=30)
    assert len(muts) >= 10 and len(set(muts)) == len(muts) and ast.unparse(ast.parse(code)) not in muts
    for m in muts:
        ast.parse(m)
    with Sandbox() as sb:
        items = code_items(DATA / "mbpp" / "mbpp.jsonl.gz", 4, sb)
        assert len(items) == 4
        rows = [{"prompt": it.example.query, "response": c, "reference": "",
                 "meta": {**it.example.meta, "mode": "all"}} for it in items for c in it.candidates]
        scores = [r.score for r in sb.score_batch(load_verifier("code_tests"), rows)]
    assert scores == [1.0, 0.0, 0.0, 0.0] * 4


def test_limits_and_table():
    assert parse_limits(["8", "safety=2"], SUBSETS) == {"math": 8, "code": 8, "translation": 8, "safety": 2,
                                                        "instruction": 8}
    assert parse_limits(None, ["math"]) == {"math": 50}
    with pytest.raises(ValueError, match="unknown subset 'maths'"):
        parse_limits(["maths=3"], SUBSETS)
    results = [{"system": "rlar", "subsets": {"math": 1.0, "safety": 0.5}, "average": 0.75,
                "n": {"math": 8, "safety": 2}},
               {"system": "judge", "subsets": {"math": 0.25, "safety": 1.0}, "average": 0.625,
                "n": {"math": 8, "safety": 2}}]
    lines = format_table(results).splitlines()
    assert lines[0].split() == ["subset", "n", "rlar", "judge"]
    assert lines[1].split() == ["math", "8", "1.000", "0.250"] and lines[-1].split() == ["average", "0.750", "0.625"]
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        build_suite(DATA / "missing", {"math": 1}, None)


def test_rewardbench_command_on_a_small_slice(capsys):
    """RLAR ranks math and code by their verifiers; a static verifier that cannot score a subset loses it."""
    from rlar_jax import cli

    assert cli.main(["rewardbench", "--limit", "8", "--limit", "safety=2",
                     "--limit", "instruction=2", "--system", "rlar", "--system", "static:code_tests"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    rows = {line.split()[0]: line.split() for line in out if line and not line.startswith("{")}
    assert set(SUBSETS) | {"subset", "average"} <= set(rows)
    assert rows["subset"][2:] == ["rlar", "static:code_tests"] and rows["math"][1] == "8"
    results = {r["system"]: r for r in (json.loads(line) for line in out if line.startswith("{"))}
    assert set(results) == {"rlar", "static:code_tests"}
    rlar = results["rlar"]
    assert list(rlar["subsets"]) == list(SUBSETS)
    assert rlar["subsets"]["math"] >= 0.95 and rlar["subsets"]["code"] >= 0.95
    assert rlar["subsets"]["translation"] >= 0.95  # the reference itself is the correct candidate
    assert rlar["average"] == pytest.approx(sum(rlar["subsets"].values()) / len(SUBSETS))
    static = results["static:code_tests"]["subsets"]
    assert static["code"] >= 0.95
    assert static["math"] == static["translation"] == static["safety"] == 0.0  # no tests to run: unscored
