"""Unit-test pass rate of a Python program in the response (MBPP / HumanEval style), in [0, 1].

The candidate program is the first ```python (or plain ```) fenced block of the response that
defines a function or class (else the first block, else the whole response). It runs, after the
optional setup code, in a fresh namespace; then each test runs separately with exceptions caught,
so one failing or crashing test does not stop the others. Each piece of code gets a step budget
(Python line events, counted by a trace function): a candidate that loops forever fails the test
that triggered the loop and the remaining tests still run. Loops that never return to Python
bytecode (a huge C-level computation, a catastrophic regex) are stopped by the sandbox's fuel limit
instead, which fails the whole call. Builtins, the recursion limit and newly imported modules are
restored after every piece of code, so a candidate cannot change how its tests or later candidates
are judged through them.

meta keys read:
  tests        list of assert statements (MBPP `test_list`), or one test program (str)
  setup        code run before the candidate (MBPP `test_setup_code`), optional
  prefix       code prepended to the candidate (e.g. a HumanEval prompt), optional
  entry_point  with a test program: call `check(<entry_point>)` after running it (HumanEval)
  mode         "fraction" (default): share of tests passed; "all": 1.0 only if all pass
  max_steps    step budget per piece of code (default 100,000; at most 10,000,000)
  total_steps  step budget for the whole call (default 5 x max_steps); tests left when it runs out fail.
               The defaults keep a call within the sandbox's default fuel (a traced step costs
               about 3,300 fuel), so a candidate that loops in every test still gets a score.
"""

import builtins
import re
import sys

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("code",)
DEFAULT_FOR = ("code",)
EVAL_FOR = ("code",)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_DEFAULT_STEPS = 100_000
_MAX_STEPS = 10_000_000


# Candidates share this interpreter with later calls: undo what they may have changed globally.
_BUILTINS = dict(vars(builtins))
_RECURSION_LIMIT = sys.getrecursionlimit()
_MODULES = set(sys.modules)


def _restore():
    sys.settrace(None)
    current = vars(builtins)
    for name in [n for n in current if n not in _BUILTINS]:
        del current[name]
    current.update(_BUILTINS)
    sys.setrecursionlimit(_RECURSION_LIMIT)
    for name in [n for n in sys.modules if n not in _MODULES]:
        del sys.modules[name]


class StepBudgetExceeded(BaseException):
    """Raised inside candidate code once it has used up its step budget."""


def extract_program(response):
    """The program text of a response: a fenced python block if any, else the whole response."""
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(response)]
    if not blocks:
        return response
    python = [body for lang, body in blocks if lang in ("python", "py", "python3", "")]
    pool = python or [body for _, body in blocks]
    for body in pool:
        if re.search(r"^\s*(def|class|async\s+def)\s", body, re.MULTILINE):
            return body
    return pool[0]


def _run(code, namespace, filename, steps):
    """Exec `code` under a step budget; returns (None or a short failure text, steps used)."""
    try:
        compiled = compile(code, filename, "exec", dont_inherit=True)
    except BaseException as exc:
        return "%s: %s" % (type(exc).__name__, exc), 0
    left = [steps]

    def tracer(frame, event, arg):
        left[0] -= 1
        if left[0] < 0:
            raise StepBudgetExceeded("step budget of %d exceeded" % steps)
        return tracer

    failure = None
    sys.settrace(tracer)
    try:
        exec(compiled, namespace)
    except BaseException as exc:  # the candidate's failure, whatever it is, is a failed test
        failure = exc
    finally:
        _restore()  # before any of our own code runs again
    used = steps - max(left[0], 0)
    if failure is None:
        return None, used
    try:
        return "%s: %s" % (type(failure).__name__, failure), used
    except BaseException:
        return "an exception whose message could not be formatted", used


def run_tests(program, tests, setup="", entry_point=None, steps=_DEFAULT_STEPS, total_steps=None):
    """(passed, total, failure messages) for `program` against `tests`."""
    namespace = {"__name__": "__candidate__", "__builtins__": builtins}
    remaining = 5 * steps if total_steps is None else total_steps
    failures = []
    if setup:
        problem, used = _run(setup, namespace, "<setup>", steps)
        if problem:
            raise ValueError("meta['setup'] failed: " + problem)
    problem, used = _run(program, namespace, "<candidate>", min(steps, remaining))
    remaining -= used
    if problem:
        failures.append("candidate: " + problem)
    if isinstance(tests, str):
        code = tests + ("\ncheck(%s)\n" % entry_point if entry_point else "\n")
        tests = [code]
    passed = 0
    for i, test in enumerate(tests):
        if problem:  # the program itself did not run: every test fails
            break
        if remaining <= 0:
            failures.append("test %d: the call's step budget is used up" % i)
            continue
        failure, used = _run(test, namespace, "<test %d>" % i, min(steps, remaining))
        remaining -= used
        if failure is None:
            passed += 1
        else:
            failures.append("test %d: %s" % (i, failure))
    return passed, len(tests), failures


