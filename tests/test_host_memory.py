"""release_freed_memory: freed heap pages go back to the OS (glibc), and it is safe to call anywhere."""

import sys

import pytest

from rlar_jax.host_memory import release_freed_memory


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux") or not release_freed_memory(),
                    reason="needs glibc's malloc_trim (Linux)")
def test_freed_heap_returns_to_the_os() -> None:
    # 64 KiB blocks stay below glibc's mmap threshold, so they come from the heap; keeping every 16th alive
    # pins the heap's top, so freeing the rest returns nothing by itself.
    blocks = [bytearray(64 * 1024) for _ in range(6000)]  # ~375 MiB, pages touched by the zero fill
    keep = blocks[::16]
    del blocks
    held = _rss_mib()
    assert release_freed_memory() is True
    released = held - _rss_mib()
    assert released > 200, f"RSS fell by only {released:.0f} MiB of ~350 freed"
    assert len(keep) == 375
