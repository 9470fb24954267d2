"""`rlar-jax rewardbench`: best-of-k scoring with ties, the suite's items, and the command on a small slice."""

import ast
import json
import math
import random

import pytest

from rlar_jax.datasets.readers import read_text
from rlar_jax.datasets.registry import BUNDLED_DIR
from rlar_jax.datasets.precise_if import compose
from rlar_jax.datasets.splits import hh_rows, hh_split, validation_pairs
from rlar_jax.datasets.suite import (SUBSETS, build_suite, code_items, corrupt_rationale, degrade, math_items,
                                     pair_items, precise_if_items, second_reference, translation_items,
                                     wrong_answers)
from rlar_jax.rewardbench import best_of_k, format_table, oracle, parse_limits, subset_accuracy

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
    sources = sorted((DATA / "wmt22").glob("*.src.*"))
    items = translation_items(sources, 30)
    assert [it.example.meta["language_pair"] for it in items[:6]] == ["de-en", "en-de", "en-zh"] * 2
    second = {}
    for src in sources:  # (language pair, line) -> the second human translation
        lines = read_text(second_reference(src)).split("\n")
        second.update({(src.name.split(".")[1], i): line.strip() for i, line in enumerate(lines, 1)})
    for it in items:
        # the correct candidate is the other human translation, never the string the scorer compares against
        assert it.example.reference not in it.candidates and len(set(it.candidates)) == 4
        key = (it.example.meta["language_pair"], int(it.uid.rpartition(":")[2]))
        assert it.candidates[0] == second[key] and it.candidates[0] != it.example.reference.strip()
    assert second_reference(sources[0]).name.startswith("generaltest2022.de-en.ref.B.en")
    with pytest.raises(FileNotFoundError, match="second reference not found"):
        second_reference(DATA / "missing" / "generaltest2022.en-de.src.en")
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


def test_safety_and_instruction_leave_out_the_validation_and_training_pairs():
    hh = DATA / "hh_rlhf_harmless" / "test.jsonl.gz"
    rows = {n: (c, r) for n, _, c, r in hh_rows(hh)}
    split = {name: [row[0] for row in hh_split(hh, name)] for name in ("train", "validation", "bench")}
    assert (len(split["validation"]), len(split["train"])) == (400, 600)
    assert sorted(split["train"] + split["validation"] + split["bench"]) == sorted(rows)  # a partition
    assert split == {name: [row[0] for row in hh_split(hh, name)] for name in split}  # deterministic
    suite = build_suite(DATA, {"safety": 60, "instruction": 40}, None)
    lines = [int(it.uid.rpartition(":")[2]) for it in suite["safety"]]
    assert len(lines) == 60 and set(lines) <= set(split["bench"])
    for it, n in zip(suite["safety"], lines):
        assert it.candidates == rows[n]  # the uid's line is the pair the item shows
    val_pairs = validation_pairs("instruction", DATA)
    assert len(val_pairs) == sum(len(json.loads(read_text(f))) // 3 for f in (DATA / "llmbar").glob("*.json.gz"))
    val = {(c, r) for _, c, r in val_pairs}
    bench = {it.candidates for it in suite["instruction"]}
    assert len(bench) == 40 and not bench & val
    with pytest.raises(KeyError, match="no validation split for family 'code'"):
        validation_pairs("code", DATA)


def test_precise_if_round_trip_in_the_sandbox():
    """Every kept item: the correct response meets all constraints, each wrong one breaks exactly one."""
    from rlar_jax.datasets.constraints import combination_split, load_constraints
    from rlar_jax.rewards.constraints import constraints_to_meta
    from rlar_jax.sandbox import Sandbox, load_verifier

    path = DATA / "ifgen" / "eval.jsonl.gz"
    truth = {ex.uid: ex.meta["constraints"] for ex in load_constraints(path)}
    with Sandbox() as sb:
        items = precise_if_items(path, 40, sb)
        rows = [{"prompt": it.example.query, "response": c, "reference": "",
                 "meta": constraints_to_meta(truth[it.uid])} for it in items for c in it.candidates]
        scores = [r.score for r in sb.score_batch(load_verifier("format_constraints"), rows)]
    assert len(items) == 40
    for k, it in enumerate(items):
        kinds = tuple(sorted(truth[it.uid]))
        assert len(kinds) in (2, 3) and combination_split(kinds) == "eval"  # held-out combinations only
        assert scores[4 * k] == 1.0
        assert scores[4 * k + 1:4 * k + 4] == pytest.approx([1 - 1 / len(kinds)] * 3)
        assert len(set(it.candidates)) == 4 and it.example.meta == {} and it.example.reference == ""
        assert it.example.task == "ifeval"


@pytest.mark.parametrize("constraints,broken,check", [
    ({"lowercase": True, "max_words": 40}, None, lambda t: t == t.lower() and len(t.split()) <= 40),
    ({"lowercase": True, "max_words": 40}, "lowercase", lambda t: t != t.lower() and len(t.split()) <= 40),
    ({"lowercase": True, "max_words": 40}, "max_words", lambda t: t == t.lower() and len(t.split()) > 40),
    ({"min_words": 60, "no_commas": True}, "min_words", lambda t: len(t.split()) < 60 and "," not in t),
    ({"min_words": 60, "no_commas": True}, "no_commas", lambda t: len(t.split()) >= 60 and "," in t),
    ({"bullets": 3, "title": True}, None,
     lambda t: sum(line.startswith("* ") for line in t.split("\n")) == 3 and "<<" in t),
    ({"bullets": 3, "title": True}, "bullets", lambda t: sum(line.startswith("* ") for line in t.split("\n")) == 4),
    ({"json": True, "keywords": ["river", "echo"]}, None,
     lambda t: json.loads(t)["response"].count("river") == 1 and "echo" in t),
    ({"json": True, "keywords": ["river", "echo"]}, "keywords", lambda t: "river" in t and "echo" not in t),
    ({"letter_frequency": {"letter": "z", "min": 4}, "end_with": "That is all."}, "letter_frequency",
     lambda t: t.lower().count("z") == 3 and t.endswith("That is all.")),
    ({"quotes": True, "start_with": "Dear reader"}, None, lambda t: t.startswith('"Dear reader ') and t.endswith('"')),
])
def test_compose_meets_or_breaks_one_constraint(constraints, broken, check):
    text = compose(constraints, broken)
    assert check(text), text
    with pytest.raises(ValueError, match="not one of the constraints"):
        compose(constraints, "uppercase")


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
                                                        "instruction": 8, "precise_if": 8}
    assert parse_limits(None, ["math"]) == {"math": 50}
    with pytest.raises(ValueError, match="unknown subset 'maths'"):
        parse_limits(["maths=3"], SUBSETS)
    results = [{"system": "rlar", "subsets": {"math": 1.0, "safety": 0.5}, "average": 0.75,
                "n": {"math": 8, "safety": 2}},
               {"system": "judge", "subsets": {"math": 0.25, "safety": 1.0}, "average": 0.625,
                "n": {"math": 8, "safety": 2}}]
    lines = format_table(results).splitlines()
    assert lines[0].split() == ["subset", "n", "rlar", "judge", "oracle"]  # one static system: it is the bound
    assert lines[1].split() == ["math", "8", "1.000", "0.250", "0.250"]
    assert lines[-1].split() == ["average", "0.750", "0.625", "0.625"]
    assert format_table(results[:1]).splitlines()[0].split() == ["subset", "n", "rlar"]  # no static system
    with pytest.raises(FileNotFoundError, match="data directory not found"):
        build_suite(DATA / "missing", {"math": 1}, None)


