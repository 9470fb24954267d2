"""Reward library: verifiers, versioned plans per task signature, and how each plan's components behave.

One SQLite file (default `<run_dir>/reward_library.sqlite`, or a shared path from the config) reused
across runs: open the same file and the plans are there, so the agent is not asked again.

Self-evolution: after each scored batch the trainer calls `record(plan_id, component_id, scores,
group_size)`. `needs_replan(signature)` returns Evidence when the active plan's component fails too often
over the last `window` samples, when its reward has no within-group variance over the last
`zero_variance_window` groups (no learning signal), when a verifier no longer passes its own CASES
(`revalidate`, run by the plan resolver before a stored plan's first use in a process), or when the
sandbox's audit caught a verifier whose scores depend on other rows or on history (an `integrity` flag).
The caller then demotes the plan and stores a new version with that evidence.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rlar_jax.rewards.evolution import PLAN_TOTAL, Evidence, EvolutionConfig, zero_var_groups
from rlar_jax.rewards.families import seed_tasks
from rlar_jax.rewards.plan import RewardPlan

log = logging.getLogger(__name__)

_KIND_PREFIXES = ("verifier:", "reward_model:")
ANY = object()  # put_plan: no expectation about the currently active plan

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verifiers (
  id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, source TEXT NOT NULL,
  origin TEXT NOT NULL CHECK (origin IN ('seed', 'generated')), tasks TEXT NOT NULL DEFAULT '[]',
  validation TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY, signature TEXT NOT NULL, version INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('active', 'demoted')), created_by TEXT NOT NULL,
  plan_json TEXT NOT NULL, evidence TEXT, demotion TEXT, created REAL NOT NULL, demoted REAL,
  UNIQUE (signature, version));
CREATE INDEX IF NOT EXISTS plans_by_signature ON plans (signature, status);
CREATE TABLE IF NOT EXISTS component_stats (
  plan_id TEXT NOT NULL, component_id TEXT NOT NULL, uses INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0, score_sum REAL NOT NULL DEFAULT 0, score_sq_sum REAL NOT NULL DEFAULT 0,
  groups INTEGER NOT NULL DEFAULT 0, zero_var_groups INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (plan_id, component_id));
CREATE TABLE IF NOT EXISTS batches (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, plan_id TEXT NOT NULL, component_id TEXT NOT NULL,
  n INTEGER NOT NULL, failures INTEGER NOT NULL, groups INTEGER NOT NULL, zero_var_groups INTEGER NOT NULL,
  created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS batches_by_component ON batches (plan_id, component_id, seq);
CREATE TABLE IF NOT EXISTS flags (
  plan_id TEXT NOT NULL, component_id TEXT, reason TEXT NOT NULL, details TEXT NOT NULL, created REAL NOT NULL);
"""


