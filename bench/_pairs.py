"""Paired runs for benchmarks (`--pairs N`): the sides alternate (ours, peer, ours, peer, ...) so that a
change in background load hits both alike, and each script reports medians over the N pairs.

The ratio is the median of the N per-pair ratios (each from two back-to-back runs), oriented so that
a ratio above 1 means rlar-jax is better; the `ours` and `peer` values are the medians of each side.
Pure Python: the benchmark scripts and their tests import it without jax or torch.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from typing import Any


def schedule(pairs: int, peers: Sequence[str]) -> list[tuple[int, str]]:
    """The run order: (pair index, side) with rlar-jax ("ours") first in every pair, then each peer."""
    if pairs < 1:
        raise ValueError(f"--pairs must be >= 1, got {pairs}")
    if not peers:
        raise ValueError("need at least one peer")
    if len(set(peers)) != len(peers):
        raise ValueError(f"a peer is named twice: {list(peers)}")
    return [(i, side) for i in range(pairs) for side in ("ours", *peers)]


def median(xs: Sequence[float]) -> float:
    """Median (NaN for an empty sequence)."""
    return statistics.median(xs) if xs else float("nan")


def paired(ours: Sequence[float], peer: Sequence[float], higher_is_better: bool) -> dict[str, Any]:
    """Medians of paired measurements: `ours[i]` and `peer[i]` come from pair i.

    For a throughput (higher is better) each pair's ratio is ours / peer; for a time (lower is better)
    it is peer / ours, so a ratio above 1 always favours rlar-jax.
    """
    if len(ours) != len(peer) or not ours:
        raise ValueError(f"need the same non-zero number of runs per side, got {len(ours)} and {len(peer)}")
    ratios = [(o / p) if higher_is_better else (p / o) for o, p in zip(ours, peer)]
    return {"ours": median(ours), "peer": median(peer), "ratio": median(ratios), "ratios": ratios}


def json_line(bench: str, ours: float, peer: float, unit: str, ratio: float, peer_name: str | None = None,
              digits: int = 4) -> str:
    """The one-line JSON record a benchmark ends with: {"bench", "ours", "peer", "unit", "ratio"}, plus
    "peer_name" when a script compares against more than one peer."""
    rec: dict[str, Any] = {"bench": bench, "ours": round(ours, digits), "peer": round(peer, digits), "unit": unit,
                           "ratio": round(ratio, digits)}
    if peer_name:
        rec["peer_name"] = peer_name
    return json.dumps(rec)
