"""Sandbox behaviour: scoring, state per verifier, batches, define failures, output, input checks."""

from __future__ import annotations

import math

import pytest

from rlar_jax.sandbox import Limits, Sandbox, ScoreResult, source_sha256

from .conftest import TEST_LIMITS

EQUAL = "def score(prompt, response, reference, meta):\n    return 1.0 if response == reference else 0.0\n"
COUNTER = "N = 0\ndef score(p, r, ref, meta):\n    global N\n    N += 1\n    return min(N / 10, 1.0)\n"


def rows(*pairs, meta=None):
    return [dict(prompt="p", response=r, reference=ref, meta=meta or {}) for r, ref in pairs]


def test_score_and_meta_round_trip(sandbox):
    src = "def score(p, r, ref, meta):\n    return meta['w'] * (r == ref) + meta['nested']['b'][1]\n"
    res = sandbox.score(src, "p", "x", "x", {"w": 0.5, "nested": {"b": [0, 0.25]}})
    assert isinstance(res, ScoreResult) and res.ok and res.score == 0.75 and res.seconds > 0
    assert sandbox.score(src, "p", "x", "y", {"w": 0.5, "nested": {"b": [0, 0.25]}}).score == 0.25


def test_int_scores_are_accepted(sandbox):
    assert sandbox.score("def score(*a):\n    return 1\n", "", "", "", {}).score == 1.0


def test_state_persists_per_verifier_and_instances_are_separate(sandbox):
    assert [sandbox.score(COUNTER, "", "", "", {}).score for _ in range(3)] == [0.1, 0.2, 0.3]
    other = COUNTER + "# a different source, so a different instance\n"
    assert sandbox.score(other, "", "", "", {}).score == 0.1
    assert sandbox.score(COUNTER, "", "", "", {}).score == 0.4


def test_batch_matches_single_calls_and_keeps_order(sandbox):
    data = rows(("a", "a"), ("a", "b"), ("", ""), ("é✓", "é✓"), ("x" * 10_000, "x" * 10_000))
    batch = sandbox.score_batch(EQUAL, data)
    singles = [sandbox.score(EQUAL, **row) for row in data]
    assert [r.score for r in batch] == [s.score for s in singles] == [1.0, 0.0, 1.0, 1.0, 1.0]
    assert sandbox.score_batch(EQUAL, []) == []


def test_batch_spanning_chunks():
    with Sandbox(TEST_LIMITS, batch_size=7) as sb:
        data = rows(*[(str(i % 3), "0") for i in range(30)])
        assert [r.score for r in sb.score_batch(EQUAL, data)] == [1.0 if i % 3 == 0 else 0.0 for i in range(30)]


def test_batch_trap_is_rerun_row_by_row_so_only_culprits_fail(sandbox):
    src = ("def score(p, response, ref, meta):\n    if response == 'loop':\n        while True:\n            pass\n"
           "    if response == 'exit':\n        import os\n        os._exit(1)\n    return 1.0\n")
    data = rows(("ok", ""), ("ok", ""), ("loop", ""), ("ok", ""), ("exit", ""), ("ok", ""))
    results = sandbox.score_batch(src, data)
    assert [r.error_kind for r in results] == [None, None, "fuel", None, "exit", None]
    assert [r.score for r in results if r.ok] == [1.0] * 4


def test_define_failures_are_reported_with_traceback(sandbox):
    res = sandbox.score("x = 1\ny = (\ndef score(*a):\n    return 1.0\n", "", "", "", {})
    assert res.error_kind == "define" and "SyntaxError" in res.message and math.isnan(res.score)
    res = sandbox.score("def helper():\n    return 1 / 0\nVALUE = helper()\n", "", "", "", {})
    assert res.error_kind == "define" and "ZeroDivisionError" in res.message
    assert 'File "<verifier>", line 2, in helper' in res.traceback and "return 1 / 0" in res.traceback
    # A failing define is cached: the batch gets the same failure for every row.
    batch = sandbox.score_batch("import nonexistent_mod\n", rows(("a", "b"), ("c", "d")))
    assert [r.error_kind for r in batch] == ["define", "define"]
    assert all("nonexistent_mod" in r.message for r in batch)


def test_exception_traceback_points_at_verifier_line(sandbox):
    src = "def score(prompt, response, reference, meta):\n    value = int(response)\n    return value / 10\n"
    res = sandbox.score(src, "", "not a number", "", {})
    assert res.error_kind == "exception" and res.message.startswith("ValueError: invalid literal")
    assert 'File "<verifier>", line 2, in score' in res.traceback and "int(response)" in res.traceback


def test_output_is_captured_and_capped(sandbox):
    res = sandbox.score("import sys\ndef score(*a):\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n"
                        "    return 0.5\n", "", "", "", {})
    assert res.ok and res.score == 0.5 and res.output == "to stdout\nto stderr\n"
    flood = sandbox.score("def score(*a):\n    print('é' * 100_000)\n    return 0.5\n", "", "", "", {})
    assert flood.ok and flood.output.startswith("é" * 100) and "truncated" in flood.output
    assert len(flood.output.encode()) <= TEST_LIMITS.output_bytes + 64
    batch = sandbox.score_batch("def score(p, r, ref, m):\n    print(r)\n    return 1.0\n", rows(("one", ""), ("two", "")))
    assert [r.output for r in batch] == ["one\n", "two\n"]


