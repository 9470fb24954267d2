"""Registries by name: the one implementation behind every plug-in point.

Losses (`rlar_jax.losses.LOSSES`), advantage estimators (`rlar_jax.advantages.ADVANTAGES`), dataset kinds
(`rlar_jax.datasets.kinds.DATASET_KINDS`) and reward-model kinds
(`rlar_jax.rewards.model_kinds.REWARD_MODEL_KINDS`) are each a `Registry`: a dict from name to
registration, in registration order, whose names are identifiers, which refuses a second registration
under a taken name, and whose look-up error lists what is registered and how to register more. The config
validates names against these dicts, so a registration is selectable with no edit elsewhere.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

T = TypeVar("T")


def describe(obj: Any) -> str:
    """How an error names a registered object: its qualified name, or the text itself ("module:function")."""
    return obj if isinstance(obj, str) else getattr(obj, "__qualname__", repr(obj))


class Registry(dict[str, T], Generic[T]):
    """Name -> registration for one kind of plug-in.

    what: the plug-in's name in messages ("loss", "dataset kind"); register_with: the function users call
    to add one, quoted by the look-up error.
    """

    def __init__(self, what: str, register_with: str):
        super().__init__()
        self.what = what
        self.register_with = register_with
        self._by: dict[str, Any] = {}  # name -> the function (or "module:function") it was registered with

    def add(self, name: str, entry: T, by: Any) -> T:
        """Register `entry` under `name`; `by` is the function it wraps (named in a duplicate's error).
        ValueError when `name` is not an identifier or is already registered."""
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{self.what} name: expected an identifier, got {name!r}")
        if name in self:
            raise ValueError(f"{self.what} {name!r} is already registered (by {describe(self._by[name])})")
        self[name] = entry
        self._by[name] = by
        return entry

    def lookup(self, name: str, where: str = "") -> T:
        """The registration of `name`; ValueError (prefixed by `where`, e.g. "task 'x': ") listing the
        registered names."""
        if name not in self:
            raise ValueError(f"{where}unknown {self.what} {name!r}; registered: {list(self)} "
                             f"(register more with {self.register_with})")
        return self[name]

    def __delitem__(self, name: str) -> None:  # tests and plug-ins may unregister
        super().__delitem__(name)
        self._by.pop(name, None)
