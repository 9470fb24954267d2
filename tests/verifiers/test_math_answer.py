"""math_answer agrees with GSM8K gold answers and MATH-500 solutions, inside the sandbox."""

from __future__ import annotations

import random

import pytest

from rlar_jax.sandbox import load_verifier

from .conftest import DATA, read_jsonl


@pytest.fixture(scope="module")
def gsm8k():
    return read_jsonl(DATA / "gsm8k" / "test.jsonl.gz", limit=200)


def _corrupt(rationale: str, rng: random.Random) -> str:
    body, final = rationale.rsplit("####", 1)
    value = int(final.strip().replace(",", ""))
    return f"{body}#### {value + rng.choice([-3, -1, 1, 2, 10])}"


def test_gold_rationales_score_one_and_corrupted_finals_zero(sandbox, gsm8k):
    source = load_verifier("math_answer")
    rng = random.Random(0)
    gold = sandbox.score_batch(source, [dict(prompt=r["question"], response=r["answer"], reference=r["answer"])
                                        for r in gsm8k])
    assert [r.error_kind for r in gold] == [None] * len(gsm8k)
    assert [r.score for r in gold] == [1.0] * len(gsm8k)
    bad = sandbox.score_batch(source, [dict(prompt=r["question"], response=_corrupt(r["answer"], rng),
                                            reference=r["answer"]) for r in gsm8k])
    assert [r.score for r in bad] == [0.0] * len(gsm8k)


def test_answer_formats_a_model_might_use(sandbox, gsm8k):
    source = load_verifier("math_answer")
    rows = []
    for r in gsm8k[:50]:
        final = r["answer"].rsplit("####", 1)[1].strip()
        value = int(final.replace(",", ""))
        rows += [
            dict(prompt="", response=f"Reasoning...\nThe answer is ${value:,}.", reference=r["answer"]),
            dict(prompt="", response=f"So the total is \\boxed{{{value}}}", reference=r["answer"]),
            dict(prompt="", response=f"Final answer: {value}.00 dollars", reference=final),
        ]
    assert all(res.score == 1.0 for res in sandbox.score_batch(source, rows))


def test_math500_solutions_match_their_answers(sandbox):
    rows = read_jsonl(DATA / "math500" / "test.jsonl.gz", limit=100)
    results = sandbox.score_batch(load_verifier("math_answer"),
                                  [dict(prompt=r["problem"], response=r["solution"], reference=r["answer"]) for r in rows])
    assert sum(res.score for res in results) == len(rows)
    # and a wrong final answer is caught
    wrong = [dict(prompt="", response="\\boxed{" + r["answer"] + "+1}", reference=r["answer"]) for r in rows[:20]]
    assert sum(res.score for res in sandbox.score_batch(load_verifier("math_answer"), wrong)) == 0
