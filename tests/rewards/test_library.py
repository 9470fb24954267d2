"""Reward library: persistence across runs, self-evolution (failure rate, zero variance), stats, export, CLI."""

from __future__ import annotations

import argparse
import json
import math
import threading

import pytest

from rlar_jax.rewards import cli as rewards_cli
from rlar_jax.rewards.agent import AgentConfig, RewardAgent
from rlar_jax.rewards.resolver import PlanResolver
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.library import PLAN_TOTAL, EvolutionConfig, Library
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.rewards.planner import OfflinePlanner

MATH = {"query": "What is 6 * 7?", "task": "gsm8k", "reference": "42", "meta": {}}
MATH2 = {"query": "What is 5 + 5?", "task": "gsm8k", "reference": "10", "meta": {}}
TRANS = {"query": "Translate into German: good night", "task": None, "reference": "gute Nacht", "meta": {}}
DIALOG = {"query": "How do I stay focused while studying?", "task": None, "reference": None, "meta": {}}
EVO = EvolutionConfig(window=64, min_samples=16, max_failure_rate=0.5, zero_variance_window=8, min_groups=4)


def submit(plan: dict) -> dict:
    """A scripted assistant turn that calls submit_plan (see conftest.ScriptedServer)."""
    return {"calls": [{"name": "submit_plan", "arguments": json.dumps({"plan": plan}), "id": None}]}


def test_seeds_imported(tmp_path):
    with Library(tmp_path / "lib.sqlite") as lib:
        v = lib.get_verifier("math_answer")
        assert v["origin"] == "seed" and v["tasks"] == ["math"] and "def score" in v["source"]
        assert len(v["sha256"]) == 64
        assert lib.knows("verifier", "math_answer") and not lib.knows("verifier", "gen-000000000000")
        assert not lib.knows("reward_model", "judge-policy")
        assert lib.resolver(Catalog())("reward_model", "judge-policy")


def test_library_persists_across_runs_no_second_agent_call(tmp_path, scripted):
    path = tmp_path / "shared" / "reward_library.sqlite"
    items = [MATH, TRANS, MATH2, TRANS, MATH]
    math_plan = {"task_family": "math", "rationale": "check the number",
                 "components": [{"kind": "verifier", "id": "math_answer", "weight": 1.0}]}
    trans_plan = {"task_family": "translation", "rationale": "chrF",
                  "components": [{"kind": "verifier", "id": "translation_chrf", "weight": 1.0},
                                 {"kind": "reward_model", "id": "minilm-embed-sim", "weight": 0.25}]}
    catalog = Catalog()
    planner = OfflinePlanner(catalog)
    with scripted([submit(math_plan), submit(trans_plan)]) as server:
        cfg = AgentConfig(base_url=server.base_url, model="scripted", timeout_s=5, max_retries=0)
        lib = Library(path)
        agent = RewardAgent(cfg, lib, None, catalog, planner)
        first = PlanResolver(lib, planner, agent, max_workers=1).resolve(items)  # replies arrive in request order
        lib.close()
        assert len(server.requests) == 2  # one conversation per new signature, each ended by its first submit
    assert [p.task_signature for p in first] == ["task:gsm8k", "translation:xx-de", "task:gsm8k",
                                                 "translation:xx-de", "task:gsm8k"]
    assert first[0] is first[2] and first[0].created_by == "agent"
    assert [c.weight for c in first[1].components] == [1.0, 0.25]

    with scripted([]) as server:  # an empty script: any request would be answered 500
        cfg = AgentConfig(base_url=server.base_url, model="scripted", timeout_s=5, max_retries=0)
        lib = Library(path)
        agent = RewardAgent(cfg, lib, None, catalog, planner)
        resolver = PlanResolver(lib, planner, agent)
        second = resolver.resolve(items)
        assert len(server.requests) == 0
        assert agent.stats.calls == 0 and resolver.counts["cached"] == 2
        assert [p.plan_id for p in second] == [p.plan_id for p in first]
        # a signature the library has not seen goes to the agent (which here fails -> planner fallback)
        third = resolver.resolve([DIALOG])[0]
        assert len(server.requests) == 1 and agent.stats.fallbacks == {"http_error": 1}
        assert third.created_by == "planner" and [c.id for c in third.components] == ["hh-harmless-bt-smollm2"]
        lib.close()


