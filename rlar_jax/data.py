"""Training and evaluation examples: chat messages, a reference, a task tag and free-form meta.

Loaders read local JSONL / JSON / plain-text files (or a Hugging Face dataset name through `datasets`)
and turn each row into an `Example`. A malformed row raises `DataError` naming the file, the line and
the field, or, under `on_error: skip`, is skipped and counted by a `RowErrors`. The loaders of each
task kind and the weighted task mixture live in `rlar_jax.datasets`; `rlar_jax.datasets.mixture.load_train` / `load_eval` are
what the trainer calls.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlar_jax.config import DataSection

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[1]


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


def resolve_path(path: str, base: str | Path | None = None) -> str:
    """Where a data source's rows are. A registry name (`gsm8k:train`, see `rlar_jax.datasets.registry`)
    becomes its bundled file; a relative path is looked up under `base` (the config file's directory),
    then the working directory, then the project root; anything else (a hub name, a missing file) is
    returned as given, and the loader names it."""
    from rlar_jax.datasets.registry import DatasetError, parse_spec, resolve

    bases = [Path(b) for b in (base, Path.cwd(), PROJECT_ROOT) if b is not None]
    try:
        return resolve(str(path), bases)
    except DatasetError as e:
        if parse_spec(str(path)) is not None:
            raise DataError(str(e)) from e
        return str(path)


def open_text(path: str | Path):
    """A text-mode (UTF-8) file object; `.gz` files are decompressed on the fly."""
    path = Path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def read_text(path: str | Path) -> str:
    """The whole text of a (possibly gzip-compressed) UTF-8 file."""
    with open_text(path) as f:
        return f.read()


def read_jsonl(path: str | Path, errors: RowErrors | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, row) from a .jsonl or .jsonl.gz file; a bad line is a DataError (or skipped)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    with open_text(path) as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                _fail(DataError(f"{path}:{i}: invalid JSON ({e.msg})"), errors, e)
                continue
            if not isinstance(row, dict):
                _fail(DataError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}"), errors)
                continue
            yield i, row


def read_json_list(path: str | Path, errors: RowErrors | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number where the object starts, object) from a .json (or .json.gz) file holding a list
    of objects."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    text = read_text(path)
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected a JSON list of objects")
    pos = _skip_ws(text, pos + 1)
    if text.startswith("]", pos):
        return
    while True:
        line = text.count("\n", 0, pos) + 1
        try:
            row, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as e:  # the rest of the file cannot be located: always an error
            raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from e
        if isinstance(row, dict):
            yield line, row
        else:
            _fail(DataError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}"), errors)
        pos = _skip_ws(text, pos)
        if text.startswith("]", pos):
            return
        if not text.startswith(",", pos):
            raise DataError(f"{path}:{text.count(chr(10), 0, pos) + 1}: expected ',' or ']' in the JSON list")
        pos = _skip_ws(text, pos + 1)


def _starts_with_object(path: Path) -> bool:
    """True when the file's first non-blank character opens an object (JSON lines, not a JSON list)."""
    if not path.is_file():
        return False
    with open_text(path) as f:
        head = f.read(4096).lstrip()
    return head.startswith("{")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _fail(error: DataError, errors: RowErrors | None, cause: BaseException | None = None) -> None:
    if errors is None:
        raise error from cause
    errors.handle(error)


def iter_rows(source: str | Path, config: str | None = None,
              errors: RowErrors | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ("file:line" or "name[split]#i", row) from a local JSONL file, a .json file (a list of objects,
    or JSON lines), either of them gzip-compressed (.gz), or a Hugging Face dataset.

    A source that is not an existing path is read as a hub dataset "owner/name[:split]" (split defaults
    to train) through `datasets.load_dataset`; that needs network access or a populated HF cache.
    """
    path = Path(source)
    if str(source).endswith((".json", ".json.gz")) and not _starts_with_object(path):  # may hold JSON lines
        for line, row in read_json_list(path, errors):
            yield f"{path}:{line}", row
        return
    if path.exists() or str(source).endswith((".jsonl", ".jsonl.gz")):
        for line, row in read_jsonl(path, errors):
            yield f"{path}:{line}", row
        return
    name, _, split = str(source).partition(":")
    import datasets

    ds = datasets.load_dataset(name, config, split=split or "train")
    for i, row in enumerate(ds):
        yield f"{name}[{split or 'train'}]#{i}", dict(row)


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
            _fail(e, errors)
            continue
        if ex is not None:
            out.append(ex)
    return out


def chat(user: str, system: str | None = None) -> tuple[dict[str, str], ...]:
    """Chat messages of one user turn, after an optional system prompt."""
    msgs = ({"role": "system", "content": system},) if system else ()
    return msgs + ({"role": "user", "content": user},)


GSM8K_INSTRUCTION = "Solve the problem step by step. End with a final line of the form '#### <number>'."


def gsm8k_final_answer(answer: str, where: str) -> str:
    """The number after the last `####` of a GSM8K rationale (thousands separators removed)."""
    if "####" not in answer:
        raise DataError(f"{where}: field 'answer' has no '#### <final answer>' line")
    return answer.rsplit("####", 1)[1].strip().replace(",", "")


def load_gsm8k(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
               instruction: str = GSM8K_INSTRUCTION, task: str = "math",
               errors: RowErrors | None = None) -> list[Example]:
    """GSM8K rows (`question`, `answer` ending in `#### N`) as math examples; reference = final answer."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        question = require(row, "question", where)
        answer = require(row, "answer", where)
        final = gsm8k_final_answer(answer, where)
        prompt = f"{question}\n\n{instruction}" if instruction else question
        return Example(chat(prompt, system_prompt), final, task, {"rationale": answer}, f"gsm8k:{where}")

    return collect(iter_rows(path, config="main", errors=errors), convert, limit=limit, errors=errors)


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
