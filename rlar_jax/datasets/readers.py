"""Row readers: local JSONL / JSON-list / plain-text files (gzip-compressed or not) and Hugging Face
datasets, yielding each row with where it came from ("file:line"), and where a data path points.

Rows are plain dicts; the loaders of `rlar_jax.datasets.problems` and `rlar_jax.datasets.text` turn them
into `Example`s.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from rlar_jax.datasets.examples import DataError, RowErrors, raise_or_skip
from rlar_jax.datasets.registry import PROJECT_ROOT, DatasetError, parse_spec, resolve


def resolve_path(path: str, base: str | Path | None = None) -> str:
    """Where a data source's rows are. A registry name (`gsm8k:train`, see `rlar_jax.datasets.registry`)
    becomes its bundled file; a relative path is looked up under `base` (the config file's directory),
    then the working directory, then the project root; anything else (a hub name, a missing file) is
    returned as given, and the loader names it."""
    bases = [Path(b) for b in (base, Path.cwd(), PROJECT_ROOT) if b is not None]
    try:
        return resolve(str(path), bases)
    except DatasetError as e:
        if parse_spec(str(path)) is not None:
            raise DataError(str(e)) from e
        return str(path)


def open_text(path: str | Path) -> IO[str]:
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
                raise_or_skip(DataError(f"{path}:{i}: invalid JSON ({e.msg})"), errors, e)
                continue
            if not isinstance(row, dict):
                raise_or_skip(DataError(f"{path}:{i}: expected a JSON object, got {type(row).__name__}"), errors)
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
            raise_or_skip(DataError(f"{path}:{line}: expected a JSON object, got {type(row).__name__}"), errors)
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
