"""The `rewards` section of an experiment: which reward system scores completions, its self-evolution
knobs and the reward agent's endpoint. Declared apart from rlar_jax.config (which builds it into
`ExperimentConfig`) so that neither needs anything from `rlar_jax.rewards`."""

from __future__ import annotations

import dataclasses
from typing import Literal


@dataclasses.dataclass(frozen=True)
class EvolutionConfig:
    """Knobs of self-evolution (all windows count the most recent records of the active plan)."""

    window: int = 256  # samples per component over which the failure rate is measured
    min_samples: int = 32  # no failure-rate verdict before this many samples
    max_failure_rate: float = 0.5  # above this, the component is failing
    zero_variance_window: int = 32  # groups over which within-group variance is checked
    min_groups: int = 8  # no zero-variance verdict before this many groups
    zero_variance_fraction: float = 1.0  # fraction of zero-variance groups that means "no signal"
    variance_eps: float = 1e-9  # a group whose scores span no more than this has zero variance

    def __post_init__(self) -> None:
        for name in ("window", "min_samples", "zero_variance_window", "min_groups"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)!r}")
        for name in ("max_failure_rate", "zero_variance_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a number in [0, 1], got {getattr(self, name)!r}")


@dataclasses.dataclass
class AgentSection:
    """The reward agent's OpenAI-compatible endpoint and bounds; unset = the offline planner decides every plan.
    Every agent knob is declared here once; `rlar_jax.rewards.agent.AgentConfig` is this plus the resolved key."""

    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1 (else env RLAR_JAX_AGENT_BASE_URL)
    model: str | None = None  # else env RLAR_JAX_AGENT_MODEL
    api_key_env: str = "RLAR_JAX_AGENT_API_KEY"  # name of the environment variable holding the key
    max_turns: int = 8  # model responses per planning conversation
    max_tokens: int = 1024  # per model response
    token_budget: int = 32_000  # prompt + completion tokens per conversation
    timeout_s: float = 60.0  # per HTTP request
    deadline_s: float = 300.0  # whole conversation; on expiry the planner's plan is used
    max_retries: int = 2  # the openai client's own retries (connection errors, 408/409/429/5xx) with backoff
    malformed_retries: int = 2  # malformed responses tolerated (each answered with the error, after a backoff)
    backoff_s: float = 0.5  # base of the exponential backoff after malformed output
    temperature: float = 0.0  # of the agent's responses
    # search_reward_models also asks the Hugging Face hub (HF_ENDPOINT) for sequence-classification
    # reward models of a supported architecture; found ones load as `hf:<repo id>` into Flax
    hub_search: bool = False

    def __post_init__(self) -> None:
        for name in ("max_turns", "max_tokens", "token_budget"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"agent.{name}: expected an integer >= 1, got {getattr(self, name)!r}")
        for name in ("timeout_s", "deadline_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"agent.{name}: expected seconds > 0, got {getattr(self, name)!r}")
        for name in ("max_retries", "malformed_retries"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"agent.{name}: expected an integer >= 0, got {getattr(self, name)!r}")


@dataclasses.dataclass
class RewardsSection:
    """Which reward system scores completions."""

    system: Literal["rlar", "gsm8k", "verifier", "static", "custom"] = "rlar"  # rlar: planner/agent + sandboxed
    # verifiers; gsm8k: the sandboxed math_answer verifier alone; verifier: the one sandboxed verifier
    # `verifier` for every task; static: one reward model (`static_model`) for every task, the
    # single-reward-model baseline; custom: `custom` below
    verifier: str = "math_answer"  # used by system verifier: a seed verifier id or a path to a .py verifier
    static_model: str = "minilm-embed-sim"  # catalog id used by system static
    custom: str | None = None  # "module:attr" of trusted user code: a RewardFn or a zero-argument factory
    library: str | None = None  # reward library path; default <run_dir>/reward_library.sqlite
    processes: int = 1  # sandbox worker processes (spawned) scoring verifiers in parallel
    mode: Literal["task", "per_query"] = "task"  # consult planner/agent once per task signature or per query
    replan: bool = True  # demote and re-plan signatures whose plans fail or give no learning signal
    # when a plan counts as failing or as giving no learning signal (windows, thresholds); each knob
    # is documented in rlar_jax/rewards/evolution.py, e.g. zero_variance_fraction: 0.9
    evolution: EvolutionConfig = dataclasses.field(default_factory=EvolutionConfig)
    agent: AgentSection = dataclasses.field(default_factory=AgentSection)
