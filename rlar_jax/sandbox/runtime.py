"""The in-process sandbox: one wasmtime engine, the compiled guest, live instances per verifier."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import math
import random
import threading
import weakref
from collections import OrderedDict
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from rlar_jax.sandbox.audit import AUDIT_INTERVAL, AUDIT_ROWS, RESOURCE_KINDS, integrity_failure, mismatch, \
    pick_rows
from rlar_jax.sandbox.build import engine_config, ensure_guest
from rlar_jax.sandbox.host import guest_linker
from rlar_jax.sandbox.instance import DefineError, GuestTrap, VerifierInstance
from rlar_jax.sandbox.sources import source_sha256
from rlar_jax.sandbox.limits import Limits, ScoreResult, ValidationReport
from rlar_jax.sandbox.packing import Row, check_text, checked_rows, meta_json, pack

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
    instances that trap are discarded and recreated on the next call. At most
    `limits.total_memory_bytes // limits.memory_bytes` instances (and `max_instances`) are alive at
    once. Validation runs on fresh instances, and scoring is audited for rows whose score depends on
    other rows or on history (see `rlar_jax.sandbox.audit`). Thread-safe (calls serialise).
    """

    def __init__(self, limits: Limits | None = None, home: Path | None = None, *, max_instances: int = 32,
                 batch_size: int = 256, batch_budget_calls: int = 16, audit_rows: int = AUDIT_ROWS,
                 audit_interval: int = AUDIT_INTERVAL) -> None:
        if limits is not None and not isinstance(limits, Limits):
            raise TypeError(f"limits must be a Limits, got {type(limits).__name__}")
        if max_instances < 1 or batch_size < 1 or batch_budget_calls < 1 or audit_rows < 1:
            raise ValueError("max_instances, batch_size, batch_budget_calls and audit_rows must be >= 1")
        if audit_interval < 0:
            raise ValueError(f"audit_interval must be >= 0 (0: audit every call), got {audit_interval}")
        self.audit_rows, self.audit_interval = audit_rows, audit_interval
        self._audit_due: dict[str, int] = {}  # sha -> rows left before its next audit (absent: audit now)
        self._caught: OrderedDict[str, ScoreResult] = OrderedDict()  # sha -> its integrity failure
        self._rng = random.Random()
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
    def _new_instance(self, source: str, sha: str) -> VerifierInstance:
        failure = self._define_failures.get(sha)
        if failure is not None:
            raise DefineError(dataclasses.replace(failure))
        try:
            return VerifierInstance(self.engine, self.linker, self.component, source, self.limits, self._ticks)
        except DefineError as exc:
            if exc.result.error_kind != "deadline":  # everything else fails the same way next time
                self._define_failures[sha] = exc.result
                while len(self._define_failures) > 256:
                    self._define_failures.popitem(last=False)
            raise

    def _reserve(self, cap: int) -> None:
        """Close least recently used instances until one more fits under `cap` live instances."""
        for sha in [sha for sha, inst in self._instances.items() if not inst.alive]:
            del self._instances[sha]
        while self._instances and len(self._instances) >= cap:
            _, old = self._instances.popitem(last=False)
            old.close()

    def _instance(self, source: str, sha: str) -> VerifierInstance:
        inst = self._instances.get(sha)
        if inst is not None and inst.alive:
            self._instances.move_to_end(sha)
            return inst
        self._reserve(min(self.max_instances, self.limits.max_live_instances))
        inst = self._instances[sha] = self._new_instance(source, sha)
        return inst

    @contextlib.contextmanager
    def fresh_instance(self, source: str, sha: str | None = None):
        """A new instance of `source` that no other call sees, closed on exit (validation, audits); it
        counts against the memory cap while it lives. Raises DefineError like scoring would report it."""
        with self._lock:
            self._reserve(self.limits.max_live_instances)
            inst = self._new_instance(source, sha or self._sha(source))
            try:
                yield inst
            finally:
                inst.close()

    def _fresh_rows(self, source: str, sha: str, rows: list[Row], batch: bool) -> list[ScoreResult]:
        """Score rows in order on fresh instances (through the batch export if `batch`); after a trap the
        remaining rows go on another fresh instance, one at a time."""
        results: list[ScoreResult] = []
        while len(results) < len(rows):
            todo = rows[len(results):]
            try:
                with self.fresh_instance(source, sha) as inst:
                    if batch and len(todo) > 1:
                        batch = False
                        try:
                            results.extend(inst.score_batch(*pack(todo), len(todo), self.batch_budget_calls))
                        except GuestTrap:
                            pass  # rerun these rows singly on the next fresh instance
                        continue
                    for row in todo:
                        if not inst.alive:  # closed after a protocol failure
                            break
                        results.append(inst.score(*row))
            except DefineError as exc:
                return results + [dataclasses.replace(exc.result) for _ in todo]
            except GuestTrap as exc:
                results.append(exc.result)
        return results

    def score_fresh(self, source: str, rows: list[dict], batch: bool = True) -> list[ScoreResult]:
        """Score rows on fresh instances that are closed afterwards (validation uses this)."""
        check_text(source, "source", "Sandbox.score_fresh")
        packed = checked_rows(rows, "Sandbox.score_fresh")
        with self._lock:
            self._check_open()
            return self._fresh_rows(source, self._sha(source), packed, batch)

    def _audited(self, source: str, sha: str, rows: list[Row], results: list[ScoreResult]) -> list[ScoreResult]:
        """`results`, or every row failed with kind integrity when an audit due now finds that a row's
        score depends on the other rows or on history (see `rlar_jax.sandbox.audit`)."""
        due = self._audit_due.get(sha, 0) - len(rows)
        if due > 0 or not rows:
            self._audit_due[sha] = due
            return results
        self._audit_due[sha] = self.audit_interval
        if len(self._audit_due) > 4096:
            self._audit_due.clear()
        if sha in self._define_failures:
            return results
        picks = [i for i in pick_rows(len(rows), self.audit_rows, self._rng)
                 if results[i].error_kind not in RESOURCE_KINDS]  # those say nothing about the logic
        if not picks:
            return results
        alone = self._fresh_rows(source, sha, [rows[i] for i in reversed(picks)], batch=False)[::-1]
        problems = [p for i, a in zip(picks, alone) if (p := mismatch(i, results[i], a)) is not None]
        if not problems:
            return results
        failure = self._caught[sha] = integrity_failure(problems, len(picks))
        while len(self._caught) > 256:
            self._caught.popitem(last=False)
        self._drop(sha)
        return [dataclasses.replace(failure) for _ in rows]

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
        row = (prompt, response, reference, meta_json(meta, "Sandbox.score"))
        with self._lock:
            self._check_open()
            sha = self._sha(source)
            caught = self._caught.get(sha)
            if caught is not None:
                return dataclasses.replace(caught)
            return self._audited(source, sha, [row], [self._score_one(source, sha, *row)])[0]

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
        more than a short verifier call). When an audit is due, a sample of rows is re-scored on a fresh
        instance; a difference fails every row with kind `integrity` (see `rlar_jax.sandbox.audit`).
        """
        check_text(source, "source", "Sandbox.score_batch")
        packed = checked_rows(rows, "Sandbox.score_batch")
        with self._lock:
            self._check_open()
            sha = self._sha(source)
            caught = self._caught.get(sha)
            if caught is not None:
                return [dataclasses.replace(caught) for _ in packed]
            return self._audited(source, sha, packed, self._score_rows(source, sha, packed))

    def _score_rows(self, source: str, sha: str, packed: list[Row]) -> list[ScoreResult]:
        results: list[ScoreResult] = []
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
                    if inst is None or not inst.alive or not chunk:
                        singly = inst is None or not inst.alive
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
        """Run the verifier's CASES on fresh instances; see `rlar_jax.sandbox.validation`. A verifier an
        audit caught in this sandbox fails with that evidence."""
        from rlar_jax.sandbox.validation import validate_source

        check_text(source, "source", "Sandbox.validate")
        with self._lock:
            self._check_open()
            caught = self._caught.get(self._sha(source))
            if caught is not None:
                return ValidationReport(False, self._sha(source), f"[integrity] {caught.message}")
            return validate_source(self, source)

    def live_instances(self) -> int:
        """Number of live (cached) guest instances."""
        return sum(inst.alive for inst in self._instances.values())

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