class Library:
    """The persistent reward library (thread-safe: one connection guarded by a lock)."""

    def __init__(self, path: str | Path = ":memory:", evolution: EvolutionConfig | None = None,
                 seeds: bool = True):
        """Open or create the SQLite file at `path`; `seeds` imports the seed verifiers from `verifiers/`."""
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.evolution = evolution or EvolutionConfig()
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        with self._lock, self._db:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")  # readers in other processes do not block writers
            self._db.executescript(_SCHEMA)
        if seeds:
            self.ensure_seeds()

    @classmethod
    def for_run(cls, run_dir: str | Path, shared_path: str | Path | None = None, **kwargs: Any) -> "Library":
        """The configured library: `shared_path` (rewards.library) if set, else `<run_dir>/reward_library.sqlite`."""
        return cls(Path(shared_path) if shared_path else Path(run_dir) / "reward_library.sqlite", **kwargs)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Library":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------------------------ verifiers

    def ensure_seeds(self) -> list[str]:
        """Import (or refresh) the seed verifiers of the repository's `verifiers/`; returns their ids."""
        try:
            from rlar_jax.sandbox import seed_verifiers
            seeds = seed_verifiers()
        except (ImportError, FileNotFoundError) as e:
            log.warning("seed verifiers unavailable: %s", e)
            return []
        for vid, path in seeds.items():
            self.add_verifier(path.read_text(encoding="utf-8"), origin="seed", verifier_id=vid,
                              tasks=seed_tasks().get(vid, ()))
        return sorted(seeds)

    def add_verifier(self, source: str, origin: str = "generated", report: dict[str, Any] | None = None,
                     tasks: Iterable[str] = (), verifier_id: str | None = None) -> str:
        """Store a verifier (generated ones get id `gen-<sha256[:12]>`); returns its id."""
        from rlar_jax.sandbox import source_sha256

        if origin not in ("seed", "generated"):
            raise ValueError(f"origin: expected 'seed' or 'generated', got {origin!r}")
        sha = source_sha256(source)
        vid = verifier_id or (f"gen-{sha[:12]}" if origin == "generated" else None)
        if not vid:
            raise ValueError("verifier_id: required for seed verifiers (the file stem)")
        with self._lock, self._db:
            row = self._db.execute("SELECT sha256, validation FROM verifiers WHERE id=?", (vid,)).fetchone()
            validation = json.dumps(report) if report is not None else (row["validation"] if row and
                                                                         row["sha256"] == sha else None)
            self._db.execute(
                "INSERT INTO verifiers (id, sha256, source, origin, tasks, validation, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET sha256=excluded.sha256, "
                "source=excluded.source, tasks=excluded.tasks, validation=excluded.validation",
                (vid, sha, source, origin, json.dumps(list(tasks)), validation, time.time()))
        return vid

    def get_verifier(self, verifier_id: str) -> dict[str, Any] | None:
        """Stored verifier (id, sha256, source, origin, tasks, validation, created) or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM verifiers WHERE id=?", (verifier_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["tasks"] = json.loads(d["tasks"])
        d["validation"] = json.loads(d["validation"]) if d["validation"] else None
        return d

    def list_verifiers(self, task: str | None = None) -> list[dict[str, Any]]:
        """Verifiers (without source), optionally only those tagged with `task`."""
        with self._lock:
            rows = self._db.execute("SELECT id, sha256, origin, tasks, created FROM verifiers ORDER BY id").fetchall()
        out = [{**dict(r), "tasks": json.loads(r["tasks"])} for r in rows]
        return [v for v in out if task is None or task in v["tasks"] or not v["tasks"]]

    def knows(self, kind: str, component_id: str) -> bool:
        """Resolver for verifiers: True when the library holds `component_id` (reward models: False)."""
        return kind == "verifier" and self.get_verifier(component_id) is not None

    def resolver(self, catalog: Any = None):
        """A plan resolver: verifiers from this library, reward models from `catalog` (if given)."""
        def resolve(kind: str, component_id: str) -> bool:
            if kind == "verifier":
                return self.knows(kind, component_id)
            return catalog is not None and catalog.knows(component_id)
        return resolve

    # ---------------------------------------------------------------------------------------- plans

    def put_plan(self, plan: RewardPlan, evidence: Evidence | None = None, *,
                 expect_active: str | None | object = ANY) -> RewardPlan:
        """Store `plan` as the next version of its signature and make it the active one.

        The previously active plan is demoted (with `evidence` as the reason). `expect_active` (a plan id,
        or None for "no plan yet") makes this a compare-and-set for processes sharing the file: if
        another process stored a plan first, nothing is written and its active plan is returned.
        """
        sig = plan.task_signature
        with self._lock, self._db:
            self._db.execute("BEGIN IMMEDIATE")  # version number and active flag change atomically
            row = self._db.execute("SELECT plan_id, plan_json FROM plans WHERE signature=? AND status='active'",
                                   (sig,)).fetchone()
            if expect_active is not ANY and (row["plan_id"] if row else None) != expect_active:
                if row is not None:
                    return RewardPlan.from_json(row["plan_json"])
                expect_active = ANY  # the expected plan was demoted elsewhere without a successor: store ours
            top = self._db.execute("SELECT MAX(version) FROM plans WHERE signature=?", (sig,)).fetchone()[0]
            stored = plan.with_(version=(top or 0) + 1)
            now = time.time()
            self._db.execute("UPDATE plans SET status='demoted', demoted=?, demotion=COALESCE(?, demotion) "
                             "WHERE signature=? AND status='active'",
                             (now, json.dumps(evidence.to_dict()) if evidence else None, sig))
            self._db.execute(
                "INSERT INTO plans (plan_id, signature, version, status, created_by, plan_json, evidence, created)"
                " VALUES (?, ?, ?, 'active', ?, ?, ?, ?)",
                (stored.plan_id, sig, stored.version, stored.created_by, stored.to_json(None),
                 json.dumps(evidence.to_dict()) if evidence else None, now))
        if row is not None:
            log.info("reward plan %s v%d demoted for %s; now v%d (%s)%s", row["plan_id"], stored.version - 1, sig,
                     stored.version, stored.created_by, f": {evidence.describe()}" if evidence else "")
        return stored

    def active_plan(self, signature: str) -> RewardPlan | None:
        """The active plan of `signature`, or None."""
        with self._lock:
            row = self._db.execute("SELECT plan_json FROM plans WHERE signature=? AND status='active'",
                                   (signature,)).fetchone()
        return RewardPlan.from_json(row["plan_json"]) if row else None

    def plan_record(self, plan_id: str) -> dict[str, Any] | None:
        """A stored plan with its status, evidence, demotion reason and component statistics."""
        with self._lock:
            row = self._db.execute("SELECT * FROM plans WHERE plan_id=?", (plan_id,)).fetchone()
        if row is None:
            return None
        d = dict(row)
        d["plan"] = json.loads(d.pop("plan_json"))
        for k in ("evidence", "demotion"):
            d[k] = json.loads(d[k]) if d[k] else None
        d["stats"] = self.component_stats(plan_id)
        return d

    def list_plans(self, signature: str | None = None) -> list[dict[str, Any]]:
        """Plan summaries (plan_id, signature, version, status, created_by, components), oldest first."""
        sql = "SELECT plan_id, signature, version, status, created_by, plan_json FROM plans"
        args: tuple = ()
        if signature is not None:
            sql, args = sql + " WHERE signature=?", (signature,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY signature, version", args).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            plan = json.loads(d.pop("plan_json"))
            d["components"] = [f"{c['kind']}:{c['id']}@{c['weight']:g}" for c in plan["components"]]
            out.append(d)
        return out

    def demote(self, plan_id: str, evidence: Evidence | None = None) -> None:
        """Mark a plan demoted, recording why."""
        with self._lock, self._db:
            self._db.execute("UPDATE plans SET status='demoted', demoted=?, demotion=? WHERE plan_id=?",
                             (time.time(), json.dumps(evidence.to_dict()) if evidence else None, plan_id))
        log.info("reward plan %s demoted: %s", plan_id, evidence.describe() if evidence else "by request")

    # ------------------------------------------------------------------------------ self-evolution

    def record(self, plan_id: str, component_id: str, scores: Sequence[float], group_size: int,
               failures: int | None = None) -> None:
        """Add one scored batch of a component (NaN = failed sample; groups of `group_size` share a query).

        `failures` overrides the NaN count (e.g. when the scorer reports failures separately).
        """
        if not isinstance(group_size, int) or group_size < 1:
            raise ValueError(f"group_size: expected an integer >= 1, got {group_size!r}")
        vals = [float(s) if s is not None else math.nan for s in scores]
        finite = [v for v in vals if math.isfinite(v)]
        n_fail = len(vals) - len(finite) if failures is None else int(failures)
        groups, zero = zero_var_groups(vals, group_size, self.evolution.variance_eps)
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO component_stats (plan_id, component_id, uses, failures, score_sum, score_sq_sum, "
                "groups, zero_var_groups) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(plan_id, component_id) "
                "DO UPDATE SET uses=uses+excluded.uses, failures=failures+excluded.failures, "
                "score_sum=score_sum+excluded.score_sum, score_sq_sum=score_sq_sum+excluded.score_sq_sum, "
                "groups=groups+excluded.groups, zero_var_groups=zero_var_groups+excluded.zero_var_groups",
                (plan_id, component_id, len(vals), n_fail, sum(finite), sum(v * v for v in finite), groups, zero))
            self._db.execute("INSERT INTO batches (plan_id, component_id, n, failures, groups, zero_var_groups, "
                             "created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (plan_id, component_id, len(vals), n_fail, groups, zero, time.time()))
            self._prune(plan_id, component_id)

    def record_scored(self, plan_ids: Sequence[str], components: Sequence[Mapping[str, float]],
                      rewards: Sequence[float], group_size: int) -> None:
        """Record a scored rollout batch: per sample its plan id, component scores and combined reward.

        Samples are in contiguous groups of `group_size` (one query each). Component keys may be plain ids
        or the scoring engine's "kind:id"; the combined reward is recorded under PLAN_TOTAL.
        """
        per_plan: dict[str, dict[str, list[float]]] = {}
        for pid, comps, reward in zip(plan_ids, components, rewards):
            rows = per_plan.setdefault(pid, {PLAN_TOTAL: []})
            rows[PLAN_TOTAL].append(reward)
            for key, score in comps.items():
                rows.setdefault(key.split(":", 1)[1] if key.startswith(_KIND_PREFIXES) else key, []).append(score)
        for pid, rows in per_plan.items():
            for cid, scores in rows.items():
                self.record(pid, cid, scores, group_size)

    def _prune(self, plan_id: str, component_id: str) -> None:
        """Keep only the batches any window can still reach (bounded table)."""
        keep = 2 * max(self.evolution.window, self.evolution.zero_variance_window)
        rows = self._db.execute("SELECT seq, n FROM batches WHERE plan_id=? AND component_id=? ORDER BY seq DESC",
                                (plan_id, component_id)).fetchall()
        total = 0
        for r in rows:
            total += r["n"]
            if total >= keep:
                self._db.execute("DELETE FROM batches WHERE plan_id=? AND component_id=? AND seq<?",
                                 (plan_id, component_id, r["seq"]))
                break

    def component_stats(self, plan_id: str) -> dict[str, dict[str, float]]:
        """Lifetime statistics per component: uses, failures, failure_rate, mean, variance, zero-variance groups."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM component_stats WHERE plan_id=?", (plan_id,)).fetchall()
        out = {}
        for r in rows:
            ok = r["uses"] - r["failures"]
            mean = r["score_sum"] / ok if ok > 0 else math.nan
            var = max(0.0, r["score_sq_sum"] / ok - mean * mean) if ok > 0 else math.nan
            out[r["component_id"]] = {"uses": r["uses"], "failures": r["failures"],
                                      "failure_rate": r["failures"] / r["uses"] if r["uses"] else 0.0,
                                      "mean": mean, "variance": var, "groups": r["groups"],
                                      "zero_var_groups": r["zero_var_groups"]}
        return out

    def _window(self, plan_id: str, component_id: str, limit: int, unit: str) -> dict[str, int]:
        """Sums over the newest batches until `limit` samples (unit "n") or groups (unit "groups")."""
        with self._lock:
            rows = self._db.execute("SELECT n, failures, groups, zero_var_groups FROM batches WHERE plan_id=? AND "
                                    "component_id=? ORDER BY seq DESC", (plan_id, component_id)).fetchall()
        acc = {"n": 0, "failures": 0, "groups": 0, "zero_var_groups": 0}
        for r in rows:
            if acc[unit] >= limit:
                break
            for k in acc:
                acc[k] += r[k]
        return acc

    def flag(self, plan_id: str, component_id: str | None, reason: str, details: dict[str, Any]) -> None:
        """Record outside evidence against a plan (e.g. a verifier failing its CASES)."""
        with self._lock, self._db:
            self._db.execute("INSERT INTO flags (plan_id, component_id, reason, details, created) VALUES "
                             "(?, ?, ?, ?, ?)", (plan_id, component_id, reason, json.dumps(details), time.time()))

    def revalidate(self, signature: str, sandbox: Any) -> Evidence | None:
        """Re-run the CASES of the active plan's verifiers in `sandbox`; a failure is flagged and returned."""
        plan = self.active_plan(signature)
        if plan is None:
            return None
        for c in plan.components:
            v = self.get_verifier(c.id) if c.kind == "verifier" else None
            if v is None:
                continue
            report = sandbox.validate(v["source"])
            if not report.ok:
                bad = [case for case in report.cases if not case.get("passed", False)][:5]
                details = {"define_error": report.define_error, "failed_cases": bad}
                self.flag(plan.plan_id, c.id, "validation_failed", details)
                return Evidence(signature, plan.plan_id, "validation_failed", c.id, details)
        return None

    def needs_replan(self, signature: str) -> Evidence | None:
        """Evidence that the active plan of `signature` should be replaced, or None (see module doc)."""
        plan = self.active_plan(signature)
        if plan is None:
            return None
        ev, pid = self.evolution, plan.plan_id
        with self._lock:
            flag = self._db.execute("SELECT * FROM flags WHERE plan_id=? ORDER BY created DESC", (pid,)).fetchone()
        if flag is not None:
            return Evidence(signature, pid, flag["reason"], flag["component_id"], json.loads(flag["details"]))
        for c in plan.components:
            w = self._window(pid, c.id, ev.window, "n")
            if w["n"] >= ev.min_samples and w["failures"] / w["n"] > ev.max_failure_rate:
                return Evidence(signature, pid, "failure_rate", c.id, {
                    "failure_rate": w["failures"] / w["n"], "samples": w["n"], "failures": w["failures"],
                    "threshold": ev.max_failure_rate})
        # No learning signal: judged on the combined reward when recorded, else on every component at once.
        targets = [PLAN_TOTAL] if self._window(pid, PLAN_TOTAL, 1, "n")["n"] else [c.id for c in plan.components]
        windows = [self._window(pid, t, ev.zero_variance_window, "groups") for t in targets]
        if windows and all(w["groups"] >= ev.min_groups and
                           w["zero_var_groups"] / w["groups"] >= ev.zero_variance_fraction for w in windows):
            return Evidence(signature, pid, "zero_variance", targets[0] if len(targets) == 1 else None, {
                "groups": windows[0]["groups"], "zero_variance_groups": windows[0]["zero_var_groups"],
                "fraction_threshold": ev.zero_variance_fraction, "components": targets})
        return None

    # --------------------------------------------------------------------------------------- export

    def export(self, path: str | Path) -> dict[str, Any]:
        """Write the whole library (verifiers with source, plans with status/evidence/stats) as JSON."""
        with self._lock:
            vids = [r["id"] for r in self._db.execute("SELECT id FROM verifiers ORDER BY id")]
            pids = [r["plan_id"] for r in self._db.execute("SELECT plan_id FROM plans ORDER BY signature, version")]
        data = {"verifiers": [self.get_verifier(v) for v in vids], "plans": [self.plan_record(p) for p in pids]}
        Path(path).write_text(json.dumps(data, indent=2, default=str))
        return data
