"""The in-process sandbox: one wasmtime engine, the compiled guest, live instances per verifier."""

from __future__ import annotations

import atexit
import dataclasses
import math
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from rlar_jax.sandbox.build import engine_config, ensure_guest
from rlar_jax.sandbox.host import guest_linker
from rlar_jax.sandbox.instance import DefineError, GuestTrap, VerifierInstance
from rlar_jax.sandbox.library import source_sha256
from rlar_jax.sandbox.limits import Limits, ScoreResult, ValidationReport
from rlar_jax.sandbox.packing import check_text, checked_rows, meta_json, pack

# Epoch tick period: the wall-clock deadline's resolution.
TICK_S = 0.01
_LIVE: "weakref.WeakSet[Sandbox]" = weakref.WeakSet()


def _close_all() -> None:
    # A Store still alive when the interpreter tears down can make wasmtime abort with "panic in a
    # function that cannot unwind"; closing everything first avoids it.
    for sandbox in list(_LIVE):
        sandbox.close()


atexit.register(_close_all)


def _tick(engine: wasmtime.Engine, stop: threading.Event) -> None:
    """Advance the engine's epoch every TICK_S until `stop` is set (the deadline's clock)."""
    while not stop.wait(TICK_S):
        engine.increment_epoch()


class Sandbox:
    """Runs verifier sources inside WebAssembly guests; one per process (see SandboxPool for more).

    Each distinct source (by sha256) gets one live guest instance that keeps its state between calls;
    instances that trap are discarded and recreated on the next call. Thread-safe (calls serialise).
    """

    def __init__(self, limits: Limits | None = None, home: Path | None = None, *, max_instances: int = 32,
                 batch_size: int = 256, batch_budget_calls: int = 16) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        if max_instances < 1 or batch_size < 1 or batch_budget_calls < 1:
            raise ValueError("max_instances, batch_size and batch_budget_calls must be >= 1")
        self.limits = limits or Limits()
        self.max_instances = max_instances
        self.batch_size = batch_size
        # A batch call's deadline is that of min(rows, batch_budget_calls) single calls and its fuel is
        # sized from the fuel rows used so far (see VerifierInstance.batch_fuel).
        self.batch_budget_calls = batch_budget_calls
        self._lock = threading.RLock()
        self._instances: OrderedDict[str, VerifierInstance] = OrderedDict()
        self._define_failures: OrderedDict[str, ScoreResult] = OrderedDict()
        self._shas: dict[str, str] = {}
        self._closed = False
        self.guest_path = ensure_guest(home).path
        self.engine = wasmtime.Engine(engine_config(self.limits.max_stack_bytes))
        try:
            self.component = Component.deserialize_file(self.engine, str(self.guest_path))
        except wasmtime.WasmtimeError:  # a stale or truncated artifact: rebuild once
            self.guest_path = ensure_guest(home, force=True).path
            self.component = Component.deserialize_file(self.engine, str(self.guest_path))
        self.linker = guest_linker(self.engine, self.component)
        self._ticks = max(1, math.ceil(self.limits.deadline_s / TICK_S)) + 1
        self._stop = threading.Event()
        # The ticker holds only the engine and its stop event, so a Sandbox dropped without close()
        # can still be collected; the finalizer then stops the thread.
        self._ticker = threading.Thread(target=_tick, args=(self.engine, self._stop), name="rlar-sandbox-epoch",
                                        daemon=True)
        self._ticker.start()
        weakref.finalize(self, self._stop.set)
        _LIVE.add(self)

    # -- instances -------------------------------------------------------------------------------
    def _instance(self, source: str, sha: str) -> VerifierInstance:
        inst = self._instances.get(sha)
        if inst is not None and inst.alive:
            self._instances.move_to_end(sha)
            return inst
        failure = self._define_failures.get(sha)
        if failure is not None:
            raise DefineError(dataclasses.replace(failure))
        try:
            inst = VerifierInstance(self.engine, self.linker, self.component, source, self.limits, self._ticks)
        except DefineError as exc:
            if exc.result.error_kind != "deadline":  # everything else fails the same way next time
                self._define_failures[sha] = exc.result
                while len(self._define_failures) > 256:
                    self._define_failures.popitem(last=False)
            raise
        self._instances[sha] = inst
        while len(self._instances) > self.max_instances:
            _, old = self._instances.popitem(last=False)
            old.close()
        return inst

    def _sha(self, source: str) -> str:
        # Hashing a several-KB source on every call would cost more than a short verifier call;
        # a dict lookup reuses the str's cached hash.
        sha = self._shas.get(source)
        if sha is None:
            if len(self._shas) >= 1024:
                self._shas.clear()
            sha = self._shas[source] = source_sha256(source)
        return sha

    def _drop(self, sha: str) -> None:
        inst = self._instances.pop(sha, None)
        if inst is not None:
            inst.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Sandbox is closed")

    # -- public API ------------------------------------------------------------------------------
    def score(self, source: str, prompt: str, response: str, reference: str, meta: dict | None = None) -> ScoreResult:
        """Score one (prompt, response, reference, meta) with the verifier `source`; never raises for
        verifier failures (they come back as a ScoreResult with `error_kind`)."""
        check_text(source, "source", "Sandbox.score")
        for name, value in (("prompt", prompt), ("response", response), ("reference", reference)):
            check_text(value, name, "Sandbox.score")
        meta_text = meta_json(meta, "Sandbox.score")
        with self._lock:
            self._check_open()
            return self._score_one(source, self._sha(source), prompt, response, reference, meta_text)

    def _score_one(self, source: str, sha: str, prompt: str, response: str, reference: str,
                   meta_json: str) -> ScoreResult:
        try:
            inst = self._instance(source, sha)
        except DefineError as exc:
            return exc.result
        try:
            return inst.score(prompt, response, reference, meta_json)
        except GuestTrap as exc:
            self._drop(sha)
            return exc.result

    def score_batch(self, source: str, rows: list[dict]) -> list[ScoreResult]:
        """Score many rows (dicts with prompt, response, reference and optional meta), in order.

        Rows go to the guest in chunks of `batch_size`; a chunk that traps is rerun row by row so
        only the culprit rows fail, and the rest of the call then runs row by row. Each row of a chunk
        reports an equal share of the chunk's time (reading a clock per row in the guest would cost
        more than a short verifier call).
        """
        check_text(source, "source", "Sandbox.score_batch")
        packed = checked_rows(rows, "Sandbox.score_batch")
        results: list[ScoreResult] = []
        with self._lock:
            self._check_open()
            sha = self._sha(source)
            singly = False
            for lo in range(0, len(packed), self.batch_size):
                chunk = packed[lo:lo + self.batch_size]
                if not singly and len(chunk) > 1:
                    try:
                        inst = self._instance(source, sha)
                    except DefineError as exc:
                        return results + [dataclasses.replace(exc.result) for _ in packed[lo:]]
                    if inst.fuel_per_row == 0:
                        # Probe with one row so the batch's fuel can be sized from a measurement.
                        results.append(self._score_one(source, sha, *chunk[0]))
                        chunk = chunk[1:]
                        inst = self._instances.get(sha)
                        if inst is None or not chunk:
                            singly = inst is None
                            results.extend(self._score_one(source, sha, *row) for row in chunk)
                            continue
                    texts, layout = pack(chunk)
                    try:
                        results.extend(inst.score_batch(texts, layout, len(chunk), self.batch_budget_calls))
                        continue
                    except GuestTrap:
                        self._drop(sha)
                        singly = True
                results.extend(self._score_one(source, sha, *row) for row in chunk)
        return results

    def validate(self, source: str) -> ValidationReport:
        """Run the verifier's CASES; see `rlar_jax.sandbox.validation`."""
        from rlar_jax.sandbox.validation import validate_source

        check_text(source, "source", "Sandbox.validate")
        with self._lock:
            self._check_open()
            return validate_source(self, source)

    def live_instances(self) -> int:
        """Number of live guest instances."""
        return len(self._instances)

    def close(self) -> None:
        """Stop the epoch ticker and free every store (idempotent; also runs at interpreter exit)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stop.set()
            for inst in self._instances.values():
                inst.close()
            self._instances.clear()
        self._ticker.join(timeout=1.0)
        _LIVE.discard(self)

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
