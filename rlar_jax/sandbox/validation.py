"""Acceptance check for a verifier: it must define, run and reproduce every one of its CASES, in any order.

Validation never shares an instance with scoring: CASES run on fresh instances that are closed
afterwards, so a verifier cannot learn from validation what to do once it is scoring.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rlar_jax.sandbox.instance import DefineError, GuestTrap
from rlar_jax.sandbox.sources import source_sha256
from rlar_jax.sandbox.limits import ValidationReport

if TYPE_CHECKING:
    from rlar_jax.sandbox.runtime import Sandbox

TOLERANCE = 1e-6
MAX_CASES = 256
_EXCERPT = 120


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def parse_cases(cases) -> tuple[list[tuple], str | None]:
    """(rows, None) for well-formed decoded CASES, else ([], message naming the bad case and field)."""
    if not isinstance(cases, list) or not cases:
        return [], "CASES must be a non-empty list of (prompt, response, reference, meta, expected_score)"
    if len(cases) > MAX_CASES:
        return [], f"CASES has {len(cases)} entries; at most {MAX_CASES} are run"
    rows = []
    for i, case in enumerate(cases):
        if not isinstance(case, list) or len(case) != 5:
            return [], f"CASES[{i}] must be a 5-tuple (prompt, response, reference, meta, expected_score)"
        prompt, response, reference, meta, expected = case
        for name, value in (("prompt", prompt), ("response", response), ("reference", reference)):
            if not isinstance(value, str):
                return [], f"CASES[{i}]: {name} must be a str, got {type(value).__name__}"
        if not isinstance(meta, dict):
            return [], f"CASES[{i}]: meta must be a dict, got {type(meta).__name__}"
        if isinstance(expected, bool) or not isinstance(expected, (int, float)) or not 0 <= expected <= 1:
            return [], f"CASES[{i}]: expected_score must be a number in [0, 1], got {str(expected)[:40]}"
        rows.append((prompt, response, reference, meta, float(expected)))
    return rows, None


def _failure(sha: str, result) -> ValidationReport:
    detail = result.message + (f"\n{result.traceback}" if result.traceback else "")
    return ValidationReport(False, sha, f"[{result.error_kind}] {detail}")


def validate_source(sandbox: "Sandbox", source: str) -> ValidationReport:
    """Read the CASES of `source` on a fresh instance, score them in order through the batch export on
    another one (tolerance 1e-6 absolute), then in reverse order through single calls on a third: a
    verifier whose scores change with order, history or call path fails. No instance is kept."""
    sha = source_sha256(source)
    try:
        with sandbox.fresh_instance(source, sha) as inst:
            cases_json, failure = inst.cases()
    except DefineError as exc:
        return _failure(sha, exc.result)
    except GuestTrap as exc:
        return ValidationReport(False, sha, f"[{exc.result.error_kind}] reading CASES: {exc.result.message}")
    if failure is not None:
        return ValidationReport(False, sha, f"[{failure.error_kind}] {failure.message}")
    rows, problem = parse_cases(cases_json)
    if problem is not None:
        return ValidationReport(False, sha, problem)
    inputs = [dict(prompt=p, response=r, reference=ref, meta=m) for p, r, ref, m, _ in rows]
    results = sandbox.score_fresh(source, inputs, batch=True)
    again = sandbox.score_fresh(source, inputs[::-1], batch=False)[::-1]
    cases = []
    for i, ((prompt, response, _ref, _meta, expected), res, res2) in enumerate(zip(rows, results, again)):
        got = None if math.isnan(res.score) else res.score
        passed = res.ok and abs(res.score - expected) <= TOLERANCE
        message = res.message
        if res.ok and not passed:
            message = f"expected {expected}, got {res.score}"
        elif passed and not (res2.ok and res2.score == res.score):
            passed = False
            message = (f"order-dependent: scored {res.score} in order but "
                       f"{res2.score if res2.ok else res2.error_kind} when the CASES ran in reverse order, "
                       "one call at a time, on a fresh instance")
        cases.append({"index": i, "prompt": _excerpt(prompt), "response": _excerpt(response), "expected": expected,
                      "got": got, "error_kind": res.error_kind, "message": message,
                      "traceback": res.traceback, "passed": passed})
    return ValidationReport(all(c["passed"] for c in cases), sha, None, cases)