def score(prompt, response, reference, meta):
    tests = meta.get("tests")
    if isinstance(tests, list):
        if not tests or not all(isinstance(t, str) for t in tests):
            raise ValueError("meta['tests'] must be a non-empty list of test strings or one test program")
    elif not isinstance(tests, str) or not tests.strip():
        raise ValueError("meta['tests'] must be a non-empty list of test strings or one test program")
    mode = meta.get("mode", "fraction")
    if mode not in ("fraction", "all"):
        raise ValueError("meta['mode'] must be 'fraction' or 'all', got %r" % (mode,))
    steps = meta.get("max_steps", _DEFAULT_STEPS)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 < steps <= _MAX_STEPS:
        raise ValueError("meta['max_steps'] must be an int in [1, %d]" % _MAX_STEPS)
    total_steps = meta.get("total_steps", 5 * steps)
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or not 0 < total_steps <= 10 * _MAX_STEPS:
        raise ValueError("meta['total_steps'] must be an int in [1, %d]" % (10 * _MAX_STEPS))
    entry_point = meta.get("entry_point")
    if entry_point is not None and not (isinstance(entry_point, str) and entry_point.isidentifier()):
        raise ValueError("meta['entry_point'] must be a function name")
    program = meta.get("prefix", "") + extract_program(response)
    passed, total, failures = run_tests(program, tests, meta.get("setup", ""), entry_point, steps, total_steps)
    if mode == "all":
        return 1.0 if passed == total else 0.0
    return passed / total


_ADD = "def add(a, b):\n    return a + b\n"
_TESTS = {"tests": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0", "assert add(2, 2) == 4"]}

CASES = [
    ("Write add(a, b).", "```python\n" + _ADD + "```", "", _TESTS, 1.0),
    ("Write add(a, b).", _ADD, "", _TESTS, 1.0),
    # a wrong answer that passes one test of three
    ("Write add(a, b).", "```python\ndef add(a, b):\n    return a * b if a > 0 else a + b\n```", "", _TESTS, 2 / 3),
    ("Write add(a, b).", "```python\ndef add(a, b):\n    return a * b if a > 0 else a + b\n```", "",
     dict(_TESTS, mode="all"), 0.0),
    # explanation and example blocks around the solution: the defining block is used
    ("", "Here you go:\n```\nadd(1, 2)\n```\nand the code:\n```python\n" + _ADD + "```\nDone.", "", _TESTS, 1.0),
    # syntax errors and missing functions score 0, not an error
    ("", "```python\ndef add(a, b)\n    return a + b\n```", "", _TESTS, 0.0),
    ("", "```python\ndef plus(a, b):\n    return a + b\n```", "", _TESTS, 0.0),
    # a candidate that tampers with builtins: undone before its tests and before the next call
    ("", "```python\nimport builtins\nbuiltins.len = lambda x: 0\ndef add(a, b):\n    return len([a, b])\n```", "",
     {"tests": ["assert add(1, 2) == 0", "assert add(1, 2) == 2"]}, 0.5),
    ("", "```python\ndef add(a, b):\n    return len([a, b])\n```", "", {"tests": ["assert add(1, 2) == 2"]}, 1.0),
    # a test that loops forever only fails itself
    ("", "```python\ndef add(a, b):\n    while a == 2:\n        pass\n    return a + b\n```", "",
     dict(_TESTS, max_steps=20000), 2 / 3),
    # exceptions, sys.exit and prints inside the candidate are contained
    ("", "```python\nimport sys\ndef add(a, b):\n    if a < 0:\n        sys.exit(1)\n    print('adding', a, b)\n"
     "    return a + b\n```", "", _TESTS, 2 / 3),
    # MBPP-style setup code and a HumanEval-style test program with an entry point
    ("", "```python\ndef area(r):\n    return PI * r * r\n```", "",
     {"setup": "PI = 3", "tests": ["assert area(2) == 12", "assert area(0) == 0"]}, 1.0),
    ("", "    return sorted(xs)[0]\n", "",
     {"prefix": "def smallest(xs):\n", "tests": "def check(f):\n    assert f([3, 1, 2]) == 1\n    assert f([5]) == 5\n",
      "entry_point": "smallest"}, 1.0),
    ("", "    return xs[0]\n", "",
     {"prefix": "def smallest(xs):\n", "tests": "def check(f):\n    assert f([3, 1, 2]) == 1\n", "entry_point": "smallest"}, 0.0),
]
