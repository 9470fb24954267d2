"""One live guest instance holding one defined verifier.

Each instance has its own wasmtime Store (memory limit, fuel, epoch deadline) and its own interpreter,
so whatever a verifier does to its builtins or to the guest runtime stays inside it. An instance that
trapped is unusable and is closed by its owner.
"""

from __future__ import annotations

import json
import math
import time

import wasmtime
from wasmtime.component import Component, Linker

from rlar_jax.sandbox.abi import Export, StoreHandle
from rlar_jax.sandbox.host import REFUSED
from rlar_jax.sandbox.limits import Limits, ScoreResult
from rlar_jax.sandbox.packing import unpack_scores


class GuestTrap(Exception):
    """The guest trapped (the instance is dead); `result` describes it as a failed ScoreResult."""

    def __init__(self, result: ScoreResult) -> None:
        super().__init__(result.message)
        self.result = result


class DefineError(Exception):
    """The verifier did not define; `result` is the failed ScoreResult every call of it gets."""

    def __init__(self, result: ScoreResult) -> None:
        super().__init__(result.message)
        self.result = result


def classify_trap(exc: wasmtime.WasmtimeError) -> tuple[str, str]:
    """(error kind, one-line message) for a wasmtime error raised by a guest call."""
    if isinstance(exc, wasmtime.ExitTrap):
        status = "success" if exc.code == 0 else "failure"
        return "exit", f"the verifier exited the guest process (exit status: {status})"
    text = str(exc)
    if REFUSED in text:
        return "exception", REFUSED
    cause = text.strip().splitlines()[-1].strip() if text.strip() else "unknown trap"
    lowered = text.lower()
    if "all fuel consumed" in lowered:
        return "fuel", f"fuel budget exhausted ({cause})"
    if "interrupt" in lowered:
        return "deadline", f"wall-clock deadline exceeded ({cause})"
    if "call stack exhausted" in lowered or "stack overflow" in lowered:
        return "stack", f"wasm stack exhausted ({cause})"
    if "memory" in lowered and ("limit" in lowered or "out of" in lowered or "grow" in lowered):
        return "memory", f"memory limit reached ({cause})"
    return "exception", f"the guest trapped: {cause}"


def _clip_output(text: str, cap: int) -> str:
    raw = text.encode("utf-8")
    if len(raw) <= cap:
        return text
    return raw[:cap].decode("utf-8", errors="ignore") + "\n[output truncated]"


def result_from_report(report: dict | list, output_cap: int, seconds: float | None = None) -> ScoreResult:
    """Turn a guest JSON report (object, or a batch row's [score, kind, message, traceback, output,
    seconds]) into a ScoreResult, re-checking the score."""
    if isinstance(report, list):
        score, kind, message, tb, output, guest_seconds = report
    else:
        score, kind, message, tb, output, guest_seconds = (
            report.get("score"), report.get("kind"), report.get("message", ""), report.get("traceback", ""),
            report.get("output", ""), report.get("seconds", 0.0))
    seconds = float(guest_seconds or 0.0) if seconds is None else seconds
    output = _clip_output(str(output or ""), output_cap)
    if kind is not None:
        kind = kind if kind in ("exception", "memory", "stack", "exit", "invalid_score", "define") else "exception"
        return ScoreResult.failure(kind, str(message), str(tb or ""), seconds, output)
    return checked_score(score, seconds, output)


def checked_score(score, seconds: float, output: str = "") -> ScoreResult:
    """Host-side re-check of a score from the guest (the guest's own check could be tampered with)."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) \
            or not 0.0 <= score <= 1.0:
        return ScoreResult.failure("invalid_score", f"score must be a finite number in [0, 1], got {score!r}"[:300],
                                   seconds=seconds, output=output)
    return ScoreResult(float(score), None, "", "", seconds, output)


def _read_batch(payload: str, n: int, output_cap: int, seconds: float) -> list[ScoreResult]:
    """Results from the guest's batch reply (hex float64 scores, then JSON reports of the other rows);
    each row is given an equal share of the batch's `seconds`."""
    head, rest = payload.split("\n", 1)
    scores = unpack_scores(head)
    if len(scores) != n:
        raise ValueError("wrong length")
    reports = json.loads(rest) if rest != "{}" else {}
    share = seconds / n
    results = []
    for i, v in enumerate(scores):
        if 0.0 <= v <= 1.0 and not reports:
            results.append(ScoreResult(v, None, "", "", share, ""))
        else:
            report = reports.get(str(i))
            results.append(checked_score(v, share) if report is None else
                           result_from_report(report, output_cap, share))
    return results