def test_planner_only_resolver_persists(tmp_path):
    path = tmp_path / "lib.sqlite"
    with Library(path) as lib:
        r1 = PlanResolver(lib, OfflinePlanner())
        p1 = r1.resolve([MATH, DIALOG, MATH2])
        assert r1.counts == {"new": 2}
    with Library(path) as lib:
        r2 = PlanResolver(lib, OfflinePlanner())
        p2 = r2.resolve([MATH2, DIALOG])
        assert r2.counts == {"cached": 2}
        assert [p.plan_id for p in p2] == [p1[2].plan_id, p1[1].plan_id]
        assert lib.list_plans("task:gsm8k")[0]["status"] == "active"


def _store_generated_plan(lib: Library) -> RewardPlan:
    plan = RewardPlan("task:gsm8k", "math", (Component("verifier", "gen-0123456789ab"),), rationale="agent wrote it",
                      created_by="agent")
    return lib.put_plan(plan)


def test_failure_rate_demotes_and_replans(tmp_path):
    with Library(tmp_path / "lib.sqlite", evolution=EVO) as lib:
        stored = _store_generated_plan(lib)
        resolver = PlanResolver(lib, OfflinePlanner())
        # healthy-ish batches: 1 failure in 8 is below the threshold
        lib.record(stored.plan_id, "gen-0123456789ab", [1.0, 0.0, math.nan, 1.0, 0.0, 1.0, 0.0, 1.0], group_size=4)
        lib.record(stored.plan_id, "gen-0123456789ab", [1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0], group_size=4)
        assert lib.needs_replan("task:gsm8k") is None
        assert resolver.resolve([MATH])[0].plan_id == stored.plan_id
        # now the verifier fails on 6 of every 8 samples
        for _ in range(4):
            lib.record(stored.plan_id, "gen-0123456789ab", [math.nan] * 6 + [1.0, 0.0], group_size=4)
        ev = lib.needs_replan("task:gsm8k")
        assert ev is not None and ev.reason == "failure_rate" and ev.component_id == "gen-0123456789ab"
        assert ev.details["samples"] == 48 and ev.details["failures"] == 25
        new = resolver.resolve([MATH])[0]
        assert new.version == 2 and [c.id for c in new.components] == ["math_answer"]
        assert resolver.counts["replanned"] == 1
        old_rec, new_rec = lib.plan_record(stored.plan_id), lib.plan_record(new.plan_id)
        assert old_rec["status"] == "demoted" and old_rec["demotion"]["reason"] == "failure_rate"
        assert new_rec["status"] == "active" and new_rec["evidence"]["component_id"] == "gen-0123456789ab"
        assert old_rec["stats"]["gen-0123456789ab"]["uses"] == 48
        assert lib.needs_replan("task:gsm8k") is None  # the new version starts with a clean record


def test_zero_variance_window_replans_with_reward_model(tmp_path):
    with Library(tmp_path / "lib.sqlite", evolution=EVO) as lib:
        resolver = PlanResolver(lib, OfflinePlanner())
        plan = resolver.resolve([MATH])[0]
        assert [c.id for c in plan.components] == ["math_answer"]
        # groups with spread, then a window of groups where every completion gets the same score
        lib.record(plan.plan_id, "math_answer", [1.0, 0.0, 1.0, 1.0] * 4, group_size=4)
        assert lib.needs_replan("task:gsm8k") is None
        for _ in range(2):
            lib.record(plan.plan_id, "math_answer", [1.0] * 8 + [0.0] * 8, group_size=4)
        ev = lib.needs_replan("task:gsm8k")
        assert ev is not None and ev.reason == "zero_variance"
        assert ev.details["groups"] == 8 and ev.details["zero_variance_groups"] == 8
        new = resolver.resolve([MATH])[0]
        assert new.version == 2
        assert [(c.kind, c.id, c.weight) for c in new.components] == [
            ("verifier", "math_answer", 1.0), ("reward_model", "judge-policy", 0.5)]
        assert lib.plan_record(new.plan_id)["evidence"]["reason"] == "zero_variance"


