"""Hostile verifiers are contained: the expected error kind, bounded wall time, a healthy host after."""

from __future__ import annotations

import json
import math
import os
import resource
import time
from pathlib import Path

import pytest

from rlar_jax.sandbox import SandboxPool

from .conftest import TEST_LIMITS

NORMAL = '''
def score(prompt, response, reference, meta):
    return 1.0 if len(response.strip()) == len(reference.strip()) and response.strip() == reference.strip() else 0.0
'''

# (id, source, expected error kind or None for a contained success, substring of message/output)
HOSTILE = [
    ("infinite_loop", "def score(*a):\n    while True:\n        pass\n", "fuel", "fuel"),
    ("catastrophic_regex", "import re\ndef score(*a):\n    return float(bool(re.match(r'(a+)+$', 'a' * 64 + 'b')))\n",
     "fuel", "fuel"),
    ("alloc_2gb", "def score(*a):\n    x = bytearray(2_000_000_000)\n    return 0.0\n", "memory", "MemoryError"),
    ("alloc_growing", "def score(*a):\n    x = []\n    while True:\n        x.append(' ' * 10_000_000)\n", "memory",
     "MemoryError"),
    ("python_recursion", "def f(n):\n    return f(n + 1)\ndef score(*a):\n    return f(0)\n", "stack", "RecursionError"),
    ("c_recursion_map", "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return list(map(f, [n + 1]))\n"
     "def score(*a):\n    return f(0)\n", "stack", "stack"),
    ("c_recursion_repr", "import sys\nsys.setrecursionlimit(10 ** 6)\nclass A:\n    def __repr__(self):\n"
     "        return repr(A())\ndef score(*a):\n    return float(len(repr(A())))\n", "stack", "stack"),
    ("c_recursion_json", "import json\ndef score(*a):\n    return float(len(json.loads('[' * 200_000 + ']' * 200_000)))\n",
     "stack", "stack"),
    ("read_etc_passwd", "def score(*a):\n    return float(len(open('/etc/passwd').read()))\n", "exception",
     "FileNotFoundError"),
    ("dotdot_escape", "def score(*a):\n    return float(len(open('../../../../etc/passwd').read()))\n", "exception",
     "FileNotFoundError"),
    ("list_root", "import os\ndef score(*a):\n    return float(len(os.listdir('/')))\n", "exception", "FileNotFoundError"),
    ("write_file", "def score(*a):\n    open('/tmp/rlar_sandbox_pwned', 'w').write('x')\n    return 0.0\n", "exception",
     "FileNotFoundError"),
    ("socket_connect", "import socket\ndef score(*a):\n    s = socket.socket()\n    s.connect(('127.0.0.1', 22))\n    return 0.0\n",
     "exception", "PermissionError"),
    ("subprocess", "import subprocess\ndef score(*a):\n    subprocess.run(['ls'])\n    return 0.0\n", "define",
     "subprocess"),
    ("os_system", "import os\ndef score(*a):\n    os.system('touch /tmp/rlar_sandbox_pwned')\n    return 0.0\n", "exception",
     "system"),
    ("environment", "import os\ndef score(*a):\n    print(sorted(os.environ))\n    return 0.5\n", None, "[]"),
    ("sys_exit", "import sys\ndef score(*a):\n    sys.exit(3)\n", "exit", "SystemExit"),
    ("os_exit", "import os\ndef score(*a):\n    os._exit(3)\n", "exit", "exited"),
    ("output_flood", "def score(*a):\n    for _ in range(20_000):\n        print('x' * 500)\n    return 0.5\n", None,
     "output truncated"),
    ("output_flood_forever", "def score(*a):\n    while True:\n        print('x' * 100)\n", "fuel", "fuel"),
    ("sleep", "import time\ndef score(*a):\n    time.sleep(1000)\n    return 0.0\n", "exception", "not available"),
    # re-importing the C modules brings the real functions back; the host refuses the clock wait itself
    ("sleep_reimported", "import sys\ndel sys.modules['time']\nimport time\ndef score(*a):\n    time.sleep(1000)\n"
     "    return 0.0\n", "exception", "not available"),
    ("select_timeout", "import sys\ndel sys.modules['select']\nimport select\ndef score(*a):\n"
     "    select.select([], [], [], 1000)\n    return 0.0\n", "exception", "not available"),
    ("returns_nan", "def score(*a):\n    return float('nan')\n", "invalid_score", "nan"),
    ("returns_inf", "def score(*a):\n    return float('inf')\n", "invalid_score", "inf"),
    ("returns_string", "def score(*a):\n    return '1.0'\n", "invalid_score", "str"),
    ("returns_bool", "def score(*a):\n    return True\n", "invalid_score", "bool"),
    ("returns_none", "def score(*a):\n    pass\n", "invalid_score", "None"),
    ("out_of_range", "def score(*a):\n    return 1.5\n", "invalid_score", "1.5"),
    ("negative", "def score(*a):\n    return -0.25\n", "invalid_score", "-0.25"),
    ("huge_string", "def score(*a):\n    return 'x' * 100_000_000\n", "invalid_score", "100000000 chars"),
    ("huge_int", "def score(*a):\n    return 10 ** 100_000\n", "invalid_score", "bits"),
    ("huge_exception_message", "def score(*a):\n    raise ValueError('y' * 10_000_000)\n", "exception", "ValueError"),
    ("syntax_error", "def score(*a)\n    return 1.0\n", "define", "SyntaxError"),
    ("missing_module", "import numpy\ndef score(*a):\n    return 1.0\n", "define", "ModuleNotFoundError"),
    ("no_score_function", "def scores(*a):\n    return 1.0\n", "define", "score(prompt"),
    ("loop_at_import", "while True:\n    pass\ndef score(*a):\n    return 1.0\n", "fuel", "defining"),
    ("raises_at_import", "raise RuntimeError('nope')\n", "define", "RuntimeError"),
]