def test_input_errors_name_the_field(sandbox):
    with pytest.raises(TypeError, match="response must be a str"):
        sandbox.score(EQUAL, "p", None, "x", {})
    with pytest.raises(TypeError, match="meta must be a dict"):
        sandbox.score(EQUAL, "p", "r", "x", [1])
    with pytest.raises(ValueError, match="meta must be JSON-serialisable"):
        sandbox.score(EQUAL, "p", "r", "x", {"f": object()})
    with pytest.raises(KeyError, match=r"rows\[1\] has no 'reference'"):
        sandbox.score_batch(EQUAL, [dict(prompt="", response="", reference=""), dict(prompt="", response="")])
    with pytest.raises(TypeError, match=r"rows\[0\]: meta must be a dict, got str"):
        sandbox.score_batch(EQUAL, [dict(prompt="", response="", reference="", meta="")])
    with pytest.raises(TypeError, match=r"rows\[0\] must be a dict"):
        sandbox.score_batch(EQUAL, [("p", "r", "x")])
    with pytest.raises(TypeError, match="rows must be a list"):
        sandbox.score_batch(EQUAL, "not rows")


def test_limits_validation_names_the_field():
    with pytest.raises(ValueError, match="Limits.fuel"):
        Limits(fuel=0)
    with pytest.raises(ValueError, match="Limits.deadline_s"):
        Limits(deadline_s=float("inf"))
    with pytest.raises(ValueError, match="max_stack_bytes"):
        Limits(max_stack_bytes=8 << 20)
    with pytest.raises(ValueError, match="memory_bytes"):
        Limits(memory_bytes=1 << 20)
    with pytest.raises(ValueError, match="unknown error kind"):
        ScoreResult.failure("timeout", "x")
    assert ScoreResult.failure("fuel", "m").to_dict()["score"] is None


def test_memory_and_deadline_limits_apply(guest_path):
    with Sandbox(Limits(fuel=10**12, deadline_s=0.3, memory_bytes=128 << 20)) as sb:
        res = sb.score("def score(*a):\n    while True:\n        pass\n", "", "", "", {})
        assert res.error_kind == "deadline" and 0.25 < res.seconds < 3.0
        res = sb.score("def score(*a):\n    x = bytearray(200 << 20)\n    return 0.0\n", "", "", "", {})
        assert res.error_kind == "memory"
        assert sb.score("def score(*a):\n    x = bytearray(20 << 20)\n    return 1.0\n", "", "", "", {}).score == 1.0


def test_instances_are_bounded_and_close_is_final(guest_path):
    sb = Sandbox(TEST_LIMITS, max_instances=2)
    for i in range(4):
        assert sb.score(f"def score(*a):\n    return {i / 10}\n", "", "", "", {}).score == i / 10
    assert sb.live_instances() == 2
    sb.close()
    sb.close()
    with pytest.raises(RuntimeError, match="closed"):
        sb.score(EQUAL, "", "", "", {})


def test_source_sha256_is_the_identity():
    assert source_sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    with pytest.raises(TypeError):
        source_sha256(b"abc")


def test_total_guest_memory_is_capped_and_errors_name_the_settings(guest_path):
    limits = Limits(fuel=400_000_000, memory_bytes=64 << 20, total_memory_bytes=128 << 20, output_bytes=4096)
    assert limits.max_live_instances == 2
    with Sandbox(limits) as sb:
        for i in range(4):
            assert sb.score(f"def score(*a):\n    return {i / 10}\n", "", "", "", {}).score == i / 10
        # Two instances fit: each first call's audit instance took the second slot from the oldest.
        assert sb.live_instances() == 1
        res = sb.score("def score(*a):\n    x = bytearray(100 << 20)\n    return 0.0\n", "", "", "", {})
        assert res.error_kind == "memory" and "Limits.memory_bytes = 64 MiB" in res.message
        assert "Limits.total_memory_bytes = 128 MiB" in res.message
    with pytest.raises(ValueError, match=r"total_memory_bytes must be an int >= Limits.memory_bytes \(1024 MiB\)"):
        Limits(memory_bytes=1 << 30, total_memory_bytes=512 << 20)
    assert Limits().total_memory_bytes == 2 << 30 and Limits().max_live_instances == 4  # 4 workers: 8 GiB at most
    assert Limits(memory_bytes=3 << 30).total_memory_bytes == 3 << 30


def test_validation_instances_are_never_reused_for_scoring(sandbox):
    src = ("N = [0]\nCASES = [('q', 'a', '', {}, 0.5)]\n"
           "def score(*a):\n    N[0] += 1\n    return 0.5 if N[0] == 1 else 0.0\n")
    before = sandbox.live_instances()
    assert sandbox.validate(src).ok and sandbox.live_instances() <= before  # nothing was cached
    assert sandbox.score(src, "q", "a", "", {}).score == 0.5  # the scoring instance's first call