def test_zero_variance_judged_on_plan_total_when_recorded(tmp_path):
    with Library(":memory:", evolution=EVO) as lib:
        plan = PlanResolver(lib, OfflinePlanner()).resolve([TRANS])[0]
        for c in plan.components:  # each component constant within groups ...
            lib.record(plan.plan_id, c.id, [0.5] * 32, group_size=4)
        assert lib.needs_replan(plan.task_signature).reason == "zero_variance"
        # ... but the combined reward, when recorded, has spread: no verdict
        lib.record(plan.plan_id, PLAN_TOTAL, [0.1, 0.9, 0.4, 0.5] * 8, group_size=4)
        assert lib.needs_replan(plan.task_signature) is None


def test_record_statistics_and_threads(tmp_path):
    with Library(tmp_path / "lib.sqlite", seeds=False) as lib:
        scores = [0.0, 0.5, 1.0, math.nan]
        threads = [threading.Thread(target=lambda: [lib.record("p1", "v", scores, 2) for _ in range(25)])
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        s = lib.component_stats("p1")["v"]
        assert (s["uses"], s["failures"]) == (400, 100)
        assert s["mean"] == pytest.approx(0.5) and s["variance"] == pytest.approx(1 / 6)
        assert s["failure_rate"] == pytest.approx(0.25)
        assert (s["groups"], s["zero_var_groups"]) == (100, 0)  # the (1.0, NaN) group has < 2 finite scores
        with pytest.raises(ValueError, match="group_size: expected an integer >= 1"):
            lib.record("p1", "v", scores, 0)


def test_evolution_config_validation():
    with pytest.raises(ValueError, match="max_failure_rate: expected a number in"):
        EvolutionConfig(max_failure_rate=1.5)
    with pytest.raises(ValueError, match="window: expected an integer >= 1"):
        EvolutionConfig(window=0)


def _run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rlar-jax")
    rewards_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_cli_plan_and_library(tmp_path, capsys):
    path = str(tmp_path / "lib.sqlite")
    assert _run_cli(["plan", "--query", "Translate into German: thank you", "--reference", "danke",
                     "--library", path]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["task_signature"] == "translation:xx-de" and plan["created_by"] == "planner"
    assert [c["id"] for c in plan["components"]] == ["translation_chrf", "minilm-embed-sim"]
    assert _run_cli(["plan", "--query", "What is 2+2?", "--task", "gsm8k", "--reference", "4"]) == 0
    assert json.loads(capsys.readouterr().out)["components"][0]["id"] == "math_answer"
    assert _run_cli(["plan", "--query", "x", "--meta", "[1]"]) == 2
    assert "--meta: expected a JSON object" in capsys.readouterr().err

    assert _run_cli(["library", "list", "--library", path]) == 0
    out = capsys.readouterr().out
    assert plan["plan_id"] in out and "translation:xx-de" in out and "math_answer" in out
    assert _run_cli(["library", "show", plan["plan_id"], "--library", path]) == 0
    assert json.loads(capsys.readouterr().out)["plan"]["plan_id"] == plan["plan_id"]
    assert _run_cli(["library", "show", "translation:xx-de", "--library", path]) == 0
    assert len(json.loads(capsys.readouterr().out)["versions"]) == 1
    assert _run_cli(["library", "show", "nope", "--library", path]) == 1
    assert "is not a plan id, task signature or verifier id" in capsys.readouterr().err
    export = tmp_path / "export.json"
    assert _run_cli(["library", "export", str(export), "--library", path]) == 0
    data = json.loads(export.read_text())
    assert [p["plan"]["plan_id"] for p in data["plans"]] == [plan["plan_id"]]
    assert any(v["id"] == "translation_chrf" and "def score" in v["source"] for v in data["verifiers"])
    assert _run_cli(["library", "list", "--library", str(tmp_path / "missing.sqlite")]) == 2


def test_record_scored_batch_as_the_engine_reports_it(tmp_path):
    with Library.for_run(tmp_path / "run", evolution=EVO) as lib:
        assert lib.path == str(tmp_path / "run" / "reward_library.sqlite")
        resolver = PlanResolver(lib, OfflinePlanner())
        pm, pt = resolver.resolve([MATH, TRANS])
        plan_ids = [pm.plan_id] * 4 + [pt.plan_id] * 4
        comps = [{"verifier:math_answer": s} for s in (1.0, 0.0, 1.0, math.nan)] + [
            {"verifier:translation_chrf": c, "reward_model:minilm-embed-sim": e}
            for c, e in ((0.5, 0.9), (0.7, 0.8), (0.1, 0.2), (0.6, 0.6))]
        rewards = [1.0, 0.0, 1.0, math.nan] + [pt.combine([c["verifier:translation_chrf"],
                                                           c["reward_model:minilm-embed-sim"]]) for c in comps[4:]]
        lib.record_scored(plan_ids, comps, rewards, group_size=4)
        sm, st = lib.component_stats(pm.plan_id), lib.component_stats(pt.plan_id)
        assert (sm["math_answer"]["uses"], sm["math_answer"]["failures"]) == (4, 1)
        assert sm["math_answer"]["mean"] == pytest.approx(2 / 3) and sm[PLAN_TOTAL]["uses"] == 4
        assert set(st) == {"translation_chrf", "minilm-embed-sim", PLAN_TOTAL}
        assert st["minilm-embed-sim"]["mean"] == pytest.approx(0.625)
        assert st[PLAN_TOTAL]["groups"] == 1 and st[PLAN_TOTAL]["zero_var_groups"] == 0
    with Library.for_run(tmp_path / "run", shared_path=tmp_path / "shared.sqlite", seeds=False) as lib:
        assert lib.path == str(tmp_path / "shared.sqlite") and lib.list_plans() == []


def test_cli_plan_uses_agent_when_endpoint_given(tmp_path, capsys, scripted):
    plan = {"task_family": "math", "rationale": "scripted",
            "components": [{"kind": "verifier", "id": "math_answer", "weight": 1.0}]}
    # the nested plan sent as a JSON string is accepted too
    with scripted([{"calls": [{"name": "submit_plan", "arguments": json.dumps({"plan": json.dumps(plan)}),
                               "id": None}]}]) as server:
        assert _run_cli(["plan", "--query", "What is 3 * 3?", "--reference", "9", "--base-url", server.base_url,
                         "--model", "scripted", "--timeout", "5"]) == 0
        assert len(server.requests) == 1
    captured = capsys.readouterr()
    printed = json.loads(captured.out)
    assert printed["created_by"] == "agent" and printed["components"][0]["id"] == "math_answer"
    assert '"successes": 1' in captured.err


def test_put_plan_compare_and_set_across_connections(tmp_path):
    path = tmp_path / "shared.sqlite"
    planner = OfflinePlanner()
    with Library(path) as a, Library(path) as b:
        pa = planner.plan(**{k: MATH[k] for k in ("query", "task", "reference")})
        pb = pa.with_(components=(Component("verifier", "exact_match"),))
        stored = a.put_plan(pa, expect_active=None)
        # b planned the same new signature concurrently: a's plan wins, nothing is written
        assert b.put_plan(pb, expect_active=None) == stored
        assert [p["version"] for p in b.list_plans("task:gsm8k")] == [1]
        # a replan against a stale active id also yields the winner
        assert b.put_plan(pb, expect_active="0" * 16).plan_id == stored.plan_id
        newer = b.put_plan(pb, expect_active=stored.plan_id)
        assert newer.version == 2 and a.active_plan("task:gsm8k") == newer
        assert a.plan_record(stored.plan_id)["status"] == "demoted"


def test_resolver_plans_new_signatures_concurrently(tmp_path):
    with Library(tmp_path / "lib.sqlite") as lib:
        resolver = PlanResolver(lib, OfflinePlanner(), max_workers=3)
        plans = resolver.resolve([MATH, TRANS, DIALOG, MATH2, TRANS] * 3)
        assert resolver.counts == {"new": 3}
        assert len({p.plan_id for p in plans}) == 3 and len(lib.list_plans()) == 3
        assert len(set(plans)) == 3  # plans are hashable (by content id)
