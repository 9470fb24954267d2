"""Guest application: runs inside the WebAssembly component, one interpreter per verifier.

The host passes a verifier's source to `define`, which execs it as module `verifier`; `score` and
`score_batch` then call its `score(prompt, response, reference, meta)`. Every failure is reported as
JSON (kind, message, traceback, captured output) rather than escaping as a trap, except the ones the
host enforces from outside (fuel, epoch deadline, memory growth, wasm stack, proc_exit).

Only modules imported while the component is built exist at run time, so the standard-library modules
verifiers may use are imported below at build time.

Nothing here is a security boundary against the verifier: it shares this interpreter and can reach and
rewrite this module. The host checks every report (rlar_jax/sandbox/reports.py) and audits scores
(rlar_jax/sandbox/audit.py); the private references below only keep honest reporting working when a
verifier rebinds builtins for its own use.
"""

import array
import importlib
import io
import json
import linecache
import sys
import time
import traceback
import types

import wit_world
from componentize_py_types import Err

_STDLIB = (
    "abc", "array", "ast", "base64", "binascii", "bisect", "calendar", "cmath", "codecs", "collections",
    "collections.abc", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "enum", "fractions", "functools", "graphlib", "hashlib", "heapq", "html", "html.entities",
    "html.parser", "inspect", "io", "ipaddress", "itertools", "json", "keyword", "math", "numbers",
    "operator", "os", "pathlib", "pprint", "random", "re", "reprlib", "secrets", "shlex", "socket",
    "statistics", "string", "struct", "textwrap", "tokenize", "typing", "unicodedata", "urllib.parse",
    "uuid", "weakref", "zlib",
)
for _name in _STDLIB:
    try:
        importlib.import_module(_name)
    except Exception:  # a module the guest build lacks simply stays unavailable to verifiers
        pass

# Private references, taken before any verifier runs: a verifier that rebinds json.dumps, type or
# isinstance in its own interpreter cannot change how its results are reported.
_dumps = json.dumps
_loads = json.loads
_perf = time.perf_counter
_type = type
_float = float
_int = int
_str = str
_len = len
_isinstance = isinstance
_bool = bool
_callable = callable
_list = list
_array = array.array
_fromhex = bytes.fromhex
_NAN = float("nan")
_max = max
_format_exception = traceback.format_exception
_format_exception_only = traceback.format_exception_only

FILENAME = "<verifier>"
_MESSAGE_CAP = 2000
_TRACEBACK_CAP = 8000
_TRACEBACK_FRAMES = 20
# Last-resort report when a verifier has broken even the reporting path (e.g. patched builtins).
_FALLBACK = ('{"score": null, "kind": "exception", "message": "the verifier broke the guest runtime while '
             'its result was being reported", "traceback": "", "output": "", "seconds": 0.0}')


class _Capture(io.TextIOBase):
    """stdout/stderr replacement that keeps at most `cap` characters and drops the rest cheaply."""

    def __init__(self) -> None:
        self.cap = 65536
        self.parts = []
        self.size = 0
        self.dropped = 0

    def reset(self) -> None:
        self.parts = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if _type(text) is not _str:
            raise TypeError("write() argument must be str, not " + _type(text).__name__)
        n = _len(text)
        room = self.cap - self.size
        if n <= room:
            self.parts.append(text)
            self.size += n
        else:
            if room > 0:
                self.parts.append(text[:room])
                self.size = self.cap
            self.dropped += n - _max(room, 0)
        return n

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += "\n[output truncated: %d more characters dropped]" % self.dropped
        self.reset()
        return text


def _no_blocking(*args, **kwargs):
    # The epoch deadline cannot interrupt the host while it blocks on a clock, so blocking waits are
    # refused here with a clear message; a verifier that re-imports these modules meets the host's
    # refusal instead (rlar_jax/sandbox/host.py).
    raise RuntimeError("blocking waits (time.sleep, select) are not available in the verifier sandbox")


time.sleep = _no_blocking
try:
    import select as _select

    _select.select = _no_blocking
    if hasattr(_select, "poll"):
        _select.poll = _no_blocking
