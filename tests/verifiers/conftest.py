"""Fixtures for the seed-verifier tests: one Sandbox per module, rows read from the bundled data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlar_jax.datasets.readers import open_text
from rlar_jax.datasets.registry import BUNDLED_DIR
from rlar_jax.sandbox import Sandbox
from rlar_jax.sandbox.build import ensure_guest

DATA = BUNDLED_DIR


def read_jsonl(path: Path, limit: int | None = None) -> list[dict]:
    """First `limit` rows of a JSONL (or .jsonl.gz) file."""
    rows = []
    with open_text(path) as fh:
        for line in fh:
            if limit is not None and len(rows) >= limit:
                break
            rows.append(json.loads(line))
    return rows


@pytest.fixture(scope="module")
def sandbox():
    """A Sandbox with default limits (the seed verifiers' real operating budget)."""
    ensure_guest()
    with Sandbox() as sb:
        yield sb
