"""Controlled background load for benchmarks (`--load N`): N busy processes for the duration of a run.

Users run on shared machines, so "under load" is a setting, not an accident: each process spins one
core in a tight Python loop (no memory, no I/O) and is killed when the block ends.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def busy(n: int) -> Iterator[None]:
    """Run the block with `n` (>= 0) busy-looping background processes."""
    if n < 0:
        raise ValueError(f"--load must be >= 0, got {n}")
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
