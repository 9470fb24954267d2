"""The reward agent against a scripted OpenAI-compatible server on loopback, with the real openai client.

Each conversation ends in a valid agent plan or in the offline planner's fallback, is counted in
AgentStats and logged; the server's recorded requests show which tool results the agent saw.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from rlar_jax.rewards.agent import AgentConfig, RewardAgent
from rlar_jax.rewards.agent_tools import TOOL_SCHEMAS
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.planner import OfflinePlanner

LOGGER = "rlar_jax.rewards.agent"
UNITS_Q = "A cyclist rides at 24 km/h for 30 minutes. How far does she ride? Give the answer with its unit."

FIXED = '''"""Distance with unit: the last number+unit in the response must equal the reference (e.g. 12km)."""
import re


def score(prompt, response, reference, meta):
    found = re.findall(r"-?\\d+(?:\\.\\d+)?\\s*[a-z]+", response.lower())
    want = reference.replace(" ", "").lower()
    return 1.0 if found and found[-1].replace(" ", "") == want else 0.0


CASES = [
    ("How far?", "It is 12 km", "12km", {}, 1.0),
    ("How far?", "It is 13 km", "12km", {}, 0.0),
    ("How far?", "no idea", "12km", {}, 0.0),
]
'''
BUGGY = FIXED.replace("import re\n", "")  # the classic slip: uses re without importing it


def agent_for(server, library=None, sandbox=None, catalog=None, **cfg) -> RewardAgent:
    catalog = catalog or Catalog()
    config = AgentConfig(base_url=server.base_url, model="scripted", timeout_s=cfg.pop("timeout_s", 5.0),
                         max_retries=cfg.pop("max_retries", 0), backoff_s=0.01, **cfg)
    return RewardAgent(config, library or Library(":memory:"), sandbox, catalog, OfflinePlanner(catalog))


def plan_arg(family: str, *components: tuple[str, str, float]) -> dict:
    return {"plan": {"task_family": family, "rationale": "scripted",
                     "components": [{"kind": k, "id": i, "weight": w} for k, i, w in components]}}


def test_writes_buggy_verifier_reads_failure_fixes_and_submits(scripted, call, sandbox, caplog):
    from rlar_jax.sandbox import source_sha256

    caplog.set_level(logging.INFO, logger=LOGGER)
    gen_id = f"gen-{source_sha256(FIXED)[:12]}"
    plan = plan_arg("math", ("verifier", gen_id, 1.0))
    script = [{"calls": [call("list_verifiers", {"task": "math"})]},
              {"calls": [call("write_verifier", {"source": BUGGY, "task": "math"})]},
              {"calls": [call("write_verifier", {"source": FIXED, "task": "math"})]},
              {"calls": [call("test_plan", plan)]},
              {"calls": [call("submit_plan", plan)]}]
    library = Library(":memory:")
    with scripted(script) as server:
        agent = agent_for(server, library, sandbox)
        result, outcome = agent.plan_for(UNITS_Q, "units_qa", "12km", {},
                                         samples=["She rides 12 km.", "About 15 km", "twelve kilometres"])
    assert len(server.requests) == 5
    assert "math_answer" in server.tool_results(1)[-1]
    failure = server.tool_results(2)[-1]
    assert failure.startswith("rejected: verifier") and "NameError" in failure and "name 're' is not defined" in failure
    assert "case 0: expected 1.0, got None" in failure and "0/3 cases passed" in failure
    assert server.tool_results(3)[-1].startswith(f"accepted: verifier id {gen_id} (3/3 CASES passed)")
    tested = json.loads(server.tool_results(4)[-1])
    assert [row["reward"] for row in tested] == [1.0, 0.0, 0.0]
    assert result.created_by == "agent" and result.task_signature == "task:units_qa"
    assert [(c.kind, c.id) for c in result.components] == [("verifier", gen_id)]
    assert outcome.status == "agent" and outcome.turns == 5 and outcome.verifiers_written == [gen_id]
    assert outcome.tool_calls == ["list_verifiers", "write_verifier", "write_verifier", "test_plan", "submit_plan"]
    stored = library.get_verifier(gen_id)
    assert stored["origin"] == "generated" and stored["validation"]["ok"] is True and stored["source"] == FIXED
    assert library.get_verifier(f"gen-{source_sha256(BUGGY)[:12]}") is None  # the rejected one was not stored
    assert agent.stats.snapshot()["successes"] == 1 and agent.stats.tool_calls["write_verifier"] == 2
    assert any("reward agent planned task:units_qa in 5 turns" in r.getMessage() for r in caplog.records)


def test_retrieves_reward_model_via_search_and_describe(scripted, call, isolated_home, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    reg = isolated_home / "reward_models"
    reg.mkdir()
    (reg / "hh.json").write_text(json.dumps({
        "id": "hh-bt-smollm2", "kind": "bt_head", "architecture": "llama", "source": "/models/hh-bt",
        "tasks": ["dialogue", "harmlessness"], "description": "Bradley-Terry head trained on HH-harmless pairs"}))
    script = [{"calls": [call("search_reward_models", {"query": "harmless dialogue", "task": "dialogue"})]},
              {"calls": [call("describe_reward_model", {"id": "hh-bt-smollm2"})]},
              {"calls": [call("submit_plan", plan_arg("dialogue", ("reward_model", "hh-bt-smollm2", 1.0)))]}]
    with scripted(script) as server:
        agent = agent_for(server)
        plan, outcome = agent.plan_for("My roommate keeps eating my food. What should I do?")
    first = server.requests[0]["body"]
    assert first["model"] == "scripted" and [t["function"]["name"] for t in first["tools"]] == [
        t["function"]["name"] for t in TOOL_SCHEMAS]
    assert first["messages"][0]["role"] == "system" and "roommate" in first["messages"][1]["content"]
    assert "Offline planner's proposal" in first["messages"][1]["content"]
    found = json.loads(server.tool_results(1)[-1])
    ids = [f["id"] for f in found]  # the shipped head, measured on HH-harmless, ranks above the unmeasured one
    assert ids[0] == "hh-harmless-bt-smollm2" and "hh-bt-smollm2" in ids, ids
    assert json.loads(server.tool_results(2)[-1])["kind"] == "bt_head"
    assert outcome.status == "agent" and plan.task_family == "dialogue"
    assert [(c.kind, c.id) for c in plan.components] == [("reward_model", "hh-bt-smollm2")]
    assert agent.stats.snapshot() == {"calls": 1, "successes": 1, "fallbacks": {}, "tool_calls": {
        "search_reward_models": 1, "describe_reward_model": 1, "submit_plan": 1}}
    assert any("reward agent planned dialogue" in r.getMessage() for r in caplog.records)


def test_malformed_tool_call_json_is_fed_back_then_recovers(scripted, call, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    script = [{"calls": [call("submit_plan", '{"plan": {"task_family": "math", "components": [')]},
              {"calls": [call("submit_plan", plan_arg("math", ("verifier", "math_answer", 1.0)))]}]
    with scripted(script) as server:
        agent = agent_for(server)
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
    assert "not valid JSON" in server.tool_results(1)[-1]
    assert outcome.status == "agent" and outcome.errors and "malformed arguments" in outcome.errors[0]
    assert plan.created_by == "agent" and agent.stats.successes == 1


def test_persistently_malformed_output_falls_back(scripted, call, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    script = [{"calls": [call("submit_plan", "{plan: math_answer}")]},
              {"content": "The plan is: use math_answer."},
              {"calls": [call("submit_plan", plan_arg("math", ("verifier", "math_answer", 1.0)))]}]
    with scripted(script) as server:
        agent = agent_for(server, malformed_retries=1)
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
    assert len(server.requests) == 2  # gave up after the second malformed turn, before the good one
    assert "not valid JSON" in server.tool_results(1)[-1]
    assert (outcome.status, outcome.reason) == ("fallback", "malformed_output")
    expected = OfflinePlanner(Catalog()).plan("What is 9 * 8?", None, "72")
    assert plan.plan_id == expected.plan_id and plan.created_by == "planner"
    assert agent.stats.fallbacks == {"malformed_output": 1} and agent.stats.successes == 0
    assert any(r.levelno == logging.WARNING and "fell back to the offline planner" in r.getMessage()
               and "malformed_output" in r.getMessage() for r in caplog.records)


def test_invalid_plans_rejected_with_field_errors_then_turn_budget_fallback(scripted, call, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    script = [{"calls": [call("submit_plan", plan_arg("math", ("verifier", "nonexistent", -1.0)))]},
              {"calls": [call("submit_plan", plan_arg("poetry", ("verifier", "math_answer", 1.0)))]}]
    with scripted(script) as server:
        agent = agent_for(server, max_turns=2)
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
    rejection = server.tool_results(1)[-1]
    assert "components[0].id: unknown verifier 'nonexistent'" in rejection
    assert "components[0].weight: expected a finite number > 0, got -1.0" in rejection
    assert (outcome.status, outcome.reason) == ("fallback", "invalid_plan")
    assert plan.created_by == "planner" and [c.id for c in plan.components] == ["math_answer"]
    assert any("invalid_plan" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_slow_endpoint_times_out_and_falls_back(scripted, call, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    slow = {"sleep": 5.0, "calls": [call("submit_plan", plan_arg("math", ("verifier", "math_answer", 1.0)))]}
    with scripted([slow, dict(slow)]) as server:
        agent = agent_for(server, timeout_s=0.5, max_retries=1)
        t0 = time.perf_counter()
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
        elapsed = time.perf_counter() - t0
        assert len(server.requests) == 2  # the first attempt and the client's one retry
    assert elapsed < 4.0
    assert (outcome.status, outcome.reason) == ("fallback", "timeout")
    assert plan.created_by == "planner" and agent.stats.fallbacks == {"timeout": 1}
    assert any("fell back" in r.getMessage() and "timeout" in r.getMessage() for r in caplog.records)


def test_http_500_retried_then_falls_back(scripted, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    with scripted([{"status": 500}] * 3) as server:
        agent = agent_for(server, max_retries=2)
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
        assert len(server.requests) == 3
    assert (outcome.status, outcome.reason) == ("fallback", "http_error") and "HTTP 500" in outcome.errors[-1]
    assert plan.created_by == "planner" and agent.stats.snapshot()["fallbacks"] == {"http_error": 1}
    assert any("http_error" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_http_500_then_success_recovers_through_client_retry(scripted, call):
    script = [{"status": 500}, {"calls": [call("submit_plan", plan_arg("math", ("verifier", "math_answer", 2.0)))]}]
    with scripted(script) as server:
        agent = agent_for(server, max_retries=2)
        plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
        assert len(server.requests) == 2
    assert outcome.status == "agent" and plan.components[0].weight == 2.0


def test_no_endpoint_and_unreachable_endpoint_fall_back(scripted, caplog):
    caplog.set_level(logging.INFO, logger=LOGGER)
    catalog = Catalog()
    agent = RewardAgent(AgentConfig(), Library(":memory:"), None, catalog, OfflinePlanner(catalog))
    plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
    assert (outcome.status, outcome.reason) == ("fallback", "no_endpoint") and plan.created_by == "planner"
    with scripted([]) as server:
        url = server.base_url
    agent = RewardAgent(AgentConfig(base_url=url, model="m", timeout_s=1.0, max_retries=0), Library(":memory:"),
                        None, catalog, OfflinePlanner(catalog))
    plan, outcome = agent.plan_for("What is 9 * 8?", None, "72")
    assert (outcome.status, outcome.reason) == ("fallback", "connection_error")


def test_config_from_env_and_validation(monkeypatch):
    monkeypatch.setenv("RLAR_JAX_AGENT_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RLAR_JAX_AGENT_MODEL", "qwen")
    cfg = AgentConfig.from_env(api_key="k", model=None)
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.enabled) == ("http://127.0.0.1:9/v1", "qwen", "k", True)
    with pytest.raises(ValueError, match="agent.max_turns: expected an integer >= 1"):
        AgentConfig(max_turns=0)
    with pytest.raises(ValueError, match="agent.timeout_s: expected seconds > 0"):
        AgentConfig(timeout_s=0)


def test_replan_gives_evidence_to_agent(scripted, call, caplog):
    from rlar_jax.rewards.resolver import PlanResolver
    from rlar_jax.rewards.evolution import EvolutionConfig

    caplog.set_level(logging.INFO)
    library = Library(":memory:", evolution=EvolutionConfig(window=32, min_samples=16))
    item = {"query": "What is 9 * 8?", "task": "gsm8k", "reference": "72"}
    planner = OfflinePlanner(Catalog())
    first = library.put_plan(planner.plan(**item))
    library.record(first.plan_id, "math_answer", [float("nan")] * 12 + [1.0, 0.0, 1.0, 0.0], group_size=4)
    script = [{"calls": [call("submit_plan", plan_arg("math", ("verifier", "math_answer", 1.0),
                                                      ("reward_model", "judge-policy", 0.25)))]}]
    with scripted(script) as server:
        agent = agent_for(server, library)
        new = PlanResolver(library, planner, agent).resolve([item])[0]
    opening = server.messages(0)[1]["content"]
    assert "The current plan was demoted" in opening and "failure_rate of component 'math_answer'" in opening
    assert first.plan_id in opening
    assert (new.version, new.created_by, [c.weight for c in new.components]) == (2, "agent", [1.0, 0.25])
    assert library.plan_record(first.plan_id)["demotion"]["details"]["failures"] == 12
    assert any("demoted for task:gsm8k; now v2 (agent)" in r.getMessage() for r in caplog.records)


def test_agent_knobs_come_from_the_yaml_section_with_one_set_of_defaults(tmp_path, monkeypatch):
    """Every AgentConfig knob is a `rewards.agent` key, declared once; the key comes from api_key_env."""
    import dataclasses

    from rlar_jax.config import AgentSection, ConfigError, load_config
    from rlar_jax.rewards.system import agent_config

    section = {f.name for f in dataclasses.fields(AgentSection)}
    assert {f.name for f in dataclasses.fields(AgentConfig)} == section | {"api_key"}

    monkeypatch.setenv("MY_AGENT_KEY", "sk-test")
    monkeypatch.delenv("RLAR_JAX_AGENT_BASE_URL", raising=False)
    monkeypatch.setenv("RLAR_JAX_AGENT_MODEL", "from-env")
    tiny = Path(__file__).resolve().parents[2] / "configs" / "tiny.yaml"
    cfg = load_config(tiny, ["rewards.agent.base_url=http://127.0.0.1:9/v1", "rewards.agent.api_key_env=MY_AGENT_KEY",
                             "rewards.agent.max_tokens=256", "rewards.agent.token_budget=4000",
                             "rewards.agent.malformed_retries=0", "rewards.agent.temperature=0.3"])
    agent = agent_config(cfg.rewards)
    assert (agent.base_url, agent.model, agent.api_key) == ("http://127.0.0.1:9/v1", "from-env", "sk-test")
    assert (agent.max_tokens, agent.token_budget, agent.malformed_retries, agent.temperature) == (256, 4000, 0, 0.3)
    assert agent.enabled and agent.max_turns == AgentSection.max_turns
    with pytest.raises(ConfigError, match="agent.max_tokens: expected an integer >= 1"):
        load_config(tiny, ["rewards.agent.max_tokens=0"])
