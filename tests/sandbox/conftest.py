"""Shared fixtures: the guest is built at most once per test session (in the user's cache)."""

from __future__ import annotations

import pytest

from rlar_jax.sandbox import Limits, Sandbox
from rlar_jax.sandbox.build import ensure_guest

# Small budgets keep hostile verifiers quick to stop; still ample for the seed verifiers.
TEST_LIMITS = Limits(fuel=400_000_000, deadline_s=2.0, memory_bytes=256 << 20, output_bytes=4096)


@pytest.fixture(scope="session")
def guest_path():
    """Path of the compiled guest; builds it (once, under a file lock) if this environment lacks it."""
    return ensure_guest().path


@pytest.fixture(scope="module")
def sandbox(guest_path):
    """One Sandbox shared by a test module."""
    with Sandbox(TEST_LIMITS) as sb:
        yield sb