except ImportError:
    pass

_CAPTURE = _Capture()
sys.stdout = _CAPTURE
sys.stderr = _CAPTURE
_state = {"score": None, "module": None}


def _kind_of(exc: BaseException, default: str) -> str:
    if _isinstance(exc, SystemExit):
        return "exit"
    if _isinstance(exc, MemoryError):
        return "memory"
    if _isinstance(exc, RecursionError):
        return "stack"
    return default


def _message_of(exc: BaseException) -> str:
    try:
        text = "%s: %s" % (_type(exc).__name__, exc)
    except BaseException:
        text = _type(exc).__name__
    return text[:_MESSAGE_CAP]


def _traceback_of(exc: BaseException, skip_frames: int) -> str:
    """Traceback text without the guest's own frames (the verifier's lines come from linecache)."""
    try:
        tb = exc.__traceback__
        for _ in range(skip_frames):
            if tb is not None:
                tb = tb.tb_next
        # Only the innermost frames: formatting a 1000-frame RecursionError costs more fuel than the call.
        lines = (_format_exception(_type(exc), exc, tb, limit=-_TRACEBACK_FRAMES) if tb is not None
                 else _format_exception_only(_type(exc), exc))
        text = "".join(lines)
    except BaseException:
        return _message_of(exc)
    if _len(text) > _TRACEBACK_CAP:
        text = "...\n" + text[-_TRACEBACK_CAP:]
    return text


def _describe(value) -> str:
    """Short, bounded description of a bad return value (never calls user-defined __repr__)."""
    t = _type(value)
    if t is _str:
        return "str %r%s" % (value[:60], "... (%d chars)" % _len(value) if _len(value) > 60 else "")
    if t is _int and value.bit_length() > 64:
        return "int with %d bits" % value.bit_length()
    if t in (_int, _float, _bool) or value is None:
        return "%s %r" % (t.__name__, value)
    return "object of type %s" % t.__name__


def _check_score(value):
    """(score, None) for a valid score, else (None, message). bool, str, NaN, inf are rejected."""
    t = _type(value)
    if t is _float:
        v = value
    elif t is _int:
        if value < 0 or value > 1:
            return None, "score must be in [0, 1], got " + _describe(value)
        v = _float(value)
    else:
        return None, "score must be an int or float in [0, 1], got " + _describe(value)
    if not (0.0 <= v <= 1.0):  # also false for NaN
        return None, "score must be a finite number in [0, 1], got " + _describe(value)
    return v, None


def _report(score, kind, message, tb, seconds) -> dict:
    return {"score": score, "kind": kind, "message": message, "traceback": tb,
            "output": _CAPTURE.take(), "seconds": seconds}


def _err(score, kind, message, tb, seconds) -> Err:
    """The Err carrying a JSON report; never raises (an uncaught exception would trap the instance)."""
    try:
        return Err(_dumps(_report(score, kind, message, tb, seconds)))
    except BaseException:
        return Err(_FALLBACK)


def _score_one(prompt, response, reference, meta):
    """Run one call; returns (score, kind, message, traceback)."""
    fn = _state["score"]
    if fn is None:
        return None, "define", "no verifier defined in this instance", ""
    try:
        value = fn(prompt, response, reference, meta)
    except BaseException as exc:
        return None, _kind_of(exc, "exception"), _message_of(exc), _traceback_of(exc, 1)
    score, problem = _check_score(value)
    if problem is not None:
        return None, "invalid_score", problem, ""
    return score, None, "", ""


