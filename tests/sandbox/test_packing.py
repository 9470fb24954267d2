"""Packed batches: what crosses into the guest arrives intact, and every row keeps its own report."""

from __future__ import annotations

import json
import math
import zlib
from array import array

import pytest

from rlar_jax.sandbox.packing import checked_rows, pack, unpack_scores

# Echoes every field back through the score: the row's texts and meta, hashed into [0, 1].
ECHO = """import json, zlib
def score(prompt, response, reference, meta):
    blob = json.dumps([prompt, response, reference, meta], sort_keys=True)
    return zlib.crc32(blob.encode('utf-8', 'surrogatepass')) / 2**32
"""


def _expected(prompt, response, reference, meta):
    blob = json.dumps([prompt, response, reference, meta], sort_keys=True)
    return zlib.crc32(blob.encode("utf-8", "surrogatepass")) / 2**32


def test_pack_sends_equal_texts_once_and_keeps_code_point_lengths():
    rows = checked_rows([dict(prompt="Q ✓", response=f"r{i}", reference="ref", meta={}) for i in range(8)], "t")
    texts, layout = pack(rows)
    # "{}" + the shared prompt and reference once + 8 responses
    assert texts == "{}Q ✓r0ref" + "".join(f"r{i}" for i in range(1, 8))
    nums = list(array("I", bytes.fromhex(layout)))
    assert nums[:5] == [11, 2, 3, 2, 3]  # 11 texts; "Q ✓" is 3 code points
    assert nums[12:20] == [1, 2, 3, 0, 1, 4, 3, 0]  # rows 0 and 1: prompt, response, reference, meta


def test_unpack_scores_reads_hex_doubles():
    values = [0.0, 1.0, 0.1234567890123, math.nan]
    got = unpack_scores(array("d", values).tobytes().hex())
    assert list(got[:3]) == values[:3] and math.isnan(got[3])


def test_batch_delivers_every_field_intact(sandbox):
    tricky = ["", "{}", "plain", "é✓ 漢字 🙂 e\u0301", "line\nbreak\ttab \\ \"quote\"", "x" * 5000, "[1, 2]", "\x00nul"]
    metas = [{}, {"a": 1}, {"nested": {"b": [0, 0.5]}, "s": "🙂"}, {}]
    data = [dict(prompt=tricky[i % len(tricky)], response=tricky[(i * 3) % len(tricky)],
                 reference=tricky[(i * 5) % len(tricky)], meta=metas[i % len(metas)]) for i in range(40)]
    got = [r.score for r in sandbox.score_batch(ECHO, data)]
    want = [_expected(d["prompt"], d["response"], d["reference"], d["meta"]) for d in data]
    assert got == pytest.approx(want, abs=0)
    singles = [sandbox.score(ECHO, **d).score for d in data[:8]]
    assert singles == got[:8]


def test_lone_surrogates_arrive_as_question_marks_with_lengths_kept(sandbox):
    data = [dict(prompt="a\ud800b", response="ok", reference="c", meta={}), dict(prompt="p", response="ok", reference="c")]
    got = [r.score for r in sandbox.score_batch(ECHO, data)]
    assert got == [_expected("a?b", "ok", "c", {}), _expected("p", "ok", "c", {})]


def test_failed_rows_keep_their_own_reports_in_a_batch(sandbox):
    src = ("def score(p, response, ref, meta):\n"
           "    if response == 'raise':\n        raise ValueError('bad row ' + p)\n"
           "    if response == 'print':\n        print('hello from', p)\n        return 0.5\n"
           "    if response == 'nan':\n        return float('nan')\n"
           "    if response == 'big':\n        return 3\n"
           "    if response == 'str':\n        return '1.0'\n"
           "    return 0.25\n")
    kinds = ["ok", "raise", "ok", "print", "nan", "big", "str", "ok"]
    data = [dict(prompt=f"p{i}", response=k, reference="", meta={}) for i, k in enumerate(kinds)]
    res = sandbox.score_batch(src, data)
    assert [r.error_kind for r in res] == [None, "exception", None, None, "invalid_score", "invalid_score",
                                           "invalid_score", None]
    assert "ValueError: bad row p1" in res[1].message and "line 3" in res[1].traceback
    assert res[3].score == 0.5 and res[3].output.strip() == "hello from p3"
    assert all(r.output == "" for i, r in enumerate(res) if i != 3)
    assert [r.score for r in res if r.ok] == [0.25, 0.25, 0.5, 0.25]
    assert all(math.isnan(r.score) for r in res if not r.ok)
    assert all(r.seconds > 0 for r in res)
