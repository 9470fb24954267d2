"""Held-out evaluation during training: per-prompt scores, their per-task metrics, the periodic slice and
the before/after gain report.

Every prompt's score is the held-out metric of its task family (`rlar_jax.rewards.factory.eval_reward_fn`);
a failed score (NaN) counts as 0 in every mean, and `failed` counts them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from rlar_jax.datasets.examples import Example
from rlar_jax.sharding import gather
from rlar_jax.stats import format_gain_table, gain_table, table_to_dict

ACCURATE = 0.999  # a prompt counts as solved (eval/accuracy) at this score or above
BOOTSTRAP_RESAMPLES = 10_000
CONFIDENCE = 0.95


@dataclasses.dataclass
class HeldOutScores:
    """One score per held-out prompt, in the order of the examples (NaN = the metric failed)."""

    uids: list[str]
    tasks: list[str]
    scores: np.ndarray

    def metrics(self, prefix: str = "eval") -> dict[str, float | int]:
        """`prefix/reward_mean`, `/accuracy`, `/n`, `/failed` overall and `prefix/task/<task>/...` per task."""
        out = _summary(self.scores, prefix)
        labels = np.asarray(self.tasks, dtype=object)
        for task in dict.fromkeys(self.tasks):
            out.update(_summary(self.scores[labels == task], f"{prefix}/task/{task}"))
        return out

    def subset(self, indices: Sequence[int]) -> HeldOutScores:
        """The scores of the prompts at `indices`."""
        idx = list(indices)
        return HeldOutScores([self.uids[i] for i in idx], [self.tasks[i] for i in idx], self.scores[idx])

    def to_json(self) -> dict[str, list]:
        """{"uid": [...], "task": [...], "score": [...]} with failed scores as null."""
        return {"uid": list(self.uids), "task": list(self.tasks),
                "score": [float(s) if math.isfinite(s) else None for s in self.scores]}

    @classmethod
    def from_json(cls, data: dict[str, list]) -> HeldOutScores:
        """Inverse of `to_json`."""
        scores = np.asarray([math.nan if s is None else float(s) for s in data["score"]], np.float64)
        return cls(list(data["uid"]), list(data["task"]), scores)

    def matches(self, examples: Sequence[Example]) -> bool:
        """Whether these are the scores of exactly `examples` (same prompts, same order)."""
        return self.uids == [e.uid for e in examples] and self.tasks == [e.task for e in examples]


def _summary(scores: np.ndarray, prefix: str) -> dict[str, float | int]:
    clean = np.nan_to_num(scores, nan=0.0)
    return {f"{prefix}/reward_mean": float(clean.mean()) if clean.size else math.nan,
            f"{prefix}/accuracy": float((clean >= ACCURATE).mean()) if clean.size else math.nan,
            f"{prefix}/n": int(scores.size), f"{prefix}/failed": int(np.isnan(scores).sum())}


def prompt_chars(example: Example) -> int:
    """Characters in an example's messages: a cheap proxy of its prompt length in tokens."""
    return sum(len(m.get("content", "")) for m in example.messages)


def score_prompts(examples: Sequence[Example], respond: Callable[[list[Example]], list[str]],
                  score: Callable[[list[Example], list[str]], np.ndarray], batch: int = 16,
                  length: Callable[[Example], int] | None = prompt_chars) -> HeldOutScores:
    """Every process answers and scores its contiguous share of `examples` in batches; the scores are
    gathered, so every process returns all of them in example order.

    respond(chunk) -> one response per example; score(chunk, responses) -> one score per response.
    Chunks are padded with `examples[0]` so every process runs the same shapes. With `length`, each
    process batches its share shortest-first: a batch is left-padded to the bucket of its longest prompt,
    so batching prompts of similar length cuts the padded positions the prefill and decode compute.
    """
    n_proc, rank = jax.process_count(), jax.process_index()
    per = math.ceil(len(examples) / n_proc)
    mine = list(examples[rank * per:(rank + 1) * per])
    order = sorted(range(len(mine)), key=lambda j: length(mine[j])) if length else list(range(len(mine)))
    local = np.full(per, np.nan, np.float32)
    for i in range(0, per, batch):
        idx = order[i:i + batch]
        chunk = [mine[j] for j in idx]
        real = len(chunk)
        chunk = chunk + [examples[0]] * (min(batch, per - i) - real)  # equal shapes on every process
        local[idx] = np.asarray(score(chunk, respond(chunk)), np.float32)[:real]
    # Process r's share sits at r*per..: the padding is all at the end, past len(examples).
    scores = gather(local)[:len(examples)].astype(np.float64)
    return HeldOutScores([e.uid for e in examples], [e.task for e in examples], scores)


def eval_slice(tasks: Sequence[str], size: int) -> list[int]:
    """Indices of the periodic evaluation slice: the first size // n_tasks prompts of each task (the first
    size % n_tasks tasks take one more), fewer where a task has fewer; size 0 = every prompt."""
    if size <= 0 or size >= len(tasks):
        return list(range(len(tasks)))
    order = list(dict.fromkeys(tasks))
    quota = {t: size // len(order) + (1 if j < size % len(order) else 0) for j, t in enumerate(order)}
    taken: dict[str, int] = {}
    out = []
    for i, t in enumerate(tasks):
        if taken.get(t, 0) < quota[t]:
            taken[t] = taken.get(t, 0) + 1
            out.append(i)
    return out


def gain_report(before: HeldOutScores, after: HeldOutScores, seed: int = 0) -> dict[str, Any]:
    """Per task, overall and macro: score before and after, gain, relative gain and the paired bootstrap
    CI of the gain. {"rows": {name: row}, "confidence", "resamples", "seed"} (see rlar_jax.stats)."""
    if before.uids != after.uids:
        raise ValueError("before/after scores are of different prompts; the gain needs the same ones")
    rows = gain_table(before.scores, after.scores, before.tasks, n_resamples=BOOTSTRAP_RESAMPLES,
                      confidence=CONFIDENCE, seed=seed)
    return {"rows": table_to_dict(rows), "confidence": CONFIDENCE, "resamples": BOOTSTRAP_RESAMPLES, "seed": seed}


def format_report(report: dict[str, Any]) -> str:
    """The report's rows as an aligned plain-text table."""
    return format_gain_table(report["rows"], report["confidence"])
