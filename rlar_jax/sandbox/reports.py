"""Reading what the guest sends back: no byte of it is trusted.

A verifier runs in the same interpreter as the guest's reporting code and can rewrite it (that code is
reachable through frames and the garbage collector, whatever the guest does to hide it), so every
report is checked here for type, shape, size and nesting before use. A report that fails a check
becomes that row's failed result of kind `protocol`; nothing a guest sends makes the host raise, and
what the host keeps of a message, traceback or output is capped.
"""

from __future__ import annotations

import json
import math

from rlar_jax.sandbox.limits import ERROR_KINDS, ScoreResult
from rlar_jax.sandbox.packing import unpack_scores

MESSAGE_CAP = 4096  # bytes of a guest message kept on the host
TRACEBACK_CAP = 16384  # bytes of a guest traceback kept on the host
_GUEST_KINDS = frozenset(ERROR_KINDS) - {"fuel", "deadline", "protocol", "integrity"}  # kinds a guest may report
_FIELDS = ("score", "kind", "message", "traceback", "output", "seconds")


class ProtocolError(Exception):
    """A guest reply that is not what the protocol allows (the message says what was wrong)."""


def report_cap(output_bytes: int) -> int:
    """Largest single report the host parses: output, message and traceback, each char JSON-escaped
    to at most 12 bytes (a surrogate pair's two \\uHHHH escapes), plus the frame."""
    return 12 * (output_bytes + 2 * TRACEBACK_CAP) + 4096


def clip(text: str, cap: int, marker: str = "\n[truncated]") -> str:
    """`text` cut to at most `cap` UTF-8 bytes (plus `marker` when cut)."""
    if len(text) <= cap // 4:  # no str of this length can exceed cap bytes
        return text
    raw = text.encode("utf-8", errors="replace")
    if len(raw) <= cap:
        return text
    return raw[:cap].decode("utf-8", errors="ignore") + marker


def load_json(text, cap: int, what: str):
    """json.loads of a guest reply, or ProtocolError when it is not a str, too large, too deeply nested
    (the C decoder raises RecursionError past the recursion limit) or not JSON."""
    if not isinstance(text, str):
        raise ProtocolError(f"{what} is a {type(text).__name__}, not text")
    if len(text) > cap:
        raise ProtocolError(f"{what} of {len(text)} characters exceeds the host's limit of {cap}")
    try:
        return json.loads(text)
    except RecursionError:
        raise ProtocolError(f"{what} is nested too deeply") from None
    except (ValueError, MemoryError) as exc:
        raise ProtocolError(f"{what} is not valid JSON ({str(exc)[:100]})") from None


def protocol_failure(problem: str, seconds: float = 0.0) -> ScoreResult:
    """The failed result a malformed guest reply becomes."""
    return ScoreResult.failure("protocol", clip(f"malformed report from the guest: {problem}", MESSAGE_CAP),
                               seconds=seconds)


def _fields(report) -> tuple:
    if isinstance(report, list):
        if len(report) != 6:
            raise ProtocolError(f"a report row must have 6 fields, got {len(report)}")
        return tuple(report)
    if isinstance(report, dict):
        if not set(report) <= set(_FIELDS):
            raise ProtocolError(f"unexpected report fields {sorted(map(str, set(report) - set(_FIELDS)))[:5]}")
        return tuple(report.get(k, d) for k, d in zip(_FIELDS, (None, None, "", "", "", 0.0)))
    raise ProtocolError(f"a report must be an object or a 6-field row, got {type(report).__name__}")


def result_from_report(report, output_cap: int, seconds: float | None = None) -> ScoreResult:
    """Turn a decoded guest report (object, or a batch row's [score, kind, message, traceback, output,
    seconds]) into a ScoreResult, re-checking every field; malformed reports become `protocol` failures."""
    try:
        score, kind, message, tb, output, guest_seconds = _fields(report)
        for name, value in (("message", message), ("traceback", tb), ("output", output)):
            if not isinstance(value, str):
                raise ProtocolError(f"{name} must be a string, got {type(value).__name__}")
        if isinstance(guest_seconds, bool) or not isinstance(guest_seconds, (int, float)) \
                or not math.isfinite(guest_seconds) or guest_seconds < 0:
            raise ProtocolError("seconds must be a finite number >= 0")
        if kind is not None and kind not in _GUEST_KINDS:
            raise ProtocolError(f"unknown error kind {clip(str(kind), 40)!r}" if isinstance(kind, str)
                                else f"kind must be a string or null, got {type(kind).__name__}")
    except ProtocolError as exc:
        return protocol_failure(str(exc), seconds or 0.0)
    seconds = float(guest_seconds) if seconds is None else seconds
    output = clip(output, output_cap, "\n[output truncated]")
    if kind is not None:
        return ScoreResult.failure(kind, clip(message, MESSAGE_CAP), clip(tb, TRACEBACK_CAP), seconds, output)
    return checked_score(score, seconds, output)


def checked_score(score, seconds: float, output: str = "") -> ScoreResult:
    """Host-side re-check of a score from the guest (the guest's own check could be tampered with)."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0.0 <= score <= 1.0:
        if isinstance(score, int) and score.bit_length() > 64:  # repr of a huge int is slow or refused
            shown = f"an int of {score.bit_length()} bits"
        else:
            shown = repr(score) if isinstance(score, (int, float, type(None))) else type(score).__name__
        return ScoreResult.failure("invalid_score", f"score must be a finite number in [0, 1], got {shown}",
                                   seconds=seconds, output=output)
    return ScoreResult(float(score), None, "", "", seconds, output)


def single_report(payload, output_cap: int, seconds: float) -> ScoreResult:
    """The result of a single call's Err payload (a JSON report)."""
    try:
        report = load_json(payload, report_cap(output_cap), "the report")
    except ProtocolError as exc:
        return protocol_failure(str(exc), seconds)
    return result_from_report(report, output_cap, seconds)


def read_batch(payload, n: int, output_cap: int, seconds: float) -> list[ScoreResult]:
    """Results from the guest's batch reply (hex float64 scores, then JSON reports of the other rows);
    each row is given an equal share of the batch's `seconds`. Raises ProtocolError when the reply as a
    whole is malformed (the caller then reruns the rows one by one); a malformed row report fails only
    that row."""
    if not isinstance(payload, str) or "\n" not in payload:
        raise ProtocolError("the batch reply has no score line")
    head, rest = payload.split("\n", 1)
    if len(head) != 16 * n:
        raise ProtocolError(f"the batch reply has {len(head) // 16} scores for {n} rows")
    try:
        scores = unpack_scores(head)
    except ValueError:
        raise ProtocolError("the batch reply's score line is not hex") from None
    reports = {} if rest == "{}" else load_json(rest, n * report_cap(output_cap), "the batch report")
    if not isinstance(reports, dict):
        raise ProtocolError(f"the batch report must be an object, got {type(reports).__name__}")
    if any(not (k.isascii() and k.isdigit() and int(k) < n) for k in reports):
        raise ProtocolError("the batch report names rows that are not in the batch")
    share = seconds / n
    results = []
    for i, v in enumerate(scores):
        if 0.0 <= v <= 1.0 and not reports:
            results.append(ScoreResult(v, None, "", "", share, ""))
        else:
            report = reports.get(str(i))
            results.append(checked_score(v, share) if report is None else result_from_report(report, output_cap, share))
    return results
