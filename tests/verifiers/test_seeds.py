"""Every seed verifier is accepted by the sandbox's validation and documents the meta keys it reads."""

from __future__ import annotations

import ast

import pytest

from rlar_jax.sandbox import load_verifier, seed_verifiers

SEEDS = sorted(seed_verifiers())


def test_the_seed_library_is_complete():
    assert SEEDS == ["code_tests", "exact_match", "format_constraints", "math_answer", "multiple_choice",
                     "translation_bleu", "translation_chrf"]


@pytest.mark.parametrize("vid", SEEDS)
def test_seed_passes_its_cases_in_the_sandbox(sandbox, vid):
    report = sandbox.validate(load_verifier(vid))
    assert report.define_error is None
    failed = [c for c in report.cases if not c["passed"]]
    assert report.ok and not failed, failed
    assert len(report.cases) >= 10


@pytest.mark.parametrize("vid", SEEDS)
def test_seed_docstring_says_what_and_which_meta(vid):
    source = load_verifier(vid)
    doc = ast.get_docstring(ast.parse(source))
    assert doc and len(doc.splitlines()[0]) > 20
    assert "meta keys read" in doc


def test_validation_reports_mismatches_per_case(sandbox):
    source = load_verifier("exact_match").replace("return 1.0 if norm(answer) in golds else 0.0", "return 1.0")
    report = sandbox.validate(source)
    assert not report.ok and report.define_error is None
    failed = [c for c in report.cases if not c["passed"]]
    assert failed and all(c["expected"] == 0.0 and c["got"] == 1.0 for c in failed)
    assert all("expected 0.0, got 1.0" in c["message"] for c in failed)


@pytest.mark.parametrize("bad_cases,needle", [
    ("CASES = []", "non-empty list"),
    ("CASES = [('p', 'r', 'x', {}, 1.5)]", "expected_score must be a number in [0, 1]"),
    ("CASES = [('p', 'r', 'x', [], 1.0)]", "CASES[0]: meta must be a dict"),
    ("CASES = [('p', 'r', 'x', {})]", "CASES[0] must be a 5-tuple"),
    ("CASES = [('p', 'r', 'x', {'f': object()}, 1.0)]", "JSON-compatible"),
    ("", "module-level CASES"),
])
def test_malformed_cases_are_rejected_with_the_reason(sandbox, bad_cases, needle):
    report = sandbox.validate("def score(*a):\n    return 1.0\n" + bad_cases + "\n")
    assert not report.ok and needle in (report.define_error or "")
