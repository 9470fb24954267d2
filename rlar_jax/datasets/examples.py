"""Training and evaluation examples: chat messages, a reference, a task tag and free-form meta; the
malformed-row policy every loader shares; and how the trainer walks a seeded order in batches.

A loader turns each row into an `Example` through `collect`; a malformed row raises `DataError` naming
the file, the line and the field, or, under `on_error: skip`, is skipped and counted by a `RowErrors`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class DataError(ValueError):
    """A data file or row does not have the expected shape."""


@dataclasses.dataclass(frozen=True)
class Example:
    """One prompt with what its reward functions need."""

    messages: tuple[dict[str, str], ...]  # chat messages, ending with the user turn
    reference: str  # gold answer / reference text ("" when none)
    task: str  # task tag, e.g. "math", "code", "translation", "dialogue"
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)  # e.g. tests, language pair
    uid: str = ""  # stable id (source:line)

    @property
    def query(self) -> str:
        """The last user message (what the reward planner looks at)."""
        return self.messages[-1]["content"]

    @property
    def prompt(self) -> str:
        """The whole prompt as one text (`dialogue_prompt`): what a reward model judges a reply against."""
        return dialogue_prompt(self.messages)


def dialogue_prompt(messages: Sequence[dict[str, str]]) -> str:
    """Chat messages as one text: a lone user turn as it is, a dialogue in HH form
    ("\\n\\nHuman: ...\\n\\nAssistant: ...", which `rlar_jax.datasets.text.parse_dialogue` reads back);
    system turns are left out."""
    turns = [m for m in messages if m["role"] != "system"]
    if len(turns) == 1:
        return turns[0]["content"]
    return "".join(f"\n\n{'Human' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in turns)


class RowErrors:
    """What happens to a malformed row: raise its DataError (`on_error="raise"`) or skip and count it."""

    def __init__(self, on_error: str = "raise", keep: int = 5):
        """`keep`: how many skipped rows' messages are remembered for the report."""
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
        self.skip = on_error == "skip"
        self.count = 0
        self.messages: list[str] = []
        self._keep = keep

    def handle(self, error: DataError) -> None:
        """Raise `error`, or (skip mode) count it and remember its message."""
        if not self.skip:
            raise error
        self.count += 1
        if len(self.messages) < self._keep:
            self.messages.append(str(error))


def raise_or_skip(error: DataError, errors: RowErrors | None, cause: BaseException | None = None) -> None:
    """Raise `error` (from `cause`) when there is no policy, else let `errors` handle it."""
    if errors is None:
        raise error from cause
    errors.handle(error)


def require(row: dict[str, Any], field: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    """row[field], checked for presence and type; errors name `where` (file:line) and the field."""
    if field not in row:
        raise DataError(f"{where}: missing field {field!r}")
    value = row[field]
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise DataError(f"{where}: field {field!r} must be {names}, got {type(value).__name__}")
    return value


def collect(rows: Iterable[tuple[str, dict[str, Any]]], convert: Callable[[str, dict[str, Any]], Example | None],
            *, limit: int | None = None, errors: RowErrors | None = None) -> list[Example]:
    """Examples from `convert(where, row)` (None = row not wanted, e.g. another split) up to `limit`;
    a DataError of one row is raised, or skipped and counted by `errors`."""
    out: list[Example] = []
    for where, row in rows:
        if limit is not None and len(out) >= limit:
            break
        try:
            ex = convert(where, row)
        except DataError as e:
            raise_or_skip(e, errors)
            continue
        if ex is not None:
            out.append(ex)
    return out


def chat(user: str, system: str | None = None) -> tuple[dict[str, str], ...]:
    """Chat messages of one user turn, after an optional system prompt."""
    msgs = ({"role": "system", "content": system},) if system else ()
    return msgs + ({"role": "user", "content": user},)


def shuffled(examples: Sequence[Example], seed: int) -> list[Example]:
    """A seeded permutation (the trainer walks it in order and records its position for resume)."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    return order


def batch_at(examples: Sequence[Example], position: int, size: int) -> list[Example]:
    """`size` examples starting at `position`, wrapping around the end (epochs)."""
    if not examples:
        raise DataError("no training examples")
    n = len(examples)
    return [examples[(position + i) % n] for i in range(size)]
