"""The reward agent's tools: JSON-schema function definitions and their host-side implementations.

Every tool returns text for the model and never raises: a bad argument, an unknown id, a verifier that
fails its CASES or an invalid plan all become an error message the agent can act on. Generated verifier
code is only ever defined and run inside the WebAssembly sandbox (`validate`, `score_batch`).
"""

from __future__ import annotations

import ast
import json
import logging
import math
from typing import Any, Mapping, Sequence

from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.families import TASK_FAMILIES
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import PlanError, RewardPlan

log = logging.getLogger(__name__)

MAX_SOURCE_CHARS = 20_000  # a verifier longer than this is rejected before it reaches the sandbox
MAX_RESULT_CHARS = 12_000  # tool results are truncated to keep the conversation within budget
MAX_TEST_SAMPLES = 8

_PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "task_family": {"type": "string", "enum": list(TASK_FAMILIES)},
        "components": {"type": "array", "minItems": 1, "items": {
            "type": "object",
            "properties": {
                "kind": {"type": "string", "enum": ["verifier", "reward_model"]},
                "id": {"type": "string"},
                "weight": {"type": "number", "exclusiveMinimum": 0},
                "normalise": {"type": "object"},
                "meta": {"type": "object"},
            },
            "required": ["kind", "id", "weight"]}},
        "rationale": {"type": "string"},
        "meta": {"type": "object", "description": "plan-level meta passed to every verifier"},
    },
    "required": ["task_family", "components", "rationale"],
}