def _reset_peak_rss() -> int:
    """Reset this process's peak RSS to its current RSS (Linux `clear_refs` 5) and return that, in KiB.
    Where the reset is not allowed, the current peak stands in (a looser check)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _peak_rss()


def _peak_rss() -> int:
    """This process's peak RSS in KiB (VmHWM), else ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


@pytest.mark.parametrize("name,source,kind,needle", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_verifier_is_contained(sandbox, name, source, kind, needle):
    # Peak host memory during this call only: the process's lifetime peak reflects earlier tests.
    rss_before = _reset_peak_rss()
    start = time.perf_counter()
    result = sandbox.score(source, "prompt", "response", "reference", {})
    elapsed = time.perf_counter() - start
    assert result.error_kind == kind, result
    if kind is None:
        assert 0.0 <= result.score <= 1.0
        assert needle in result.output
    else:
        assert math.isnan(result.score)
        assert needle in result.message + result.traceback, result
    assert len(result.message) <= 2100 and len(result.output.encode()) <= 4096 + 64
    assert elapsed < 15.0, f"{name} took {elapsed:.1f} s"
    # The host is healthy: nothing was written outside, memory is bounded, a normal verifier works.
    assert not Path("/tmp/rlar_sandbox_pwned").exists()
    grew = _peak_rss() - rss_before
    assert grew < 2**20, f"{name}: the host's peak RSS grew by {grew >> 10} MiB"  # KiB: under 1 GiB
    ok = sandbox.score(NORMAL, "p", "42", "42", {})
    assert ok.error_kind is None and ok.score == 1.0


def test_environment_of_host_is_invisible(sandbox, monkeypatch):
    monkeypatch.setenv("RLAR_SECRET_TOKEN", "hunter2")
    res = sandbox.score("import os\ndef score(*a):\n    print(os.environ.get('RLAR_SECRET_TOKEN'))\n    return 0.0\n",
                        "", "", "", {})
    assert res.error_kind is None and res.output.strip() == "None"
    assert os.environ["RLAR_SECRET_TOKEN"] == "hunter2"


def test_tampering_with_builtins_and_runtime_does_not_reach_other_verifiers(sandbox):
    tamper = '''
import builtins, json, sys
builtins.len = lambda x: 0
builtins.isinstance = lambda *a: False
json.loads = lambda s, **k: {"hacked": True}
json.dumps = lambda o, **k: "garbage"
sys.modules["re"] = None
SECRET = "tamper-secret"
def score(prompt, response, reference, meta):
    print("still reporting")
    return 0.25
'''
    # The guest reports through references it took before any verifier ran, so the tamperer's own
    # result still comes back; its broken json module only fails its own meta decoding.
    first = sandbox.score(tamper, "", "", "", {})
    assert first.error_kind is None and first.score == 0.25 and first.output == "still reporting\n"
    broken = sandbox.score(tamper, "", "", "", {"k": 1})
    assert broken.error_kind == "exception" and "meta could not be decoded" in broken.message
    snoop = '''
import builtins, gc, json, re
def score(prompt, response, reference, meta):
    found = any(isinstance(o, dict) and o.get("SECRET") == "tamper-secret" for o in gc.get_objects())
    print(len("abc"), json.loads('{"a": 1}'), re.sub("a", "b", "a"), found)
    return 1.0 if meta == {"k": 1} else 0.0
'''
    res = sandbox.score(snoop, "", "", "", {"k": 1})
    assert res.error_kind is None and res.score == 1.0
    assert res.output.strip() == "3 {'a': 1} b False"
    assert sandbox.score(NORMAL, "p", "abc", "abc", {}).score == 1.0


def test_trapped_instance_is_discarded_and_verifier_recovers(sandbox):
    src = "def score(p, response, ref, meta):\n    while response == 'loop':\n        pass\n    return 1.0\n"
    assert sandbox.score(src, "", "ok", "", {}).score == 1.0
    assert sandbox.score(src, "", "loop", "", {}).error_kind == "fuel"
    assert sandbox.score(src, "", "ok", "", {}).score == 1.0


# -- report-shape attacks: the verifier rewrites the guest's reporting so the host gets bad reports ------
# The harness's globals are reached through the caller's frame (its module is out of sys.modules); every
# report the guest then sends (failed rows, batch reports, define failures, CASES) is PAYLOAD.
TAMPER = '''
import sys
PAYLOAD = ({payload})
sys._getframe(1).f_globals["_dumps"] = lambda *a, **k: PAYLOAD
{at_define}
CASES = [("q", "ok", "", {{}}, 1.0), ("q", "fail", "", {{}}, 0.0)]
def score(prompt, response, reference, meta):
    if response == "fail":
        raise ValueError("this row's report is PAYLOAD")
    return 1.0
'''
ATTACKS = {
    "int": "'7'",
    "list": "'[0]'",
    "short_tuple": "'[1, 2]'",
    "deep_nesting": "'[' * 200_000 + ']' * 200_000",
    "huge_message": """'{"score": null, "kind": "exception", "message": "' + 'x' * 60_000_000 + '", "traceback": "", '
               '"output": "", "seconds": 0.0}'""",
}
ROWS = [dict(prompt="q", response=r, reference="") for r in ("ok", "fail", "ok")]


def tamper(name: str, at_define: bool = False) -> str:
    return TAMPER.format(payload=ATTACKS[name], at_define="raise RuntimeError('no')" if at_define else "")


def bounded(results) -> bool:
    return all(len(r.message) + len(r.traceback) + len(r.output) < 30_000 for r in results)


@pytest.fixture(scope="module")
def pool(guest_path):
    with SandboxPool(2, TEST_LIMITS, min_rows_per_worker=1) as p:
        yield p


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_report_attacks_give_per_row_protocol_errors(sandbox, pool, attack):
    src = tamper(attack)
    for backend in (sandbox, pool):
        single = [backend.score(src, **row) for row in ROWS]
        batch = backend.score_batch(src, ROWS)
        for results in (single, batch):
            assert [r.error_kind for r in results] == [None, "protocol", None], results
            assert results[0].score == results[2].score == 1.0 and math.isnan(results[1].score)
            assert "malformed report" in results[1].message and bounded(results)
    assert sandbox.score(NORMAL, "p", "42", "42", {}).score == 1.0


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_report_attacks_at_define_fail_every_row(sandbox, pool, attack):
    src = tamper(attack, at_define=True)
    for backend in (sandbox, pool):
        results = [backend.score(src, **ROWS[0])] + backend.score_batch(src, ROWS)
        assert [r.error_kind for r in results] == ["protocol"] * 4 and bounded(results)
        report = backend.validate(src)
        assert not report.ok and report.define_error.startswith("[protocol] malformed report")


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_report_attacks_on_cases_fail_validation_cleanly(sandbox, pool, attack):
    for backend in (sandbox, pool):
        report = backend.validate(tamper(attack))
        assert not report.ok and report.cases == [] and len(report.define_error) < 1000
        assert "CASES" in report.define_error


def test_huge_message_through_the_cli_with_two_processes(guest_path, tmp_path, capsys):
    from rlar_jax.cli import main

    src = tmp_path / "tamper.py"
    src.write_text(tamper("huge_message"))
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in ROWS * 3))
    assert main(["verifiers", "score", str(src), "--input", str(rows), "--processes", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["error_kind"] for line in lines] == [None, "protocol", None] * 3
    assert max(map(len, lines)) < 1000


def test_harness_is_not_in_sys_modules(sandbox):
    res = sandbox.score("import sys\ndef score(*a):\n    print('verifier_guest' in sys.modules)\n    return 0.0\n",
                        "", "", "", {})
    assert res.ok and res.output.strip() == "False"
