"""Per-call resource limits and the result records the sandbox returns."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

# Error kinds a ScoreResult can carry (None = success). `protocol`: the guest sent a report of the wrong
# type, shape or size; `integrity`: the verifier's scores depend on other rows or on its history.
ERROR_KINDS: tuple[str, ...] = (
    "exception", "fuel", "deadline", "memory", "stack", "exit", "invalid_score", "define", "protocol", "integrity",
)

# Guest memory one Sandbox (so one pool worker) may hold at once unless Limits.total_memory_bytes says
# otherwise: 4 workers x 2 GiB leave room for the trainer on a 24 GiB machine.
DEFAULT_TOTAL_MEMORY = 2 << 30

# wasmtime refuses (by aborting the process) a max_wasm_stack above its async stack size, 2 MiB.
_MAX_STACK_CEILING = 2 << 20
_MIN_STACK = 64 << 10


@dataclass
class Limits:
    """Budget for one guest call (a batch gets a multiple, see `Sandbox.score_batch`).

    fuel: wasm instructions (roughly); deadline_s: wall clock, enforced by epoch interruption;
    memory_bytes: cap on one guest's linear memory; max_stack_bytes: wasm stack (64 KiB..2 MiB);
    output_bytes: captured stdout/stderr kept per call; total_memory_bytes: cap on the guest memory of
    all live instances of one Sandbox together (None: max(2 GiB, memory_bytes)); a Sandbox keeps at
    most total_memory_bytes // memory_bytes instances alive and evicts the least recently used.
    """

    fuel: int = 2_000_000_000
    deadline_s: float = 2.0
    memory_bytes: int = 512 << 20
    max_stack_bytes: int = 1 << 20
    output_bytes: int = 64 << 10
    total_memory_bytes: int | None = None

    def __post_init__(self) -> None:
        for name in ("fuel", "memory_bytes", "max_stack_bytes", "output_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"Limits.{name} must be a positive int, got {value!r}")
        if isinstance(self.deadline_s, bool) or not isinstance(self.deadline_s, (int, float)) \
                or not math.isfinite(self.deadline_s) or self.deadline_s <= 0:
            raise ValueError(f"Limits.deadline_s must be a positive finite number, got {self.deadline_s!r}")
        if not _MIN_STACK <= self.max_stack_bytes <= _MAX_STACK_CEILING:
            raise ValueError(f"Limits.max_stack_bytes must be in [{_MIN_STACK}, {_MAX_STACK_CEILING}] "
                             f"(wasmtime's async stack size bounds it), got {self.max_stack_bytes}")
        if self.memory_bytes < (32 << 20):
            raise ValueError(f"Limits.memory_bytes must be at least 32 MiB (the guest interpreter starts "
                             f"with about 15 MiB of linear memory), got {self.memory_bytes}")
        if self.output_bytes >= (1 << 31):
            raise ValueError(f"Limits.output_bytes must be below 2 GiB, got {self.output_bytes}")
        if self.total_memory_bytes is None:
            self.total_memory_bytes = max(DEFAULT_TOTAL_MEMORY, self.memory_bytes)
        total = self.total_memory_bytes
        if isinstance(total, bool) or not isinstance(total, int) or total < self.memory_bytes:
            raise ValueError(f"Limits.total_memory_bytes must be an int >= Limits.memory_bytes "
                             f"({self.memory_bytes >> 20} MiB), got {total!r}")

    @property
    def max_live_instances(self) -> int:
        """How many guest instances fit in total_memory_bytes at memory_bytes each."""
        return max(1, self.total_memory_bytes // self.memory_bytes)

    def memory_hint(self) -> str:
        """Names the settings a verifier that needs more guest memory must change."""
        return (f"guest memory is capped at Limits.memory_bytes = {self.memory_bytes >> 20} MiB per instance "
                f"(`--memory-mb`), Limits.total_memory_bytes = {self.total_memory_bytes >> 20} MiB per sandbox")


@dataclass
class ScoreResult:
    """Outcome of one verifier call: `score` is NaN exactly when `error_kind` is set."""

    score: float
    error_kind: str | None = None
    message: str = ""
    traceback: str = ""
    seconds: float = 0.0
    output: str = ""

    @property
    def ok(self) -> bool:
        """True when the call produced a valid score."""
        return self.error_kind is None

    def to_dict(self) -> dict:
        """JSON-ready dict (NaN score becomes None)."""
        d = asdict(self)
        if not math.isfinite(self.score):
            d["score"] = None
        return d

    @classmethod
    def failure(cls, kind: str, message: str, traceback: str = "", seconds: float = 0.0,
                output: str = "") -> "ScoreResult":
        """A failed call of the given error kind."""
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}; expected one of {ERROR_KINDS}")
        return cls(math.nan, kind, message, traceback, seconds, output)


@dataclass
class ValidationReport:
    """Result of running a verifier's CASES: `ok` only if it defines and every case matches."""

    ok: bool
    sha256: str
    define_error: str | None = None
    cases: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """One line: pass/fail, counts and the first failure."""
        if self.define_error is not None:
            return f"FAIL {self.sha256[:12]}: {self.define_error.splitlines()[0] if self.define_error else ''}"
        failed = [c for c in self.cases if not c["passed"]]
        head = f"{'OK' if self.ok else 'FAIL'} {self.sha256[:12]}: {len(self.cases) - len(failed)}/{len(self.cases)} cases"
        if failed:
            c = failed[0]
            head += f"; case {c['index']}: expected {c['expected']}, got {c['got']} {c['error_kind'] or ''} {c['message'][:120]}"
        return head
