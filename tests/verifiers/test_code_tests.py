"""code_tests on MBPP: reference solutions pass, mutated ones do not; runaway candidates are contained."""

from __future__ import annotations

import ast

import pytest

from rlar_jax.sandbox import load_verifier

from .conftest import DATA, read_jsonl


class _ReturnNone(ast.NodeTransformer):
    """A plausible wrong program: every `return <expr>` returns None instead."""

    def visit_Return(self, node: ast.Return) -> ast.Return:
        return ast.copy_location(ast.Return(value=ast.Constant(None)), node)


def _mutate(code: str) -> str:
    tree = _ReturnNone().visit(ast.parse(code.replace("\r\n", "\n").replace("\t", "    ")))
    return ast.unparse(ast.fix_missing_locations(tree))


@pytest.fixture(scope="module")
def mbpp():
    rows = [r for r in read_jsonl(DATA / "mbpp" / "mbpp.jsonl.gz") if 11 <= r["task_id"] <= 510]
    # every 50th test-split task with a return statement to mutate
    picked = [r for r in rows[::50] if "return" in r["code"]]
    assert len(picked) >= 9
    return picked


def _row(task: dict, program: str, fenced: bool = True) -> dict:
    response = f"Here is my solution:\n```python\n{program}\n```\n" if fenced else program
    return dict(prompt=task["text"], response=response, reference="",
                meta={"tests": task["test_list"], "setup": task["test_setup_code"]})


def test_reference_solutions_pass_and_mutants_fail(sandbox, mbpp):
    source = load_verifier("code_tests")
    good = sandbox.score_batch(source, [_row(t, t["code"], fenced=i % 2 == 0) for i, t in enumerate(mbpp)])
    assert [(r.error_kind, r.score) for r in good] == [(None, 1.0)] * len(mbpp)
    bad = sandbox.score_batch(source, [_row(t, _mutate(t["code"])) for t in mbpp])
    assert all(r.error_kind is None and r.score < 1.0 for r in bad), [(r.score, r.message) for r in bad]
    all_mode = sandbox.score_batch(source, [dict(_row(t, _mutate(t["code"])), meta={"tests": t["test_list"], "mode": "all"})
                                            for t in mbpp])
    assert [r.score for r in all_mode] == [0.0] * len(mbpp)


def test_looping_test_fails_alone_and_c_level_loop_hits_fuel(sandbox):
    source = load_verifier("code_tests")
    loops_on_two = "def double(x):\n    while x == 2:\n        x = x\n    return 2 * x\n"
    tests = ["assert double(1) == 2", "assert double(2) == 4", "assert double(3) == 6"]
    res = sandbox.score(source, "", loops_on_two, "", {"tests": tests})
    assert res.error_kind is None and abs(res.score - 2 / 3) < 1e-12
    # looping in every test: the call's total step budget runs out, the call still returns a score
    forever = "def double(x):\n    while True:\n        pass\n"
    res = sandbox.score(source, "", forever, "", {"tests": tests * 4})
    assert res.error_kind is None and res.score == 0.0
    c_loop = "import re\ndef double(x):\n    re.match(r'(a+)+$', 'a' * 40 + 'b')\n    return 2 * x\n"
    assert sandbox.score(source, "", c_loop, "", {"tests": tests}).error_kind == "fuel"
    # the verifier instance was replaced and works again
    assert sandbox.score(source, "", "def double(x):\n    return 2 * x\n", "", {"tests": tests}).score == 1.0


def test_humaneval_style_program_and_bad_meta(sandbox):
    source = load_verifier("code_tests")
    prompt = 'def incr_list(l: list):\n    """Return list with elements incremented by 1."""\n'
    check = "def check(candidate):\n    assert candidate([1, 2, 3]) == [2, 3, 4]\n    assert candidate([]) == []\n"
    meta = {"prefix": prompt, "tests": check, "entry_point": "incr_list"}
    assert sandbox.score(source, prompt, "    return [x + 1 for x in l]\n", "", meta).score == 1.0
    assert sandbox.score(source, prompt, "    return [x + 2 for x in l]\n", "", meta).score == 0.0
    res = sandbox.score(source, "", "def f(): pass", "", {"tests": []})
    assert res.error_kind == "exception" and "meta['tests']" in res.message
    res = sandbox.score(source, "", "def f(): pass", "", {"tests": ["assert True"], "mode": "most"})
    assert res.error_kind == "exception" and "meta['mode']" in res.message
