"""Returning freed host memory to the operating system between the phases of a run.

XLA's CPU buffers come from the C allocator. glibc keeps freed chunks inside its heaps (and raises its
mmap threshold after large frees, so later large buffers land in those heaps too), so after an
evaluation batch or an update the process stays as large as that phase's peak even though the memory
is free. `malloc_trim(0)` hands the free pages of every heap back: on the default run the resident size
between phases stays at 2.1-2.8 GB instead of creeping to 4-5 GB (BENCHMARKS.md, "Memory of the default
run"). A call takes ~0.16 s when it returns 1.8 GB and ~3 ms when there is nothing to return, against a
training step of ~50 s. On a C library without it (musl, macOS) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        log.debug("no malloc_trim in this C library: freed memory stays with the allocator")
        return None


def release_freed_memory() -> bool:
    """Give the allocator's free pages back to the OS; True when the C library could do it."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
