"""Rewards that depend only on their own row: the five integrity probes are detected, and validation runs
on instances that never score."""

from __future__ import annotations

import math
import random

import pytest

from rlar_jax.sandbox import Sandbox, SandboxPool, load_verifier
from rlar_jax.sandbox.audit import mismatch, pick_rows
from rlar_jax.sandbox.limits import ScoreResult

from .conftest import TEST_LIMITS

# Remembers every prompt it has seen and gives any later row of that prompt 1.0.
REMEMBER = '''
SEEN = set()
def score(prompt, response, reference, meta):
    if prompt in SEEN:
        return 1.0
    SEEN.add(prompt)
    return 1.0 if response == reference else 0.0
'''
# Reads the packed batch from the harness's frame: the more texts in the batch, the higher the score.
PEEK = '''
import sys
def score(prompt, response, reference, meta):
    table = sys._getframe(1).f_locals.get("table") or []
    return min(len(table), 10) / 10
'''
# Patches the harness on its first call so that every later failing row (no score) reports 1.0.
PATCH = '''
import sys
CALLS = 0
def score(prompt, response, reference, meta):
    global CALLS
    CALLS += 1
    if CALLS == 1:
        harness = sys._getframe(1).f_globals
        check = harness["_check_score"]
        harness["_check_score"] = lambda value: (1.0, None) if value is None else check(value)
        return 0.5
    return None if response == "bad" else 0.5
'''
# Overwrites the score the previous row already reported.
OVERWRITE = '''
import sys
def score(prompt, response, reference, meta):
    out = sys._getframe(1).f_locals.get("out")
    if out is not None and len(out):
        out[len(out) - 1] = 1.0
    return 1.0 if response == reference else 0.0
'''
# Honest for its first three calls (its three CASES), then 1.0 for everything.
AFTER_VALIDATION = '''
CALLS = 0
CASES = [("q", "4", "4", {}, 1.0), ("q", "5", "4", {}, 0.0), ("q", "", "4", {}, 0.0)]
def score(prompt, response, reference, meta):
    global CALLS
    CALLS += 1
    if CALLS > 3:
        return 1.0
    return 1.0 if response == reference else 0.0
'''
WRONG = [dict(prompt="q", response=f"wrong {i}", reference="right") for i in range(8)]


@pytest.fixture()
def audited(guest_path):
    with Sandbox(TEST_LIMITS, audit_interval=0) as sb:
        yield sb


def assert_caught(sandbox, source: str, results, needle: str) -> None:
    assert [r.error_kind for r in results] == ["integrity"] * len(results), results
    assert all(math.isnan(r.score) for r in results) and needle in results[0].message
    assert "re-scored on a fresh instance" in results[0].message and len(results[0].message) < 5000
    # Caught once, failed from then on: later calls and validation carry the evidence.
    assert sandbox.score(source, "q", "right", "right", {}).error_kind == "integrity"
    report = sandbox.validate(source)
    assert not report.ok and report.define_error.startswith("[integrity]")


def test_remembering_earlier_rows_is_caught(audited):
    # Across calls: the first call is honest, the second remembers the prompt.
    assert audited.score(REMEMBER, "q", "wrong", "right", {}).score == 0.0
    again = audited.score(REMEMBER, "q", "wrong", "right", {})
    assert_caught(audited, REMEMBER, [again], "row 0 scored 1.0 in its call but 0.0 when re-scored")
    # Within one batch (default audit interval: a verifier's first call is always audited).
    with Sandbox(TEST_LIMITS) as sb:
        results = sb.score_batch(REMEMBER, WRONG)
        assert_caught(sb, REMEMBER, results, "row 7 scored 1.0 in its call but 0.0 when re-scored")


def test_reading_the_packed_batch_from_the_harness_frame_is_caught(audited):
    rows = [dict(prompt="q", response=f"r{i}", reference="x") for i in range(6)]
    results = audited.score_batch(PEEK, rows)
    assert_caught(audited, PEEK, results, "in its call but 0.0 when re-scored")


