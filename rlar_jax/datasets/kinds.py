"""Dataset kinds: how the rows of a `data.tasks[i]` source of each `kind` become Examples.

Each kind is registered once, with its loader: `register_dataset_kind(name, loader)` (or as a decorator).
The config accepts registered kinds only (`data.tasks[i].kind`, checked when the config is built, so a
kind registered before `load_config` counts) and `rlar_jax.datasets.mixture.load_source` calls the kind's
loader: a new kind is one registration and no other edit.

A loader is called as `loader(src, path, split=..., system_prompt=..., limit=..., task=..., errors=...)`
and returns a list of `Example`: `src` is the TaskSource, `path` its resolved file or hub name, `task` the
tag to give every example, `limit` the most rows to read, `errors` collects (or raises on) malformed rows.
`split` is "train" or "test" for a kind registered with `own_split` reading a single `path` (MBPP splits by
task id), else None: the mixture then holds out the first `eval_size` examples itself.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable

from rlar_jax.datasets import problems
from rlar_jax.datasets.examples import Example
from rlar_jax.datasets.problems import GSM8K_INSTRUCTION, load_gsm8k
from rlar_jax.datasets.readers import resolve_path
from rlar_jax.datasets.text import load_hh, load_llmbar, load_wmt
from rlar_jax.registry import Registry

if TYPE_CHECKING:
    from rlar_jax.config import TaskSource

Loader = Callable[..., list[Example]]


@dataclasses.dataclass(frozen=True)
class DatasetKind:
    """A registered kind: its loader, and whether it splits a single `path` into train/test itself."""

    name: str
    loader: Loader
    own_split: bool = False


DATASET_KINDS: Registry[DatasetKind] = Registry("dataset kind", "rlar_jax.datasets.kinds.register_dataset_kind")


def register_dataset_kind(name: str, loader: Loader | None = None, *, own_split: bool = False) -> Any:
    """Register the loader of dataset kind `name` (`own_split`: see the module doc). With `loader`
    omitted, a decorator registering the decorated function. ValueError when `name` is already
    registered or not an identifier; TypeError when the loader is not callable."""
    if not isinstance(own_split, bool):
        raise TypeError(f"register_dataset_kind({name!r}): own_split must be a bool, got {own_split!r}")

    def add(fn: Loader) -> Loader:
        if not callable(fn):
            raise TypeError(f"register_dataset_kind({name!r}): loader must be callable, got {fn!r}")
        DATASET_KINDS.add(name, DatasetKind(name, fn, own_split), fn)
        return fn

    return add if loader is None else add(loader)


def dataset_kind(name: str, task: str | None = None) -> DatasetKind:
    """The registration of kind `name`; ValueError naming the task and listing the registered kinds."""
    return DATASET_KINDS.lookup(name, f"task {task!r}: " if task is not None else "")


def _instruction(src: "TaskSource", default: str | None) -> str | None:
    """The prompt instruction: the source's own (`""` = none), else the kind's default."""
    return default if src.instruction is None else (src.instruction or None)


# ------------------------------------------------------------------ the built-in kinds (see TaskSource)


@register_dataset_kind("gsm8k")
def _gsm8k(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return load_gsm8k(path, instruction=_instruction(src, GSM8K_INSTRUCTION) or "", **common)


@register_dataset_kind("math")
def _math(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return problems.load_math(path, instruction=_instruction(src, problems.MATH_INSTRUCTION),
                              config=src.hf_config, **common)


@register_dataset_kind("mbpp", own_split=True)  # one file: evaluation = task ids 11-510, training = 511-974
def _mbpp(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return problems.load_mbpp(path, split=split, instruction=_instruction(src, problems.CODE_INSTRUCTION),
                              config=src.hf_config, **common)


@register_dataset_kind("humaneval")
def _humaneval(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return problems.load_humaneval(path, instruction=_instruction(src, problems.HUMANEVAL_INSTRUCTION),
                                   config=src.hf_config, **common)


@register_dataset_kind("wmt")
def _wmt(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    ref = resolve_path(src.reference_path) if src.reference_path else None
    return load_wmt(path, reference_path=ref, language_pair=src.language_pair, config=src.hf_config, **common)


@register_dataset_kind("hh")
def _hh(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return load_hh(path, config=src.hf_config, **common)


@register_dataset_kind("llmbar")
def _llmbar(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return load_llmbar(path, config=src.hf_config, **common)


@register_dataset_kind("constraints")
def _constraints(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    from rlar_jax.datasets.constraints import load_constraints

    return load_constraints(path, **common)


@register_dataset_kind("jsonl")
def _jsonl(src: "TaskSource", path: str, *, split: str | None, **common: Any) -> list[Example]:
    return problems.load_jsonl(path, src.fields, instruction=_instruction(src, None), config=src.hf_config,
                               **common)
