"""The task mixture of `data.tasks`: each task's train/eval split, and the weighted, interleaved training stream.

Training: every task's examples are shuffled with a seed of their own, resampled (cycled when short,
cut when long) to their share `weight / sum(weights)` of the total, and interleaved by smooth weighted
round-robin, so any window of consecutive prompts (one training step) holds each task in proportion.
Evaluation: the first `eval_size` examples of each task's held-out split, task after task.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rlar_jax.datasets.examples import DataError, Example, RowErrors, shuffled
from rlar_jax.datasets.kinds import dataset_kind
from rlar_jax.datasets.readers import resolve_path

if TYPE_CHECKING:
    from rlar_jax.config import DataSection, TaskSource

log = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadReport:
    """Per task: examples loaded and malformed rows skipped (with the first skipped rows' messages)."""

    split: str
    loaded: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: dict[str, int] = dataclasses.field(default_factory=dict)
    too_long: dict[str, int] = dataclasses.field(default_factory=dict)  # over data.max_prompt_chars
    messages: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def log(self) -> None:
        """Log the counts; skipped rows as a warning with their first messages."""
        if self.loaded:
            log.info("%s examples per task: %s", self.split, self.loaded)
        if any(self.too_long.values()):
            log.info("%s examples over data.max_prompt_chars, dropped: %s", self.split, self.too_long)
        for task, n in self.skipped.items():
            if n:
                log.warning("%s split of task %r: skipped %d malformed row(s), e.g. %s", self.split, task, n,
                            "; ".join(self.messages.get(task, [])))


def load_source(src: "TaskSource", path: str, *, split: str | None = None, system_prompt: str | None = None,
                limit: int | None = None, errors: RowErrors | None = None) -> list[Example]:
    """Examples of one task source read from `path` (already resolved), tagged `src.task`, by the loader
    registered for `src.kind` (`rlar_jax.datasets.kinds`); `split` is for kinds that split one file themselves."""
    kind = dataset_kind(src.kind, src.task)
    return kind.loader(src, path, split=split, system_prompt=system_prompt, limit=limit, task=src.task,
                       errors=errors)


def task_split(src: "TaskSource", split: str, eval_size: int, system_prompt: str | None,
               errors: RowErrors) -> list[Example]:
    """One task's `split` ("train" or "eval"): explicit train_path/eval_path, the kind's own split of
    `path` (MBPP: by task id), or else `path` with its first `eval_size` examples held out."""
    explicit = src.train_path if split == "train" else src.eval_path
    if split == "eval" and eval_size == 0:
        return []
    if explicit:
        limit = src.limit if split == "train" else eval_size
        return load_source(src, resolve_path(explicit), system_prompt=system_prompt, limit=limit, errors=errors)
    if not src.path:
        if split == "eval":
            return []
        raise DataError(f"task {src.task!r}: no train_path or path to train on")
    path = resolve_path(src.path)
    if dataset_kind(src.kind, src.task).own_split:
        limit = src.limit if split == "train" else eval_size
        return load_source(src, path, split="train" if split == "train" else "test", system_prompt=system_prompt,
                           limit=limit, errors=errors)
    if split == "eval":
        return load_source(src, path, system_prompt=system_prompt, limit=eval_size, errors=errors)
    rows = load_source(src, path, system_prompt=system_prompt,
                       limit=None if src.limit is None else eval_size + src.limit, errors=errors)
    return rows[eval_size:]


def interleave(pools: Sequence[Sequence[Example]], weights: Sequence[float]) -> list[Example]:
    """Resample each pool to its share of the total and interleave by smooth weighted round-robin."""
    total = sum(len(p) for p in pools)
    wsum = float(sum(weights))
    quotas = [max(1, round(total * w / wsum)) if p else 0 for p, w in zip(pools, weights)]
    credit = [0.0] * len(pools)
    taken = [0] * len(pools)
    out: list[Example] = []
    for _ in range(sum(quotas)):
        active = [i for i in range(len(pools)) if taken[i] < quotas[i]]
        step = sum(weights[i] for i in active)
        for i in active:
            credit[i] += weights[i]
        j = max(active, key=lambda i: (credit[i], -i))
        credit[j] -= step
        out.append(pools[j][taken[j] % len(pools[j])])
        taken[j] += 1
    return out


def _legacy(cfg: "DataSection") -> "TaskSource":
    from rlar_jax.config import TaskSource

    if cfg.source != "gsm8k":
        raise ValueError(f"data.source: only 'gsm8k' is a single source; got {cfg.source!r} "
                         "(list other datasets under data.tasks)")
    return TaskSource(kind="gsm8k", name="math", train_path=cfg.train_path, eval_path=cfg.eval_path,
                      limit=cfg.max_train_examples)


def load_split(cfg: "DataSection", split: str) -> tuple[list[Example], LoadReport]:
    """(examples, report) of the training stream (`split="train"`) or the held-out set (`"eval"`)."""
    if split not in ("train", "eval"):
        raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
    sources = list(cfg.tasks) or [_legacy(cfg)]
    names = [s.task for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"data.tasks: task name(s) {dupes} used twice; give each task a distinct name")
    report = LoadReport(split)
    pools = []
    for src in sources:
        errors = RowErrors(src.on_error)
        size = cfg.eval_size if src.eval_size is None else src.eval_size
        examples = task_split(src, split, size, cfg.system_prompt, errors)
        if cfg.max_prompt_chars is not None:
            kept = [e for e in examples if prompt_chars(e) <= cfg.max_prompt_chars]
            report.too_long[src.task] = len(examples) - len(kept)
            examples = kept
        report.loaded[src.task] = len(examples)
        report.skipped[src.task] = errors.count
        report.messages[src.task] = errors.messages
        pools.append(examples)
    if split == "eval":
        return [e for p in pools for e in p], report
    if not cfg.tasks:  # the single-source stream, as before mixtures existed (keeps old runs resumable)
        return shuffled(pools[0], cfg.shuffle_seed), report
    empty = [s.task for s, p in zip(sources, pools) if not p]
    if empty:
        raise DataError(f"data.tasks: no training examples for task(s) {empty}")
    pools = [_shuffle(p, f"{cfg.shuffle_seed}:{s.task}") for s, p in zip(sources, pools)]
    return interleave(pools, [s.weight for s in sources]), report


def prompt_chars(example: Example) -> int:
    """Characters in all of an example's messages."""
    return sum(len(m["content"]) for m in example.messages)


def _shuffle(examples: Sequence[Example], seed: str) -> list[Example]:
    order = list(examples)
    random.Random(seed).shuffle(order)  # str seeds are hashed with sha512: stable across processes
    return order


def load_train(cfg: "DataSection") -> list[Example]:
    """The training stream of `cfg`: its task mixture interleaved by weight (seeded), or with no
    `tasks` the single GSM8K source shuffled. Skipped malformed rows are logged with their count."""
    examples, report = load_split(cfg, "train")
    report.log()
    return examples


def load_eval(cfg: "DataSection") -> list[Example]:
    """The held-out examples of `cfg`: the first `eval_size` of each task's evaluation split, task by task."""
    examples, report = load_split(cfg, "eval")
    report.log()
    return examples
