"""How batch rows cross into the guest: checked on the host, then packed as text plus an index layout.

A batch goes over as two strings: the concatenation of its distinct texts, and a layout of uint32s in
hex (the number of texts and their lengths, then per row the table indices of prompt, response, reference and meta JSON).
The guest only slices, which costs far less inside WebAssembly than decoding JSON (or parsing numbers
one by one), and the prompt and reference that a GRPO group shares are sent once for the whole group.
Scores come back as hex float64s, failed rows' reports as JSON.
"""

from __future__ import annotations

import json
import sys
from array import array

_BIG_ENDIAN = sys.byteorder == "big"  # the guest (wasm) is little-endian

# A row ready for the guest: (prompt, response, reference, meta JSON).
Row = tuple[str, str, str, str]


def check_text(value, field: str, where: str) -> str:
    """`value` if it is a str, else a TypeError naming the field."""
    if not isinstance(value, str):
        raise TypeError(f"{where}: {field} must be a str, got {type(value).__name__}")
    return value


def meta_json(meta, where: str) -> str:
    """The JSON text of a row's meta dict ("{}" for None or empty); errors name `where`."""
    if meta is None:
        return "{}"
    if not isinstance(meta, dict):
        raise TypeError(f"{where}: meta must be a dict, got {type(meta).__name__}")
    if not meta:
        return "{}"
    try:
        return json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: meta must be JSON-serialisable ({exc})") from None


def _row_error(where: str, i: int, row) -> None:
    """Raise the precise error for a malformed batch row (kept off the per-row fast path)."""
    where = f"{where}: rows[{i}]"
    if not isinstance(row, dict):
        raise TypeError(f"{where} must be a dict with prompt/response/reference/meta, got {type(row).__name__}")
    for name in ("prompt", "response", "reference"):
        if name not in row:
            raise KeyError(f"{where} has no {name!r} field")
        check_text(row[name], name, where)
    raise TypeError(f"{where}: prompt/response/reference must be str")


def checked_rows(rows, where: str) -> list[Row]:
    """Validate batch rows (dicts with prompt, response, reference and optional meta) into Row tuples."""
    if not isinstance(rows, (list, tuple)):
        raise TypeError(f"{where}: rows must be a list of dicts, got {type(rows).__name__}")
    out: list[Row] = []
    for i, row in enumerate(rows):
        try:
            prompt, response, reference = row["prompt"], row["response"], row["reference"]
            meta = row.get("meta")
        except (TypeError, KeyError, AttributeError):
            _row_error(where, i, row)
        if prompt.__class__ is not str or response.__class__ is not str or reference.__class__ is not str:
            _row_error(where, i, row)
        empty = meta is None or (meta.__class__ is dict and not meta)
        out.append((prompt, response, reference, "{}" if empty else meta_json(meta, f"{where}: rows[{i}]")))
    return out


def pack(rows: list[Row]) -> tuple[str, str]:
    """(texts, layout) for the guest's `score-batch`; equal texts are sent once.

    Text 0 is always "{}" (so an empty meta needs no decoding in the guest). Lengths are in code
    points, which is what the guest's str slicing counts.
    """
    index = {"{}": 0}
    put = index.setdefault
    refs = [put(text, len(index)) for row in rows for text in row]
    layout = array("I", [len(index), *map(len, index), *refs])
    if _BIG_ENDIAN:
        layout.byteswap()
    return "".join(index), layout.tobytes().hex()


def unpack_scores(text: str) -> array:
    """The float64 per row of the guest's batch reply (hex of little-endian doubles)."""
    scores = array("d", bytes.fromhex(text))
    if _BIG_ENDIAN:
        scores.byteswap()
    return scores
