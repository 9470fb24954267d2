"""The reward agent: an LLM behind any OpenAI-compatible endpoint that plans rewards with tools.

For a new kind of query the agent searches the reward-model catalog, reads and writes verifiers
(validated in the WebAssembly sandbox, failures fed back so it can fix them), tests candidate plans on
sample completions and submits a RewardPlan. Conversations are bounded (turns, tokens, wall time,
per-request timeout; the openai client retries connection errors and 5xx with backoff, malformed output
gets its own retries with backoff) and every failure falls back to the offline planner's plan: a fault
in the agent never stops training. Outcomes are counted in `AgentStats` and logged.

`rlar_jax.rewards.resolver.PlanResolver` decides when to consult the agent for a batch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
import time
from collections import Counter
from typing import Any, Mapping, Sequence

from rlar_jax.reward_config import AgentSection
from rlar_jax.rewards.agent_tools import TOOL_SCHEMAS, AgentToolbox
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.evolution import Evidence
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.signature import analyse_query, signature_of

log = logging.getLogger(__name__)

ENV_PREFIX = "RLAR_JAX_AGENT_"
SYSTEM_PROMPT = """You design reward functions for reinforcement learning of a language model.
For the query below, decide which reward components score its completions and submit a plan with submit_plan.
Components: {"kind": "verifier", "id": <library verifier id>} or {"kind": "reward_model", "id": <catalog id>},
each with a weight > 0; the reward is the weighted mean of component scores in [0, 1].
Prefer existing verifiers for checkable answers (list_verifiers, read_verifier) and catalog reward models
for open-ended quality (search_reward_models, describe_reward_model). If no verifier fits, write one with
write_verifier: Python source defining score(prompt, response, reference, meta) -> float in [0, 1] and
CASES = [(prompt, response, reference, meta, expected_score), ...]; it only runs in a sandbox with the
standard library, and is accepted only if every case reproduces. Plan-level "meta" is passed to verifiers.
Always answer with tool calls."""


@dataclasses.dataclass
class AgentConfig(AgentSection):
    """The `rewards.agent` section (every knob documented there) with the API key resolved; the environment
    (RLAR_JAX_AGENT_BASE_URL, _MODEL, _API_KEY) fills what the section leaves unset."""

    api_key: str | None = None  # local servers accept any key; "EMPTY" is sent when unset

    @property
    def enabled(self) -> bool:
        """True when an endpoint and a model are configured."""
        return bool(self.base_url and self.model)

    @classmethod
    def from_env(cls, **overrides: Any) -> "AgentConfig":
        """Config from RLAR_JAX_AGENT_* variables, then explicit non-None `overrides`."""
        env = {k: os.environ.get(ENV_PREFIX + k.upper()) for k in ("base_url", "model", "api_key")}
        data = {k: v for k, v in env.items() if v}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**data)

    @classmethod
    def from_section(cls, section: AgentSection) -> "AgentConfig":
        """The agent of an experiment's `rewards.agent` section; its key comes from `section.api_key_env`."""
        knobs = {f.name: getattr(section, f.name) for f in dataclasses.fields(AgentSection)}
        return cls.from_env(**knobs, api_key=os.environ.get(section.api_key_env))


@dataclasses.dataclass
class AgentOutcome:
    """How one planning request ended: `status` agent | fallback, with the fallback `reason`."""

    status: str
    reason: str | None = None
    signature: str = ""
    turns: int = 0
    tokens: int = 0
    tool_calls: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    verifiers_written: list[str] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


