"""Acceptance check for a verifier: it must define, run and reproduce every one of its CASES."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

from rlar_jax.sandbox.instance import DefineError, GuestTrap
from rlar_jax.sandbox.library import source_sha256
from rlar_jax.sandbox.limits import ValidationReport

if TYPE_CHECKING:
    from rlar_jax.sandbox.runtime import Sandbox

TOLERANCE = 1e-6
_EXCERPT = 120


def _excerpt(text: str) -> str:
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def parse_cases(cases_json: str) -> tuple[list[tuple], str | None]:
    """(rows, None) for well-formed CASES, else ([], message naming the bad case and field)."""
    try:
        cases = json.loads(cases_json)
    except ValueError as exc:
        return [], f"CASES could not be read back from the guest: {exc}"
    if not isinstance(cases, list) or not cases:
        return [], "CASES must be a non-empty list of (prompt, response, reference, meta, expected_score)"
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
            return [], f"CASES[{i}]: expected_score must be a number in [0, 1], got {expected!r}"
        rows.append((prompt, response, reference, meta, float(expected)))
    return rows, None


def validate_source(sandbox: "Sandbox", source: str) -> ValidationReport:
    """Define `source` in `sandbox`, read its CASES and score each one; tolerance 1e-6 absolute."""
    sha = source_sha256(source)
    try:
        inst = sandbox._instance(source, sha)
        ok, payload = inst.cases()
    except DefineError as exc:
        r = exc.result
        detail = r.message + (f"\n{r.traceback}" if r.traceback else "")
        return ValidationReport(False, sha, f"[{r.error_kind}] {detail}")
    except GuestTrap as exc:
        sandbox._drop(sha)
        return ValidationReport(False, sha, f"[{exc.result.error_kind}] reading CASES: {exc.result.message}")
    if not ok:
        report = json.loads(payload)
        return ValidationReport(False, sha, str(report.get("message", "CASES unavailable")))
    rows, problem = parse_cases(payload)
    if problem is not None:
        return ValidationReport(False, sha, problem)
    results = sandbox.score_batch(source, [dict(prompt=p, response=r, reference=ref, meta=m) for p, r, ref, m, _ in rows])
    cases = []
    for i, ((prompt, response, _ref, _meta, expected), res) in enumerate(zip(rows, results)):
        got = None if math.isnan(res.score) else res.score
        passed = res.ok and abs(res.score - expected) <= TOLERANCE
        message = res.message
        if res.ok and not passed:
            message = f"expected {expected}, got {res.score}"
        cases.append({"index": i, "prompt": _excerpt(prompt), "response": _excerpt(response), "expected": expected,
                      "got": got, "error_kind": res.error_kind, "message": message,
                      "traceback": res.traceback, "passed": passed})
    return ValidationReport(all(c["passed"] for c in cases), sha, None, cases)
