"""Interpreter exit is clean: no wasmtime panic text when stores were alive at exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
from rlar_jax.sandbox import Sandbox, SandboxPool

if __name__ == "__main__":
    sb = Sandbox()
    assert sb.score("def score(*a):\n    return 0.5\n", "", "", "", {}).score == 0.5
    assert sb.score("def score(*a):\n    while True:\n        pass\n", "", "", "", {}).error_kind == "fuel"
    pool = SandboxPool(1)
    assert pool.score("def score(*a):\n    return 0.25\n", "", "", "").score == 0.25
    print("done")
    # no close(): the atexit hooks must free the stores and stop the workers
"""


def test_no_panic_at_interpreter_exit(guest_path, tmp_path):
    script = tmp_path / "use_sandbox.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "done"
    assert "panic" not in proc.stderr.lower(), proc.stderr