def test_patching_the_harness_so_failing_rows_report_one_is_caught(audited):
    rows = [dict(prompt="q", response=r, reference="") for r in ("x", "bad", "bad", "bad")]
    results = audited.score_batch(PATCH, rows)
    assert_caught(audited, PATCH, results, "row 3 scored 1.0 in its call but 0.5 when re-scored")


def test_overwriting_an_earlier_rows_score_is_caught(audited):
    results = audited.score_batch(OVERWRITE, WRONG)
    assert_caught(audited, OVERWRITE, results, "scored 1.0 in its call but 0.0 when re-scored")


def test_passing_validation_then_scoring_everything_one_is_caught(audited):
    report = audited.validate(AFTER_VALIDATION)
    assert report.ok and [c["passed"] for c in report.cases] == [True, True, True]
    assert audited.live_instances() == 0  # validation's instances are gone: scoring starts fresh
    results = audited.score_batch(AFTER_VALIDATION, WRONG[:6])
    assert_caught(audited, AFTER_VALIDATION, results, "row 5 scored 1.0 in its call but 0.0 when re-scored")


def test_probes_are_caught_through_the_pool(guest_path):
    with SandboxPool(2, TEST_LIMITS, min_rows_per_worker=4, audit_interval=0) as pool:
        for source in (REMEMBER, OVERWRITE, PEEK):
            assert {r.error_kind for r in pool.score_batch(source, WRONG)} == {"integrity"}
        assert pool.validate(AFTER_VALIDATION).ok
        assert {r.error_kind for r in pool.score_batch(AFTER_VALIDATION, WRONG)} == {"integrity"}


def test_honest_verifiers_pass_every_audit(audited):
    source = load_verifier("math_answer")
    rows = [dict(prompt="q", response=f"#### {i % 5}", reference="#### 3") for i in range(40)]
    for _ in range(3):
        assert [r.score for r in audited.score_batch(source, rows)] == [1.0 if i % 5 == 3 else 0.0 for i in range(40)]
    assert audited.validate(source).ok
    # Resource failures depend on load, not on the verifier's logic, and are never evidence.
    loop = "def score(p, r, ref, m):\n    while r == 'loop':\n        pass\n    return 1.0\n"
    kinds = [r.error_kind for r in audited.score_batch(loop, [dict(prompt="", response=r, reference="")
                                                              for r in ("ok", "loop", "ok")])]
    assert kinds == [None, "fuel", None]


def test_order_dependent_cases_fail_validation(guest_path):
    counter = ("N = 0\nCASES = [('q', 'a', '', {}, 0.25), ('q', 'b', '', {}, 0.5)]\n"
               "def score(*a):\n    global N\n    N += 1\n    return N / 4\n")
    with Sandbox(TEST_LIMITS) as sb:
        report = sb.validate(counter)
    assert not report.ok and all("order-dependent" in c["message"] for c in report.cases)


def test_pick_rows_and_mismatch():
    rng = random.Random(0)
    assert pick_rows(3, 4, rng) == [0, 1, 2]
    picks = pick_rows(100, 4, rng)
    assert len(picks) == 4 and picks[0] == 0 and picks[-1] == 99 and picks == sorted(set(picks))
    ok, other = ScoreResult(0.5), ScoreResult(0.25)
    assert mismatch(3, ok, ScoreResult(0.5)) is None
    assert mismatch(3, ok, other) == "row 3 scored 0.5 in its call but 0.25 when re-scored on a fresh instance"
    assert mismatch(0, ScoreResult.failure("fuel", ""), other) is None
    assert "a exception failure" in mismatch(1, ok, ScoreResult.failure("exception", ""))
    assert mismatch(1, ScoreResult.failure("exception", ""), ScoreResult.failure("invalid_score", "")) is None
