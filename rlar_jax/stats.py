"""Statistics of held-out scores: the gain of a policy over its starting point, with a paired bootstrap CI.

Both policies answer the same prompts, so the scores are paired per prompt: the confidence interval of
the gain resamples prompt indices with replacement (the pairs stay together) and takes the percentile
interval of the resampled mean differences. Failed scores (NaN) count as 0, as in the rest of the
held-out evaluation.

Per task, every task's prompts are resampled on their own. `overall` pools all prompts (each task
weighs by its number of prompts); `macro` is the unweighted mean over tasks, its interval from the
per-task resamples averaged (a stratified bootstrap).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

OVERALL = "overall"
MACRO = "macro"
_CHUNK_ELEMENTS = 1 << 22  # resampled indices held in memory at once (B x n is drawn in row chunks)


@dataclasses.dataclass(frozen=True)
class Gain:
    """Mean score before and after, their difference and its bootstrap confidence interval."""

    n: int  # prompts
    before: float
    after: float
    gain: float  # after - before
    relative_gain: float  # gain / before; NaN when before is 0
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite numbers (e.g. the relative gain over a zero score) become None."""
        return {k: (v if not isinstance(v, float) or math.isfinite(v) else None)
                for k, v in dataclasses.asdict(self).items()}


def _clean(x: Sequence[float] | np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.asarray(x, np.float64).reshape(-1), nan=0.0)


def bootstrap_means(diff: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of `diff` over `n_resamples` resamples of its indices with replacement, shape (n_resamples,).

    Resample b uses the b-th row of `rng.integers(0, n, size=(n_resamples, n))`, drawn in row chunks
    so memory stays bounded (the same stream as drawing one resample at a time).
    """
    n = diff.size
    if n == 0:
        return np.full(n_resamples, np.nan)
    rows = max(1, _CHUNK_ELEMENTS // n)
    out = np.empty(n_resamples, np.float64)
    for start in range(0, n_resamples, rows):
        k = min(rows, n_resamples - start)
        out[start:start + k] = diff[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return out


def _interval(means: np.ndarray, confidence: float) -> tuple[float, float]:
    if means.size == 0 or np.isnan(means).any():
        return math.nan, math.nan
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _gain(before: np.ndarray, after: np.ndarray, means: np.ndarray, confidence: float) -> Gain:
    b = float(before.mean()) if before.size else math.nan
    a = float(after.mean()) if after.size else math.nan
    g = a - b
    rel = g / b if b != 0 and math.isfinite(b) else math.nan
    return Gain(int(before.size), b, a, g, rel, *_interval(means, confidence))


def paired_bootstrap(before: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray, *,
                     n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> Gain:
    """Gain of `after` over `before` (per-prompt scores of the same prompts) with a percentile bootstrap CI.

    NaN scores count as 0. The interval comes from `n_resamples` resamples of the prompt indices drawn
    by `np.random.default_rng(seed)`.
    """
    b, a = _clean(before), _clean(after)
    if b.shape != a.shape:
        raise ValueError(f"paired scores differ in length: {b.size} before, {a.size} after")
    return _gain(b, a, bootstrap_means(a - b, n_resamples, np.random.default_rng(seed)), confidence)


def gain_table(before: Sequence[float] | np.ndarray, after: Sequence[float] | np.ndarray, tasks: Sequence[str], *,
               n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0) -> dict[str, Gain]:
    """Per task (in first-seen order), `overall` (all prompts pooled) and, with several tasks, `macro`.

    `before`, `after` and `tasks` are aligned per prompt. One seeded generator draws every resample:
    each task's in task order, then the pooled ones.
    """
    b, a = _clean(before), _clean(after)
    labels = np.asarray(list(tasks), dtype=object)
    if not b.size == a.size == labels.size:
        raise ValueError(f"lengths differ: {b.size} before, {a.size} after, {labels.size} task tags")
    rng = np.random.default_rng(seed)
    out: dict[str, Gain] = {}
    task_means: list[np.ndarray] = []
    for task in dict.fromkeys(labels.tolist()):
        idx = np.flatnonzero(labels == task)
        means = bootstrap_means(a[idx] - b[idx], n_resamples, rng)
        task_means.append(means)
        out[str(task)] = _gain(b[idx], a[idx], means, confidence)
    out[OVERALL] = _gain(b, a, bootstrap_means(a - b, n_resamples, rng), confidence)
    if len(task_means) > 1:
        rows = [out[t] for t in out if t != OVERALL]
        mb = float(np.mean([r.before for r in rows]))
        ma = float(np.mean([r.after for r in rows]))
        g = ma - mb
        low, high = _interval(np.mean(task_means, axis=0), confidence)
        out[MACRO] = Gain(int(b.size), mb, ma, g, g / mb if mb != 0 else math.nan, low, high)
    return out


def table_to_dict(table: Mapping[str, Gain]) -> dict[str, dict[str, Any]]:
    """The table as JSON-ready dicts, keyed like the table."""
    return {k: g.to_dict() for k, g in table.items()}


def _num(v: Any, fmt: str, scale: float = 1.0, suffix: str = "") -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return format(v * scale, fmt) + suffix


def format_gain_table(table: Mapping[str, Gain | Mapping[str, Any]], confidence: float = 0.95) -> str:
    """Aligned plain-text table: task, n, before, after, gain, relative gain (%), CI low and high."""
    head = (f"{'task':<20} {'n':>6} {'before':>8} {'after':>8} {'gain':>8} {'rel.gain':>9} "
            f"{'ci_low':>8} {'ci_high':>8}")
    lines = [head, "-" * len(head)]
    for name, g in table.items():
        r = g.to_dict() if isinstance(g, Gain) else dict(g)
        lines.append(f"{name[:20]:<20} {r['n']:>6} {_num(r['before'], '.4f'):>8} {_num(r['after'], '.4f'):>8} "
                     f"{_num(r['gain'], '+.4f'):>8} {_num(r['relative_gain'], '+.1f', 100.0, '%'):>9} "
                     f"{_num(r['ci_low'], '+.4f'):>8} {_num(r['ci_high'], '+.4f'):>8}")
    lines.append(f"gain = after - before; ci: {confidence:.0%} paired bootstrap interval of the gain over prompts")
    return "\n".join(lines)