class AgentStats:
    """Thread-safe counters of agent outcomes (calls, successes, fallbacks by reason, tool calls)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.successes = 0
        self.fallbacks: Counter[str] = Counter()
        self.tool_calls: Counter[str] = Counter()

    def add(self, outcome: AgentOutcome) -> None:
        """Count one outcome."""
        with self._lock:
            self.calls += 1
            if outcome.status == "agent":
                self.successes += 1
            else:
                self.fallbacks[outcome.reason or "unknown"] += 1
            self.tool_calls.update(outcome.tool_calls)

    def snapshot(self) -> dict[str, Any]:
        """Counters as a plain dict (for metrics)."""
        with self._lock:
            return {"calls": self.calls, "successes": self.successes, "fallbacks": dict(self.fallbacks),
                    "tool_calls": dict(self.tool_calls)}


class _Fallback(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason, self.detail = reason, detail


class RewardAgent:
    """Plans rewards with an LLM over tools; falls back to `planner` on any failure."""

    def __init__(self, config: AgentConfig, library: Library, sandbox: Any, catalog: Catalog,
                 planner: OfflinePlanner):
        """`sandbox` validates/scores generated verifiers (None: write_verifier and test_plan are refused)."""
        self.config, self.library, self.sandbox, self.catalog, self.planner = config, library, sandbox, catalog, planner
        self.stats = AgentStats()
        self._client = None
        if config.enabled:
            import openai

            self._client = openai.OpenAI(base_url=config.base_url, api_key=config.api_key or "EMPTY",
                                         timeout=config.timeout_s, max_retries=config.max_retries)

    def plan_for(self, query: str, task: str | None = None, reference: str | None = None,
                 meta: Mapping[str, Any] | None = None, samples: Sequence[Any] | None = None, *,
                 signature: str | None = None, evidence: Evidence | None = None,
                 previous: RewardPlan | None = None) -> tuple[RewardPlan, AgentOutcome]:
        """A plan for the query's signature and how it was obtained; never raises for agent faults.

        With `evidence` (and the demoted `previous` plan) the agent is asked to re-plan; its fallback is
        then the planner's `replan`, otherwise the planner's plan.
        """
        t0 = time.perf_counter()
        features = analyse_query(query, task, meta, reference)
        signature = signature or signature_of(features)
        outcome = AgentOutcome(status="agent", signature=signature)
        toolbox = AgentToolbox(self.library, self.sandbox, self.catalog, signature=signature,
                               family=features.family, query=query, reference=reference, meta=meta, samples=samples)
        try:
            if self._client is None:
                raise _Fallback("no_endpoint")
            baseline = self.planner.plan(query, task, reference, meta, signature=signature)
            plan = self._converse(self._opening(query, task, reference, meta, signature, features.family,
                                                baseline, evidence, previous, bool(samples)), toolbox, outcome)
        except Exception as e:  # any agent failure, foreseen or not, ends in the planner's plan
            if isinstance(e, _Fallback):
                outcome.reason = e.reason
                if e.detail:
                    outcome.errors.append(e.detail)
            else:
                log.exception("reward agent failed unexpectedly for %s", signature)
                outcome.reason = "error"
                outcome.errors.append(f"{type(e).__name__}: {e}")
            outcome.status = "fallback"
            plan = (self.planner.replan(previous, evidence) if evidence is not None and previous is not None
                    else self.planner.plan(query, task, reference, meta, signature=signature))
        outcome.verifiers_written = list(toolbox.written)
        outcome.seconds = time.perf_counter() - t0
        self.stats.add(outcome)
        if outcome.status == "agent":
            log.info("reward agent planned %s in %d turns: %s", signature, outcome.turns,
                     [c.id for c in plan.components])
        else:
            log.warning("reward agent fell back to the offline planner for %s: %s%s", signature, outcome.reason,
                        f" ({outcome.errors[-1][:300]})" if outcome.errors else "")
        return plan, outcome

    def _opening(self, query: str, task: str | None, reference: str | None, meta: Mapping[str, Any] | None,
                 signature: str, family: str, baseline: RewardPlan, evidence: Evidence | None,
                 previous: RewardPlan | None, has_samples: bool) -> list[dict[str, Any]]:
        parts = [f"Task signature: {signature}", f"Detected family: {family}", f"Dataset task tag: {task or 'none'}",
                 f"Query:\n{query[:4000]}", f"Reference answer: {reference[:2000] if reference else 'none'}",
                 f"Meta: {json.dumps(dict(meta or {}), default=str)[:2000]}",
                 f"Offline planner's proposal: {baseline.to_json(None)}",
                 f"Sample completions for test_plan: {'yes' if has_samples else 'none'}"]
        if evidence is not None:
            parts.append(f"The current plan was demoted: {evidence.describe()}")
            if previous is not None:
                parts.append(f"Demoted plan: {previous.to_json(None)}. Propose a better one.")
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n\n".join(parts)}]

    def _request(self, messages: list[dict[str, Any]]) -> Any:
        import openai

        try:
            return self._client.chat.completions.create(
                model=self.config.model, messages=messages, tools=TOOL_SCHEMAS, tool_choice="auto",
                max_tokens=self.config.max_tokens, temperature=self.config.temperature, timeout=self.config.timeout_s)
        except openai.APITimeoutError as e:
            raise _Fallback("timeout", str(e)) from e
        except openai.APIConnectionError as e:
            raise _Fallback("connection_error", str(e)) from e
        except openai.APIStatusError as e:
            raise _Fallback("http_error", f"HTTP {e.status_code}: {str(e)[:300]}") from e

    def _converse(self, messages: list[dict[str, Any]], toolbox: AgentToolbox, outcome: AgentOutcome) -> RewardPlan:
        cfg = self.config
        start = time.monotonic()
        malformed = 0
        for _ in range(cfg.max_turns):
            if time.monotonic() - start > cfg.deadline_s:
                raise _Fallback("deadline", f"conversation exceeded {cfg.deadline_s} s")
            try:
                resp = self._request(messages)
                msg = resp.choices[0].message
                calls = list(msg.tool_calls or [])
            except _Fallback:
                raise
            except Exception as e:  # unparsable body or missing fields: the openai client's retries do not cover it
                malformed += 1
                outcome.errors.append(f"malformed response: {type(e).__name__}: {e}")
                if malformed > cfg.malformed_retries:
                    raise _Fallback("malformed_output", outcome.errors[-1]) from e
                time.sleep(cfg.backoff_s * 2 ** (malformed - 1))
                continue
            outcome.turns += 1
            outcome.tokens += int(getattr(getattr(resp, "usage", None), "total_tokens", 0) or 0)
            messages.append({"role": "assistant", "content": msg.content or "", "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.function.name,
                                                                "arguments": c.function.arguments}} for c in calls]}
                            if calls else {"role": "assistant", "content": msg.content or ""})
            bad_turn = not calls
            if bad_turn:
                outcome.errors.append("reply without a tool call")
                messages.append({"role": "user", "content": "error: answer with tool calls only; "
                                                            "finish by calling submit_plan with the plan."})
            for call in calls:
                name = call.function.name
                outcome.tool_calls.append(name)
                try:
                    args = json.loads(call.function.arguments or "{}")
                    if not isinstance(args, dict):
                        raise ValueError(f"expected a JSON object, got {type(args).__name__}")
                except ValueError as e:
                    bad_turn = True
                    result = (f"error: the arguments of {name} are not valid JSON ({e}); resend the call with a "
                              "JSON object matching the tool's parameters")
                    outcome.errors.append(f"malformed arguments for {name}: {e}")
                else:
                    result = toolbox.call(name, args)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
                if toolbox.submitted is not None:
                    return toolbox.submitted
            if bad_turn:
                malformed += 1
                if malformed > cfg.malformed_retries:
                    raise _Fallback("malformed_output", outcome.errors[-1])
                time.sleep(cfg.backoff_s * 2 ** (malformed - 1))
            if outcome.tokens > cfg.token_budget:
                raise _Fallback("token_budget", f"{outcome.tokens} tokens > {cfg.token_budget}")
        raise _Fallback("invalid_plan" if toolbox.invalid_submissions else "turn_budget",
                        f"no valid plan after {cfg.max_turns} turns")

