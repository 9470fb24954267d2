"""Score across cores: spawned worker processes, each with its own Sandbox.

wasmtime-py spends most of a short call in Python-side marshalling under the GIL, so threads do not
scale; processes do. Workers are started with the spawn method (forking after a wasmtime Engine exists
is unsafe). Each request has a wall-clock watchdog as a last line of defence (the epoch deadline stops
wasm code and the host refuses clock waits, but a worker can still crash or be stopped): a worker that
stops answering is killed and replaced, and its rows are retried one at a time so only the culprit fails.
A worker's reply is checked like a guest's: anything but one ScoreResult per row becomes per-row
`protocol` failures, and only errors in the caller's own input are raised.
"""

from __future__ import annotations

import atexit
import itertools
import math
import multiprocessing as mp
import os
import threading
import weakref
from multiprocessing.connection import Connection
from pathlib import Path

from rlar_jax.sandbox.audit import AUDIT_INTERVAL
from rlar_jax.sandbox.build import ensure_guest
from rlar_jax.sandbox.sources import source_sha256
from rlar_jax.sandbox.limits import Limits, ScoreResult, ValidationReport
from rlar_jax.sandbox.reports import MESSAGE_CAP, clip

_LIVE: "weakref.WeakSet[SandboxPool]" = weakref.WeakSet()
_FORWARDED = {"TypeError": TypeError, "ValueError": ValueError, "KeyError": KeyError}
_START_TIMEOUT_S = 120.0
_GRACE_S = 10.0


def _failed(op: str, args: tuple, problem: str):
    """What a request gets when the worker itself failed: every row (or the validation) fails."""
    message = clip(f"sandbox worker error: {problem}", MESSAGE_CAP)
    if op == "validate":
        return ValidationReport(False, source_sha256(args[0]), f"[protocol] {message}")
    return [ScoreResult.failure("protocol", message) for _ in args[1]]


def _worker_main(conn: Connection, limits: Limits, home: str | None, audit_interval: int = AUDIT_INTERVAL) -> None:
    """Worker loop: build a Sandbox, answer (method, args) requests, close stores and exit hard."""
    from rlar_jax.sandbox.runtime import Sandbox

    sandbox = None
    try:
        sandbox = Sandbox(limits, Path(home) if home else None, audit_interval=audit_interval)
        conn.send(("ready", None))
        while True:
            try:
                op, args = conn.recv()
            except (EOFError, OSError):
                break
            if op == "close":
                break
            try:
                conn.send(("ok", getattr(sandbox, op)(*args)))
            except tuple(_FORWARDED.values()) as exc:  # the caller's input: raised to the caller
                conn.send(("err", (type(exc).__name__, clip(str(exc), MESSAGE_CAP))))
            except Exception as exc:  # a failure of the worker itself: the rows fail, the worker lives on
                conn.send(("ok", _failed(op, args, f"{type(exc).__name__}: {exc}")))
    except Exception as exc:
        try:
            conn.send(("err", (type(exc).__name__, f"sandbox worker failed to start: {exc}")))
        except OSError:
            pass
    finally:
        if sandbox is not None:
            sandbox.close()
        conn.close()
        # Skip interpreter teardown: stores are closed, nothing else needs flushing.
        os._exit(0)


class _Worker:
    def __init__(self, ctx, limits: Limits, home: Path | None, audit_interval: int) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, limits, str(home) if home else None, audit_interval),
                                name="rlar-sandbox-worker", daemon=True)
        self.proc.start()
        child.close()
        self.ready = False

    def _await_ready(self) -> None:
        if self.ready:
            return
        if not self.conn.poll(_START_TIMEOUT_S):
            raise RuntimeError(f"sandbox worker did not start within {_START_TIMEOUT_S:.0f} s")
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            self.proc.join(timeout=5)
            raise RuntimeError(f"sandbox worker exited during start-up (exit code {self.proc.exitcode}); "
                               "scripts that create a SandboxPool must guard their entry point with "
                               "`if __name__ == '__main__':` (spawned workers re-import the main module)") from None
        if status != "ready":
            raise RuntimeError(payload[1])
        self.ready = True

    def send(self, op: str, args: tuple) -> None:
        self._await_ready()
        self.conn.send((op, args))

    def receive(self, timeout: float):
        """The reply, or raise TimeoutError if none came in time (the caller then kills the worker)."""
        if not self.conn.poll(timeout):
            raise TimeoutError
        try:
            status, payload = self.conn.recv()
        except (EOFError, OSError):
            raise TimeoutError from None  # the worker died: handled like a hang
        if status == "err":
            name, message = payload
            raise _FORWARDED.get(name, RuntimeError)(message)
        return payload

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(timeout=5)
        self.conn.close()

    def close(self) -> None:
        try:
            if self.proc.is_alive():
                self.conn.send(("close", ()))
        except OSError:
            pass
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(timeout=5)
        self.conn.close()