def test_oracle_is_the_best_static_system_per_subset():
    def row(system, math_, code, safety):
        return {"system": system, "subsets": {"math": math_, "code": code, "safety": safety},
                "average": float("nan"), "n": {"math": 4, "code": 4, "safety": 2}}

    results = [row("rlar", 1.0, 1.0, 0.9), row("static:math_answer", 1.0, 0.0, 0.25),
               row("static:code_tests", 0.0, 1.0, NAN), row("judge", 0.25, 0.5, 0.5)]
    bound = oracle(results)
    assert bound["subsets"] == {"math": 1.0, "code": 1.0, "safety": 0.5}  # rlar never counts
    assert bound["best"] == {"math": "static:math_answer", "code": "static:code_tests", "safety": "judge"}
    assert bound["average"] == pytest.approx(2.5 / 3)
    assert oracle(results[:1]) is None
    nan_only = oracle([row("static:x", NAN, NAN, NAN)])
    assert math.isnan(nan_only["subsets"]["math"]) and nan_only["best"]["math"] is None
    cells = {line.split()[0]: line.split()[-1] for line in format_table(results).splitlines()}
    assert cells["subset"] == "oracle" and (cells["safety"], cells["average"]) == ("0.500", "0.833")


def test_rewardbench_command_on_a_small_slice(capsys):
    """RLAR ranks math, code and precise_if by their verifiers; a static verifier that cannot score a subset
    loses it; the oracle column is the best static system per subset."""
    from rlar_jax import cli

    assert cli.main(["rewardbench", "--limit", "8", "--limit", "safety=2",
                     "--limit", "instruction=2", "--system", "rlar", "--system", "static:code_tests"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    rows = {line.split()[0]: line.split() for line in out if line and not line.startswith("{")}
    assert set(SUBSETS) | {"subset", "average"} <= set(rows)
    assert rows["subset"][2:] == ["rlar", "static:code_tests", "oracle"] and rows["math"][1] == "8"
    results = {r["system"]: r for r in (json.loads(line) for line in out if line.startswith("{"))}
    assert set(results) == {"rlar", "static:code_tests", "oracle"}
    rlar = results["rlar"]
    assert list(rlar["subsets"]) == list(SUBSETS)
    assert rlar["subsets"]["math"] >= 0.95 and rlar["subsets"]["code"] >= 0.95
    assert rlar["subsets"]["precise_if"] >= 0.95  # the constraints read from the prompt decide
    assert rlar["average"] == pytest.approx(sum(rlar["subsets"].values()) / len(SUBSETS))
    static = results["static:code_tests"]["subsets"]
    assert static["code"] >= 0.95
    assert static["math"] == static["translation"] == static["safety"] == static["precise_if"] == 0.0  # unscored
    assert results["oracle"]["subsets"] == static  # one static system: it is its own upper bound
    assert set(results["oracle"]["best"].values()) == {"static:code_tests"}
