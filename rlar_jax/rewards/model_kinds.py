"""Reward-model kinds: how a catalog entry of each `kind` becomes a batched reward fn.

Each kind is registered once, with its loader: `register_reward_model_kind(name, loader)` (or as a
decorator). The catalog accepts entries of registered kinds only (`CatalogEntry.kind`) and
`rlar_jax.rewards.models.registry.load_reward_model` calls the kind's loader, so a new kind is one
registration (before the catalog entry naming it is built) and no other edit.

A loader is called as `loader(entry, policy=..., backbone=...)` and returns a `RewardModelFn`: `policy` is
the model a judge scores with, `backbone` an already loaded frozen backbone (both may be None; a loader
that needs neither takes `**_`). It may also be given as the text "module:function", imported on first
use: the built-in loaders need jax and Flax, which building or listing a catalog must not import.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any, Callable

from rlar_jax.registry import Registry

Loader = Callable[..., Any]  # (entry: CatalogEntry, *, policy, backbone) -> RewardModelFn


@dataclasses.dataclass(frozen=True)
class ModelKind:
    """A registered kind: its loader (a callable or "module:function") and how the catalog ranks it."""

    name: str
    loader: Loader | str
    # A model trained for rewards (a preference head, a reward checkpoint): ranked before generic models
    # (embedding similarity, a prompted judge) at equal evidence.
    trained: bool = False


REWARD_MODEL_KINDS: Registry[ModelKind] = Registry(
    "reward-model kind", "rlar_jax.rewards.model_kinds.register_reward_model_kind")


def register_reward_model_kind(name: str, loader: Loader | str | None = None, *, trained: bool = False
                               ) -> Any:
    """Register the loader of reward-model kind `name` (`trained`: see ModelKind). With `loader` omitted,
    a decorator registering the decorated function. ValueError when `name` is already registered or not
    an identifier; TypeError when the loader is neither callable nor "module:function"."""
    if not isinstance(trained, bool):
        raise TypeError(f"register_reward_model_kind({name!r}): trained must be a bool, got {trained!r}")

    def add(fn: Loader | str) -> Loader | str:
        if not (callable(fn) or (isinstance(fn, str) and fn.count(":") == 1)):
            raise TypeError(f"register_reward_model_kind({name!r}): loader must be callable or "
                            f"'module:function', got {fn!r}")
        REWARD_MODEL_KINDS.add(name, ModelKind(name, fn, trained), fn)
        return fn

    return add if loader is None else add(loader)


def reward_model_kinds() -> tuple[str, ...]:
    """Names of the registered kinds, in registration order."""
    return tuple(REWARD_MODEL_KINDS)


def trained_kinds() -> tuple[str, ...]:
    """Names of the registered kinds flagged `trained`."""
    return tuple(k for k, v in REWARD_MODEL_KINDS.items() if v.trained)


def kind_loader(name: str) -> Loader:
    """The loader of kind `name` ("module:function" imported now); ValueError listing the registered kinds."""
    kind = REWARD_MODEL_KINDS.lookup(name)
    if callable(kind.loader):
        return kind.loader
    module, attr = kind.loader.split(":")
    return getattr(importlib.import_module(module), attr)


# The built-in kinds; their loaders live with the models in rlar_jax.rewards.models.registry.
_BUILTIN = "rlar_jax.rewards.models.registry"
register_reward_model_kind("judge", f"{_BUILTIN}:load_judge")
register_reward_model_kind("embedding", f"{_BUILTIN}:load_embedding")
register_reward_model_kind("bt_head", f"{_BUILTIN}:load_bt_head", trained=True)
register_reward_model_kind("hf_seq_cls", f"{_BUILTIN}:load_hf_seq_cls", trained=True)