class WitWorld(wit_world.WitWorld):
    def define(self, source: str, output_cap: int) -> None:
        _CAPTURE.reset()
        _CAPTURE.cap = output_cap
        start = _perf()
        if _state["module"] is not None:
            raise _err(None, "define", "this instance already holds a verifier", "", 0.0)
        linecache.cache[FILENAME] = (_len(source), None, source.splitlines(True), FILENAME)
        # Out of the verifier's obvious reach (the runtime holds its own reference to WitWorld). Frames
        # and gc still reach this module, which is why the host trusts no report and audits scores.
        sys.modules.pop(__name__, None)
        module = types.ModuleType("verifier")
        module.__file__ = FILENAME
        sys.modules["verifier"] = module  # dataclasses and friends look the module up by name
        try:
            code = compile(source, FILENAME, "exec", dont_inherit=True)
            exec(code, module.__dict__)
        except BaseException as exc:
            kind = _kind_of(exc, "define")
            raise _err(None, kind, _message_of(exc), _traceback_of(exc, 1), _perf() - start)
        fn = module.__dict__.get("score")
        if not _callable(fn):
            raise _err(None, "define", "the verifier must define a function "
                       "`score(prompt, response, reference, meta) -> float`", "", _perf() - start)
        _state["module"] = module
        _state["score"] = fn
        _CAPTURE.take()

    def cases(self) -> str:
        module = _state["module"]
        if module is None:
            raise _err(None, "define", "no verifier defined in this instance", "", 0.0)
        if "CASES" not in module.__dict__:
            raise _err(None, "define", "the verifier must define a module-level CASES list of "
                       "(prompt, response, reference, meta, expected_score)", "", 0.0)
        try:
            return _dumps(_list(module.__dict__["CASES"]))
        except BaseException as exc:
            raise _err(None, "define", "CASES must be a list of JSON-compatible tuples: " + _message_of(exc), "", 0.0)

    def score(self, prompt: str, response: str, reference: str, meta_json: str) -> float:
        # No clock reads here: the host times single calls itself.
        try:
            meta = {} if meta_json == "{}" else _loads(meta_json)
        except BaseException as exc:
            raise _err(None, _kind_of(exc, "exception"), "meta could not be decoded in the guest: "
                       + _message_of(exc), "", 0.0)
        score, kind, message, tb = _score_one(prompt, response, reference, meta)
        if kind is None and _CAPTURE.size == 0 and not _CAPTURE.dropped:
            return score
        raise _err(score, kind, message, tb, 0.0)

    def score_batch(self, texts: str, layout: str) -> str:
        # Rows arrive packed (see rlar_jax/sandbox/packing.py): `texts` concatenates the batch's distinct
        # strings and `layout` is the hex of little-endian uint32s: u, then u string lengths, then per
        # row the table indices of prompt, response, reference and meta JSON (text 0 is always "{}").
        # The reply's first line is the hex of one float64 per row (NaN where the row has a report),
        # the second a JSON object {row: [score, kind, message, traceback, output, seconds]}.
        # Converting numbers one by one in Python (int(), repr()) costs more here than a short
        # verifier call, so both directions go through array/hex in C. Rows are not timed one by one
        # for the same reason: a clock read costs more than a short verifier call.
        capture = _CAPTURE
        fn = _state["score"]
        if fn is None:
            return ""
        try:
            nums = _array("I", _fromhex(layout)).tolist()
            u = nums[0]
            table = []
            pos = 0
            for n in nums[1:u + 1]:
                table.append(texts[pos:pos + n])
                pos += n
            out = _array("d")
            put = out.append
            reports = {}
            it = iter(nums[u + 1:])
            for p, r, f, m in zip(it, it, it, it):
                try:
                    value = fn(table[p], table[r], table[f], {} if m == 0 else _loads(table[m]))
                except BaseException as exc:
                    reports[_len(out)] = [None, _kind_of(exc, "exception"), _message_of(exc), _traceback_of(exc, 1),
                                          capture.take(), 0.0]
                    put(_NAN)
                    continue
                if _type(value) is _float and 0.0 <= value <= 1.0 and not capture.size:
                    put(value)
                    continue
                score, problem = _check_score(value)
                if problem is not None:
                    reports[_len(out)] = [None, "invalid_score", problem, "", capture.take(), 0.0]
                elif capture.size:
                    reports[_len(out)] = [score, None, "", "", capture.take(), 0.0]
                else:
                    put(score)
                    continue
                put(_NAN)
            return out.tobytes().hex() + "\n" + (_dumps(reports) if reports else "{}")
        except BaseException:
            return ""  # the host retries these rows one by one, each with its own report
