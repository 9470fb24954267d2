"""Guest reports are checked on the host: wrong type, shape, size or nesting becomes a `protocol` failure."""

from __future__ import annotations

import json
import math

import pytest

from rlar_jax.sandbox.reports import MESSAGE_CAP, TRACEBACK_CAP, ProtocolError, clip, read_batch, report_cap, \
    result_from_report, single_report

CAP = 4096
ONE = "000000000000f03f"  # float64 1.0, little-endian hex
HUGE = json.dumps({"score": None, "kind": "exception", "message": "x" * 60_000_000, "traceback": "",
                   "output": "", "seconds": 0.0})


@pytest.mark.parametrize("payload,needle", [
    ("7", "got int"),
    ("[0]", "6 fields, got 1"),
    ("[1, 2]", "6 fields, got 2"),
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),  # the decoder's recursion guard, caught
    ("[" * 300_000 + "]" * 300_000, "exceeds"),  # over the size cap: never parsed
    (HUGE, "exceeds"),
    ("not json", "not valid JSON"),
    ('{"score": null, "kind": "fuel", "message": "", "traceback": "", "output": "", "seconds": 0}', "error kind"),
    ('{"score": null, "kind": 3}', "kind must be a string"),
    ('{"message": 7}', "message must be a string"),
    ('{"seconds": -1}', "seconds"),
    ('{"extra": 1}', "unexpected report fields"),
])
def test_malformed_single_reports_become_protocol_failures(payload, needle):
    res = single_report(payload, CAP, 0.5)
    assert res.error_kind == "protocol" and math.isnan(res.score) and res.seconds == 0.5
    assert needle in res.message and len(res.message) <= MESSAGE_CAP


def test_well_formed_reports_keep_their_meaning_and_are_capped():
    res = result_from_report({"score": None, "kind": "exception", "message": "m" * 100_000,
                              "traceback": "t" * 100_000, "output": "o" * 100_000, "seconds": 0.25}, CAP)
    assert res.error_kind == "exception" and res.seconds == 0.25
    assert len(res.message.encode()) <= MESSAGE_CAP + 20 and len(res.traceback.encode()) <= TRACEBACK_CAP + 20
    assert len(res.output.encode()) <= CAP + 30 and res.output.endswith("[output truncated]")
    ok = result_from_report([0.75, None, "", "", "printed", 0.0], CAP, 1.0)
    assert ok.ok and ok.score == 0.75 and ok.output == "printed" and ok.seconds == 1.0
    for bad in (1.5, "1.0", True, None, float("nan"), 10 ** 100):
        assert result_from_report([bad, None, "", "", "", 0.0], CAP).error_kind == "invalid_score"
    assert clip("é" * 10, 5) == "éé\n[truncated]"


@pytest.mark.parametrize("rest,needle", [
    ("7", "must be an object, got int"),
    ("[0]", "must be an object, got list"),
    ('{"2": null}', "not in the batch"),
    ('{"²": null}', "not in the batch"),
    ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
])
def test_malformed_batch_replies_raise_protocol_error(rest, needle):
    with pytest.raises(ProtocolError, match=needle):
        read_batch(ONE * 2 + "\n" + rest, 2, CAP, 1.0)


def test_batch_reply_shape_is_checked_and_bad_rows_fail_alone():
    for payload, needle in (("", "no score line"), (ONE + "\n{}", "1 scores for 2 rows"), ("zz" * 16 + "\n{}", "hex")):
        with pytest.raises(ProtocolError, match=needle):
            read_batch(payload, 2, CAP, 1.0)
    results = read_batch(ONE * 3 + '\n{"1": 7, "2": [null, "exception", "boom", "", "", 0.0]}', 3, CAP, 3.0)
    assert [r.error_kind for r in results] == [None, "protocol", "exception"]
    assert results[0].score == 1.0 and results[0].seconds == 1.0 and results[2].message == "boom"
    assert report_cap(CAP) < 2 << 20  # a report over ~1 MiB is never parsed for the test limits
