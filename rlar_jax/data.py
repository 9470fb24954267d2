"""Training and evaluation examples: chat messages, a reference, a task tag and free-form meta.

Loaders read local JSONL files (or a Hugging Face dataset name through `datasets`) and turn each row into
an `Example`. A malformed row raises `DataError` naming the file, the line and the field.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
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


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) from a .jsonl or .jsonl.gz file; a bad line is a DataError."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{i}: invalid JSON ({e.msg})") from e
            if not isinstance(row, dict):
                raise DataError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}")
            yield i, row


def iter_rows(source: str | Path, config: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("file:line" or "name[split]#i", row) from a local JSONL file or a Hugging Face dataset.

    A source that is not an existing path is read as a hub dataset "owner/name[:split]" (split defaults
    to train) through `datasets.load_dataset`; that needs network access or a populated HF cache.
    """
    path = Path(source)
    if path.exists() or str(source).endswith((".jsonl", ".jsonl.gz", ".json")):
        for line, row in read_jsonl(path):
            yield f"{path}:{line}", row
        return
    name, _, split = str(source).partition(":")
    import datasets

    ds = datasets.load_dataset(name, config, split=split or "train")
    for i, row in enumerate(ds):
        yield f"{name}[{split or 'train'}]#{i}", dict(row)


def require(row: dict[str, Any], field: str, where: str, kind: type = str) -> Any:
    """row[field], checked for presence and type; errors name `where` (file:line) and the field."""
    if field not in row:
        raise DataError(f"{where}: missing field {field!r}")
    value = row[field]
    if not isinstance(value, kind):
        raise DataError(f"{where}: field {field!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


def _messages(user: str, system: str | None) -> tuple[dict[str, str], ...]:
    msgs = ({"role": "system", "content": system},) if system else ()
    return msgs + ({"role": "user", "content": user},)


GSM8K_INSTRUCTION = "Solve the problem step by step. End with a final line of the form '#### <number>'."


def load_gsm8k(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
               instruction: str = GSM8K_INSTRUCTION) -> list[Example]:
    """GSM8K rows (`question`, `answer` ending in `#### N`) as math examples; reference = final answer."""
    out = []
    for where, row in iter_rows(path, config="main"):
        question = require(row, "question", where)
        answer = require(row, "answer", where)
        if "####" not in answer:
            raise DataError(f"{where}: field 'answer' has no '#### <final answer>' line")
        final = answer.rsplit("####", 1)[1].strip().replace(",", "")
        prompt = f"{question}\n\n{instruction}" if instruction else question
        out.append(Example(_messages(prompt, system_prompt), final, "math",
                           {"rationale": answer}, f"gsm8k:{where}"))
        if limit is not None and len(out) >= limit:
            break
    return out


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
