"""SandboxPool: same results as in-process, rows spread over spawned workers, hung workers replaced."""

from __future__ import annotations

import os
import signal
import time

import pytest

from rlar_jax.sandbox import Limits, SandboxPool, load_verifier

from .conftest import TEST_LIMITS

EQUAL = "def score(prompt, response, reference, meta):\n    return 1.0 if response == reference else 0.0\n"


@pytest.fixture(scope="module")
def pool(guest_path):
    with SandboxPool(2, TEST_LIMITS, min_rows_per_worker=4) as p:
        yield p


def test_pool_matches_in_process_results(pool, sandbox):
    data = [dict(prompt="", response=f"#### {i}", reference=f"#### {i % 4}") for i in range(40)]
    source = load_verifier("math_answer")
    ours = pool.score_batch(source, data)
    theirs = sandbox.score_batch(source, data)
    assert [r.score for r in ours] == [r.score for r in theirs] == [1.0 if i % 4 == i else 0.0 for i in range(40)]


def test_rows_are_spread_over_both_workers(pool):
    data = [dict(prompt="", response="", reference="")] * 16
    # Each worker scores its half on its own instance and audits it: a counter's last row scored 0.08
    # there (8 rows) but 0.01 on a fresh instance, so both halves fail as history-dependent.
    counter = "N = 0\ndef score(*a):\n    global N\n    N += 1\n    return N / 100\n"
    results = pool.score_batch(counter, data)
    assert [r.error_kind for r in results] == ["integrity"] * 16
    for half in (results[0], results[8]):
        assert "row 7 scored 0.08 in its call but 0.01 when re-scored" in half.message


def test_culprit_rows_fail_alone_and_validate_works(pool):
    src = "def score(p, r, ref, m):\n    while r == 'loop':\n        pass\n    return 1.0\n"
    data = [dict(prompt="", response="loop" if i == 5 else "ok", reference="") for i in range(12)]
    kinds = [r.error_kind for r in pool.score_batch(src, data)]
    assert kinds == [None] * 5 + ["fuel"] + [None] * 6
    assert pool.validate(load_verifier("exact_match")).ok
    assert pool.score(EQUAL, "", "a", "a").score == 1.0


def test_caller_errors_are_forwarded(pool):
    with pytest.raises(TypeError, match=r"rows\[0\]: prompt must be a str"):
        pool.score_batch(EQUAL, [dict(prompt=1, response="", reference="")])
    assert pool.score(EQUAL, "", "b", "b").score == 1.0  # the pool is still in sync


def test_worker_that_stops_answering_is_killed_and_replaced(guest_path):
    # Nothing a verifier can do blocks the host any more (wasm is interrupted by the epoch deadline,
    # clock waits are refused), so stop the worker process itself to exercise the watchdog.
    with SandboxPool(1, Limits(deadline_s=0.2), watchdog_grace_s=1.0) as pool:
        assert pool.score(EQUAL, "", "x", "x").score == 1.0
        stuck = pool._workers[0].proc
        os.kill(stuck.pid, signal.SIGSTOP)
        data = [dict(prompt="", response=r, reference="ok") for r in ("ok", "no", "ok")]
        start = time.perf_counter()
        results = pool.score_batch(EQUAL, data)
        elapsed = time.perf_counter() - start
        assert [r.score for r in results] == [1.0, 0.0, 1.0]  # rescored by the replacement worker
        assert pool._workers[0].proc is not stuck and not stuck.is_alive()
        assert pool._timeout(3) <= elapsed < 60


def test_closed_pool_refuses_work(guest_path):
    pool = SandboxPool(1, TEST_LIMITS)
    assert pool.score(EQUAL, "", "x", "x").score == 1.0
    pool.close()
    pool.close()
    with pytest.raises(RuntimeError, match="closed"):
        pool.score(EQUAL, "", "x", "x")
    with pytest.raises(ValueError, match="processes"):
        SandboxPool(0)