class VerifierInstance:
    """A guest instance with one verifier defined in it. Not thread-safe (the Sandbox serialises)."""

    def __init__(self, engine: wasmtime.Engine, linker: Linker, component: Component, source: str,
                 limits: Limits, ticks_per_call: int) -> None:
        self.limits = limits
        self.ticks = ticks_per_call
        self.alive = True
        self.fuel_per_row = 0  # largest average fuel per row seen so far (0 = nothing measured yet)
        self.store = wasmtime.Store(engine)
        self.store.set_wasi(wasmtime.WasiConfig())  # no preopens, no env, no inherited stdio
        self.store.set_limits(memory_size=limits.memory_bytes)
        self.handle = StoreHandle(self.store)
        start = time.perf_counter()
        try:
            self._arm(1)
            instance = linker.instantiate(self.store, component)
            self._define = Export(instance, self.handle, "define")
            self._cases = Export(instance, self.handle, "cases")
            self._score = Export(instance, self.handle, "score")
            self._batch = Export(instance, self.handle, "score-batch")
            ok, payload = self._define(source, min(limits.output_bytes, (1 << 31) - 1))
        except wasmtime.WasmtimeError as exc:
            self.close()
            kind, message = classify_trap(exc)
            raise DefineError(ScoreResult.failure(kind, "while defining the verifier: " + message,
                                                  seconds=time.perf_counter() - start)) from None
        if not ok:
            self.close()
            result = result_from_report(json.loads(payload), limits.output_bytes, time.perf_counter() - start)
            raise DefineError(result)
        self.define_seconds = time.perf_counter() - start

    def _arm(self, calls: int, fuel: int | None = None) -> int:
        # Fuel and deadline are re-armed before every call: a call never inherits leftovers.
        fuel = self.limits.fuel * calls if fuel is None else fuel
        self.handle.set_fuel(fuel)
        self.handle.set_epoch_deadline(self.ticks * calls)
        return fuel

    def _observe(self, budget: int, rows: int) -> None:
        used = budget - self.handle.get_fuel()
        self.fuel_per_row = max(self.fuel_per_row, used // max(rows, 1))

    def batch_fuel(self, rows: int, max_calls: int) -> int:
        """Fuel for a batch: one call's budget plus 8x the rows' expected use (once measured), so a row
        that loops wastes about one call's budget before the batch is retried row by row."""
        cap = self.limits.fuel * rows
        if self.fuel_per_row == 0:
            return min(cap, self.limits.fuel * max_calls)
        return min(cap, self.limits.fuel + 8 * rows * self.fuel_per_row)

    def _trap(self, exc: wasmtime.WasmtimeError, start: float) -> GuestTrap:
        self.close()
        kind, message = classify_trap(exc)
        return GuestTrap(ScoreResult.failure(kind, message, seconds=time.perf_counter() - start))

    def score(self, prompt: str, response: str, reference: str, meta_json: str) -> ScoreResult:
        """Score one row; raises GuestTrap if the instance died doing so."""
        start = time.perf_counter()
        budget = self._arm(1)
        try:
            ok, payload = self._score(prompt, response, reference, meta_json)
        except wasmtime.WasmtimeError as exc:
            raise self._trap(exc, start) from None
        seconds = time.perf_counter() - start
        self._observe(budget, 1)
        if ok:
            return checked_score(payload, seconds)
        try:
            report = json.loads(payload)
        except ValueError:
            return ScoreResult.failure("exception", "malformed report from the guest", seconds=seconds)
        return result_from_report(report, self.limits.output_bytes, seconds)

    def score_batch(self, texts: str, layout: str, n: int, max_calls: int) -> list[ScoreResult]:
        """Score `n` packed rows (see `rlar_jax.sandbox.packing`) in one guest call; the deadline is
        `min(n, max_calls)` calls'."""
        start = time.perf_counter()
        budget = self._arm(min(n, max_calls), self.batch_fuel(n, max_calls))
        try:
            payload = self._batch(texts, layout)
        except wasmtime.WasmtimeError as exc:
            raise self._trap(exc, start) from None
        seconds = time.perf_counter() - start
        self._observe(budget, n)
        try:
            return _read_batch(payload, n, self.limits.output_bytes, seconds)
        except (ValueError, TypeError, KeyError):
            # A verifier that broke the guest's reporting: treat like a trap so rows are retried singly.
            self.close()
            raise GuestTrap(ScoreResult.failure("exception", "malformed batch report from the guest",
                                                seconds=time.perf_counter() - start)) from None

    def cases(self) -> tuple[bool, str]:
        """(True, CASES as JSON) or (False, JSON report)."""
        self._arm(1)
        try:
            return self._cases()
        except wasmtime.WasmtimeError as exc:
            raise self._trap(exc, time.perf_counter()) from None

    def close(self) -> None:
        """Free the store (idempotent)."""
        self.alive = False
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
            self.store = None