class SandboxPool:
    """`processes` spawned workers, each with its own Sandbox; same score/score_batch/validate API.

    Rows of a batch are split into contiguous parts, one per worker; each worker keeps its own live
    instances (at most `limits.total_memory_bytes` of guest memory per worker) and audits its own rows.
    """

    def __init__(self, processes: int = 2, limits: Limits | None = None, home: Path | None = None, *,
                 min_rows_per_worker: int = 32, watchdog_grace_s: float = _GRACE_S,
                 audit_interval: int = AUDIT_INTERVAL) -> None:
        if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
            raise ValueError(f"processes must be a positive int, got {processes!r}")
        self.limits = limits or Limits()
        self.home = home
        self.min_rows_per_worker = max(1, min_rows_per_worker)
        if not watchdog_grace_s > 0:
            raise ValueError(f"watchdog_grace_s must be positive, got {watchdog_grace_s!r}")
        self.watchdog_grace_s = float(watchdog_grace_s)
        self.audit_interval = audit_interval
        ensure_guest(home)  # build once here rather than racing in every worker
        self._ctx = mp.get_context("spawn")
        self._workers = [_Worker(self._ctx, self.limits, home, audit_interval) for _ in range(processes)]
        self._next = itertools.count()
        self._lock = threading.Lock()
        self._closed = False
        _LIVE.add(self)

    @property
    def processes(self) -> int:
        """Number of worker processes."""
        return len(self._workers)

    def _timeout(self, rows: int) -> float:
        # Generous: never cut legitimate work short, only catch workers that stopped answering.
        return self.watchdog_grace_s + 1.5 * self.limits.deadline_s * (rows + 2)

    def _replace(self, index: int) -> None:
        self._workers[index].kill()
        self._workers[index] = _Worker(self._ctx, self.limits, self.home, self.audit_interval)

    def _hung(self, rows: int) -> ScoreResult:
        return ScoreResult.failure("deadline", f"sandbox worker gave no answer within {self._timeout(rows):.0f} s "
                                   "and was killed")

    def _call_rows(self, index: int, source: str, rows: list[dict]) -> list[ScoreResult]:
        try:
            return _checked_reply(self._workers[index].receive(self._timeout(len(rows))), len(rows))
        except TimeoutError:
            self._replace(index)
        results = []
        for row in rows:  # find the culprit: one row per request, each with its own watchdog
            worker = self._workers[index]
            worker.send("score_batch", (source, [row]))
            try:
                results.extend(_checked_reply(worker.receive(self._timeout(1)), 1))
            except TimeoutError:
                self._replace(index)
                results.append(self._hung(1))
        return results

    def score_batch(self, source: str, rows: list[dict]) -> list[ScoreResult]:
        """Score rows across the workers; results in input order."""
        if not isinstance(rows, (list, tuple)):
            raise TypeError(f"SandboxPool.score_batch: rows must be a list of dicts, got {type(rows).__name__}")
        rows = list(rows)
        with self._lock:
            self._check_open()
            if not rows:
                return []
            parts = max(1, min(len(self._workers), math.ceil(len(rows) / self.min_rows_per_worker)))
            size = math.ceil(len(rows) / parts)
            start = next(self._next)
            plan = []
            for k in range(parts):
                index = (start + k) % len(self._workers)
                chunk = rows[k * size:(k + 1) * size]
                self._workers[index].send("score_batch", (source, chunk))
                plan.append((index, chunk))
            results: list[ScoreResult] = []
            error = None
            for index, chunk in plan:  # collect every reply even if one raises, to keep pipes in sync
                try:
                    results.extend(self._call_rows(index, source, chunk))
                except (TypeError, ValueError, KeyError, RuntimeError) as exc:
                    error = error or exc
            if error is not None:
                raise error
            return results

    def score(self, source: str, prompt: str, response: str, reference: str, meta: dict | None = None) -> ScoreResult:
        """Score one row on the next worker."""
        return self.score_batch(source, [dict(prompt=prompt, response=response, reference=reference, meta=meta)])[0]

    def validate(self, source: str) -> ValidationReport:
        """Run the verifier's CASES on one worker."""
        with self._lock:
            self._check_open()
            index = next(self._next) % len(self._workers)
            self._workers[index].send("validate", (source,))
            try:
                report = self._workers[index].receive(self._timeout(2 * 64))
            except TimeoutError:
                self._replace(index)
                raise RuntimeError("sandbox worker hung while validating; it was killed") from None
            if not isinstance(report, ValidationReport):
                return ValidationReport(False, source_sha256(source),
                                        "[protocol] malformed reply from a sandbox worker")
            return report

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this SandboxPool is closed")

    def close(self) -> None:
        """Ask workers to close their stores and exit; kill any that do not (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for worker in self._workers:
                worker.close()
        _LIVE.discard(self)

    def __enter__(self) -> "SandboxPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _checked_reply(reply, n: int) -> list[ScoreResult]:
    """A worker's score_batch reply if it is one ScoreResult per row, else per-row protocol failures."""
    if isinstance(reply, list) and len(reply) == n and all(isinstance(r, ScoreResult) for r in reply):
        return reply
    return [ScoreResult.failure("protocol", "malformed reply from a sandbox worker") for _ in range(n)]


def _close_all() -> None:
    for pool in list(_LIVE):
        pool.close()


atexit.register(_close_all)