def _fn(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


_TASK = {"type": "string", "enum": list(TASK_FAMILIES)}
TOOL_SCHEMAS: list[dict[str, Any]] = [
    _fn("search_reward_models", "Search the reward-model catalog by keywords and optional task family.",
        {"query": {"type": "string"}, "task": _TASK}, ["query"]),
    _fn("describe_reward_model", "Full catalog entry of one reward model.", {"id": {"type": "string"}}, ["id"]),
    _fn("list_verifiers", "Verifiers in the reward library (seed and generated), optionally for a task family.",
        {"task": _TASK}, []),
    _fn("read_verifier", "Source code of a verifier.", {"id": {"type": "string"}}, ["id"]),
    _fn("write_verifier", "Submit a new verifier: Python source defining score(prompt, response, reference, meta) "
        "-> float in [0, 1] and CASES = [(prompt, response, reference, meta, expected), ...]. It is validated "
        "by running its CASES in a sandbox; failures are returned so you can fix them. On success it gets an id "
        "gen-<sha256 prefix> usable in plans.", {"source": {"type": "string"}, "task": _TASK}, ["source"]),
    _fn("test_plan", "Score the sample completions of this query with a candidate plan (verifiers only).",
        {"plan": _PLAN_SCHEMA}, ["plan"]),
    _fn("submit_plan", "Submit the final reward plan for this kind of query. Ends the conversation if valid.",
        {"plan": _PLAN_SCHEMA}, ["plan"]),
]


def _docline(source: str) -> str:
    """First line of a module docstring; parsing only, the code is never executed here."""
    try:
        doc = ast.get_docstring(ast.parse(source))
    except (SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc else ""


def _clip(text: str, n: int = MAX_RESULT_CHARS) -> str:
    return text if len(text) <= n else text[:n] + f"\n... [{len(text) - n} more characters truncated]"


def validation_feedback(report: Any) -> str:
    """A failed ValidationReport as text: the define error, or each case's expected/got/traceback."""
    lines = [f"rejected: verifier {report.sha256[:12]} failed validation"]
    if report.define_error:
        lines.append(f"define error: {report.define_error}")
    for c in report.cases:
        if c.get("passed"):
            continue
        lines.append(f"case {c['index']}: expected {c['expected']}, got {c['got']}"
                     f"{' [' + c['error_kind'] + ']' if c.get('error_kind') else ''}: {c.get('message', '')}")
        lines.append(f"  prompt={c.get('prompt')!r} response={c.get('response')!r}")
        if c.get("traceback"):
            lines.append("  " + c["traceback"].strip().replace("\n", "\n  "))
    passed = sum(1 for c in report.cases if c.get("passed"))
    lines.append(f"{passed}/{len(report.cases)} cases passed. Fix the code (or a wrong expected value) and call "
                 "write_verifier again.")
    return "\n".join(lines)


class AgentToolbox:
    """Tool implementations for one planning conversation (one query / task signature)."""

    def __init__(self, library: Library, sandbox: Any, catalog: Catalog, *, signature: str, family: str,
                 query: str, reference: str | None, meta: Mapping[str, Any] | None,
                 samples: Sequence[Any] | None = None):
        """`samples`: completions (str or dict with response/reference/meta) that `test_plan` scores."""
        self.library, self.sandbox, self.catalog = library, sandbox, catalog
        self.signature, self.family = signature, family
        self.query, self.reference, self.meta = query, reference or "", dict(meta or {})
        self.samples = list(samples or [])[:MAX_TEST_SAMPLES]
        self.resolver = library.resolver(catalog)
        self.submitted: RewardPlan | None = None
        self.invalid_submissions = 0
        self.written: list[str] = []
        self.rejected_verifiers = 0

    def call(self, name: str, args: Mapping[str, Any]) -> str:
        """Run tool `name` with parsed JSON `args`; returns the text for the model (never raises)."""
        handler = getattr(self, f"_t_{name}", None)
        if handler is None or name not in {t["function"]["name"] for t in TOOL_SCHEMAS}:
            return f"error: unknown tool {name!r}; available: {[t['function']['name'] for t in TOOL_SCHEMAS]}"
        try:
            return _clip(handler(**args))
        except TypeError as e:  # missing/unexpected argument names
            return f"error: bad arguments for {name}: {e}"
        except Exception as e:  # a tool bug must not end planning; the agent sees it and may work around it
            log.warning("agent tool %s failed: %s", name, e)
            return f"error: {name} failed: {type(e).__name__}: {e}"

    # ------------------------------------------------------------------------------------ catalog
    def _t_search_reward_models(self, query: str, task: str | None = None) -> str:
        found = self.catalog.search(query, task) + self.catalog.hub_search(query)
        if not found and task:
            found = self.catalog.search("", task)
        return json.dumps([{"id": e.id, "kind": e.kind, "tasks": list(e.tasks), "description": e.description}
                           for e in found]) if found else "no reward models match; try other keywords"

    def _t_describe_reward_model(self, id: str) -> str:  # noqa: A002 - the tool's argument name
        entry = self.catalog.get(id)
        if entry is None:
            return f"error: unknown reward model {id!r}; known: {[e.id for e in self.catalog.entries()]}"
        return json.dumps(entry.to_dict())

    # ---------------------------------------------------------------------------------- verifiers
    def _t_list_verifiers(self, task: str | None = None) -> str:
        out = []
        for v in self.library.list_verifiers(task):
            src = (self.library.get_verifier(v["id"]) or {}).get("source", "")
            out.append({"id": v["id"], "origin": v["origin"], "tasks": v["tasks"], "summary": _docline(src)})
        return json.dumps(out)

    def _t_read_verifier(self, id: str) -> str:  # noqa: A002
        v = self.library.get_verifier(id)
        if v is None:
            return f"error: unknown verifier {id!r}; call list_verifiers for the known ids"
        return v["source"]

    def _t_write_verifier(self, source: str, task: str | None = None) -> str:
        if not isinstance(source, str) or not source.strip():
            return "error: source: expected the verifier's Python source text"
        if len(source) > MAX_SOURCE_CHARS:
            return f"error: source: {len(source)} characters, limit {MAX_SOURCE_CHARS}"
        if self.sandbox is None:
            return "error: no sandbox is available to validate generated verifiers; use the library's verifiers"
        report = self.sandbox.validate(source)
        if not report.ok:
            self.rejected_verifiers += 1
            log.info("agent verifier %s rejected: %s", report.sha256[:12], report.summary())
            return validation_feedback(report)
        vid = self.library.add_verifier(source, origin="generated", report=report.to_dict(),
                                        tasks=[task or self.family])
        self.written.append(vid)
        log.info("agent verifier %s accepted (%d cases)", vid, len(report.cases))
        return (f"accepted: verifier id {vid} ({len(report.cases)}/{len(report.cases)} CASES passed). "
                f"Use it in a plan as {{\"kind\": \"verifier\", \"id\": \"{vid}\", \"weight\": 1.0}}.")

    # -------------------------------------------------------------------------------------- plans
    def _plan(self, plan: Any) -> RewardPlan:
        if isinstance(plan, str):  # some models send the nested object as a JSON string
            try:
                plan = json.loads(plan)
            except ValueError as e:
                raise PlanError([f"plan: expected a JSON object, got a string that is not JSON ({e})"]) from e
        if not isinstance(plan, dict):
            raise PlanError([f"plan: expected a JSON object, got {type(plan).__name__}"])
        data = {k: v for k, v in plan.items() if k not in ("task_signature", "created_by", "version", "plan_id")}
        data.setdefault("task_family", self.family)
        data.update(task_signature=self.signature, created_by="agent")
        return RewardPlan.from_dict(data, self.resolver)

    def _t_test_plan(self, plan: Any) -> str:
        try:
            p = self._plan(plan)
        except PlanError as e:
            return f"error: invalid plan: {e}"
        if not self.samples:
            return "plan is valid; no sample completions were provided for this query, nothing to score"
        if self.sandbox is None:
            return "plan is valid; no sandbox available to score samples"
        rows = []
        for s in self.samples:
            s = {"response": s} if isinstance(s, str) else dict(s)
            rows.append({"prompt": self.query, "response": str(s.get("response", "")),
                         "reference": str(s.get("reference", self.reference)), "meta": {**self.meta, **s.get("meta", {})}})
        table: list[dict[str, Any]] = [{"response": r["response"][:200], "scores": {}} for r in rows]
        for i, c in enumerate(p.components):
            if c.kind != "verifier":
                for t in table:
                    t["scores"][c.id] = "reward model: scored during training, not here"
                continue
            src = self.library.get_verifier(c.id)["source"]
            comp_rows = [{**r, "meta": p.scoring_meta(i, self.query, r["meta"])} for r in rows]
            for t, res in zip(table, self.sandbox.score_batch(src, comp_rows)):
                t["scores"][c.id] = res.score if res.error_kind is None else f"{res.error_kind}: {res.message[:300]}"
        for t in table:
            vals = list(t["scores"].values())
            t["reward"] = (p.combine([float(v) for v in vals])
                           if all(isinstance(v, float) for v in vals) else "partial (reward models not scored)")
            if isinstance(t["reward"], float) and math.isnan(t["reward"]):
                t["reward"] = "NaN (a component failed)"
        return json.dumps(table)

    def _t_submit_plan(self, plan: Any) -> str:
        try:
            p = self._plan(plan)
        except PlanError as e:
            self.invalid_submissions += 1
            return f"error: plan rejected: {e}. Fix these fields and call submit_plan again."
        self.submitted = p
        for c in p.components:  # hub models found by search are kept, so later runs can load the plan
            entry = self.catalog.get(c.id) if c.kind == "reward_model" and c.id.startswith("hf:") else None
            if entry is not None:
                self.catalog.register(entry, persist=True)
        return f"accepted: plan {p.plan_id} for {self.signature}"
