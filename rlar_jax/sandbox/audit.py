"""Rewards that depend only on their own row: the design and its determinism audit.

A verifier runs in one guest interpreter together with the guest's reporting code and with whatever it
kept from earlier calls. Nothing inside that interpreter can be hidden from it: the harness module is
taken out of `sys.modules`, but frames and the garbage collector still reach it and the packed batch,
and an integrity token passed into the guest would be just as readable. So the guarantee is kept from
the host:

- Every report is checked on the host (`rlar_jax.sandbox.reports`): tampering with the harness can
  corrupt scores, never the host.
- Validation (CASES) runs on fresh instances that are closed afterwards, in order through the batch
  export and in reverse order through single calls. An instance that validated a verifier never scores
  for it, and CASES whose scores change with order, history or call path fail validation.
- Scoring reuses one live instance per verifier, since a fresh instance per call costs ~12 ms against
  ~8 us for a batched row. It is audited instead: on a verifier's first call, then once every
  `AUDIT_INTERVAL` rows, the first, the last and a random sample of the call's rows are scored again,
  one at a time in reverse order, on a fresh instance (about 12 ms per audit). A row whose score differs
  proves that scores depend on other rows, on order, on history or on a patched harness (failures
  from fuel, deadline, memory or stack depend on load and are not compared). The whole call then fails
  with kind `integrity`, and so does every later call of that verifier in this sandbox, validation
  included. The reward system flags the plan in the library with that evidence and the plan resolver
  demotes it (`rlar_jax.rewards.system`).
- The library's plans outlive a process, a guest build and a set of limits, so a stored plan's
  verifiers are re-validated (`Library.revalidate`) before the plan's first use in a process.
"""

from __future__ import annotations

import random

from rlar_jax.sandbox.limits import ScoreResult
from rlar_jax.sandbox.reports import MESSAGE_CAP, clip

AUDIT_ROWS = 4  # rows re-scored per audit
AUDIT_INTERVAL = 8192  # rows of a verifier between audits (0: audit every call)
# Failures that depend on load or on the batch's shared budget, not on the verifier's logic.
RESOURCE_KINDS = frozenset({"fuel", "deadline", "memory", "stack"})


def pick_rows(n: int, k: int, rng: random.Random) -> list[int]:
    """Row indices to audit, ascending: the first, the last and up to k - 2 others at random."""
    if n <= k:
        return list(range(n))
    chosen = {0, n - 1}
    chosen.update(rng.sample(range(1, n - 1), max(0, k - 2)))
    return sorted(chosen)


def _shown(result: ScoreResult) -> str:
    return repr(result.score) if result.ok else f"a {result.error_kind} failure"


def mismatch(index: int, in_call: ScoreResult, alone: ScoreResult) -> str | None:
    """Why row `index` scored differently in its call than alone, or None when it did not."""
    if in_call.error_kind in RESOURCE_KINDS or alone.error_kind in RESOURCE_KINDS:
        return None
    if in_call.ok and alone.ok and in_call.score == alone.score:
        return None
    if not in_call.ok and not alone.ok:
        return None
    return f"row {index} scored {_shown(in_call)} in its call but {_shown(alone)} when re-scored on a fresh instance"


def integrity_failure(problems: list[str], rows: int) -> ScoreResult:
    """The failure every row of an audited call (and every later call) of the verifier gets."""
    return ScoreResult.failure("integrity", clip(
        f"the verifier's scores depend on other rows or on its history (audit of {rows} rows): "
        + "; ".join(problems[:4]), MESSAGE_CAP))
