"""One live guest instance holding one defined verifier.

Each instance has its own wasmtime Store (memory limit, fuel, epoch deadline) and its own interpreter,
so whatever a verifier does to its builtins or to the guest runtime stays inside it. An instance that
trapped, or whose reply broke the protocol (see `rlar_jax.sandbox.reports`), is unusable and is closed.
"""

from __future__ import annotations

import dataclasses
import time

import wasmtime
from wasmtime.component import Component, Linker

from rlar_jax.sandbox.abi import Export, StoreHandle
from rlar_jax.sandbox.host import REFUSED
from rlar_jax.sandbox.limits import Limits, ScoreResult
from rlar_jax.sandbox.reports import MESSAGE_CAP, ProtocolError, checked_score, clip, load_json, read_batch, \
    single_report


_CASES_CAP = 16 << 20  # characters of CASES JSON the host parses


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
            raise DefineError(self._named(ScoreResult.failure(kind, "while defining the verifier: " + message,
                                                              seconds=time.perf_counter() - start))) from None
        if not ok:
            self.close()
            result = single_report(payload, limits.output_bytes, time.perf_counter() - start)
            if result.ok:  # a define failure that reports a score is itself malformed
                result = ScoreResult.failure("protocol", "malformed report from the guest: a define failure "
                                             "without an error kind", seconds=result.seconds)
            raise DefineError(self._named(result))
        self.define_seconds = time.perf_counter() - start

    def _named(self, result: ScoreResult) -> ScoreResult:
        """A memory failure names the settings that cap guest memory."""
        if result.error_kind == "memory":
            return dataclasses.replace(result, message=clip(f"{result.message} ({self.limits.memory_hint()})",
                                                            MESSAGE_CAP + 400))
        return result

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
        return GuestTrap(self._named(ScoreResult.failure(kind, message, seconds=time.perf_counter() - start)))

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
        result = single_report(payload, self.limits.output_bytes, seconds)
        if result.error_kind == "protocol":
            self.close()  # the guest's reporting code is broken: the next call gets a fresh instance
        return self._named(result)

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
            results = read_batch(payload, n, self.limits.output_bytes, seconds)
        except ProtocolError as exc:
            # A verifier that broke the guest's reporting: treat like a trap so rows are retried singly.
            self.close()
            raise GuestTrap(ScoreResult.failure("protocol", f"malformed batch report from the guest: {exc}",
                                                seconds=time.perf_counter() - start)) from None
        if any(r.error_kind == "protocol" for r in results):
            self.close()
        return [self._named(r) if r.error_kind == "memory" else r for r in results]

    def cases(self) -> tuple[list | None, ScoreResult | None]:
        """(CASES decoded from JSON, None), or (None, the failure reading them)."""
        self._arm(1)
        start = time.perf_counter()
        try:
            ok, payload = self._cases()
        except wasmtime.WasmtimeError as exc:
            raise self._trap(exc, start) from None
        if not ok:
            return None, single_report(payload, self.limits.output_bytes, time.perf_counter() - start)
        try:
            return load_json(payload, _CASES_CAP, "CASES"), None
        except ProtocolError as exc:
            return None, ScoreResult.failure("protocol", clip(f"CASES could not be read back from the guest: {exc}",
                                                              MESSAGE_CAP))

    def close(self) -> None:
        """Free the store (idempotent)."""
        self.alive = False
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
            self.store = None
