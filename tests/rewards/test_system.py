"""The RLAR reward system inside training: provenance, library reuse, and self-evolution mid-run."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from rlar_jax.config import load_config
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import Component, RewardPlan
from rlar_jax.sandbox import Limits
from rlar_jax.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
QUIET = ["trainer.eval_before=false", "trainer.eval_after=false", "trainer.checkpoint_every=0",
         "trainer.plot=false", "trainer.tensorboard=false"]


def _run(overrides: list[str]) -> tuple[list[dict], Trainer]:
    cfg = load_config(TINY, QUIET + overrides)
    trainer = Trainer(cfg)
    try:
        trainer.run()
    finally:
        trainer.close()
    rows = [json.loads(l) for l in (Path(cfg.trainer.run_dir) / "metrics.jsonl").read_text().splitlines()]
    return rows, trainer


def test_tiny_run_scores_with_sandboxed_verifiers_and_reuses_the_library(tmp_path):
    lib = tmp_path / "lib.sqlite"
    rows, trainer = _run([f"trainer.run_dir={tmp_path / 'a'}", "trainer.steps=2", f"rewards.library={lib}"])
    assert trainer.reward_fn.resolver.counts["new"] == 1  # one signature (task:math), planned once
    with Library(lib) as library:
        plan = library.active_plan("task:math")
        assert [c.id for c in plan.components] == ["math_answer"]
        stats = library.component_stats(plan.plan_id)
    assert stats["math_answer"]["uses"] == 16 and stats["math_answer"]["groups"] == 4  # 2 steps x 2 prompts x G=4
    for r in rows:  # provenance: which plan scored how many samples
        assert r["reward/plans"] == {plan.plan_id: 8}
        assert r["reward/failed"] == 0
    # A second run on the same library reuses the plan: no planning at all.
    _, second = _run([f"trainer.run_dir={tmp_path / 'b'}", "trainer.steps=1", f"rewards.library={lib}"])
    assert second.reward_fn.resolver.counts["new"] == 0 and second.reward_fn.resolver.counts["cached"] >= 1


# Passes its CASES (re-validated on fresh instances before the stored plan's first use), then fails every
# scoring call after its 20th (the scoring instance persists per verifier in the sandbox).
FLAKY = '''
CALLS = [0]
CASES = [("q", "abc", "", {}, 0.0), ("q", "ab", "", {}, 1.0), ("q", "a", "", {}, 0.5)]

def score(prompt, response, reference, meta):
    CALLS[0] += 1
    if CALLS[0] > 20:
        raise RuntimeError("backend went away")
    return (len(response) % 3) / 2
'''


def test_failing_verifier_is_demoted_and_replanned_while_training_continues(tmp_path):
    lib = tmp_path / "lib.sqlite"
    with Library(lib) as library:
        gen = library.add_verifier(FLAKY, origin="generated", tasks=["math"])
        first = library.put_plan(RewardPlan("task:math", "math", (Component("verifier", gen, 1.0),),
                                            rationale="generated checker", created_by="agent"))
    rows, trainer = _run([f"trainer.run_dir={tmp_path / 'run'}", "trainer.steps=7", f"rewards.library={lib}",
                          "rewards.replan=true"])
    failed = [r["reward/failed"] for r in rows]
    plans = [set(r["reward/plans"]) for r in rows]
    assert len(rows) == 7  # training went on through the failures
    assert failed[0] == 0 and max(failed) == 8  # fine at first, then every sample of a step failed (NaN)
    assert plans[0] == {first.plan_id} and plans[-1] != {first.plan_id}
    assert failed[-1] == 0  # the re-planned signature scores again
    with Library(lib) as library:
        new = library.active_plan("task:math")
        assert [c.id for c in new.components] == ["math_answer"] and new.version == 2
        history = library.list_plans("task:math")
    assert any(p["plan_id"] == first.plan_id and p["status"] == "demoted" for p in history)
    assert trainer.reward_fn.resolver.counts["replanned"] == 1
    assert all(np.isfinite(r["loss"]) for r in rows)


# Honest for its first three calls (its three CASES), then 1.0 for everything.
AFTER_VALIDATION = '''
CALLS = [0]
CASES = [("q", "#### 4", "#### 4", {}, 1.0), ("q", "#### 5", "#### 4", {}, 0.0), ("q", "", "#### 4", {}, 0.0)]

def score(prompt, response, reference, meta):
    CALLS[0] += 1
    if CALLS[0] > 3:
        return 1.0
    return 1.0 if response == reference else 0.0
'''
BROKEN_CASES = '''
def score(prompt, response, reference, meta):
    return 1.0

CASES = [("q", "#### 4", "#### 4", {}, 1.0), ("q", "#### 5", "#### 4", {}, 0.0)]
'''


def _system(library: Library, sandbox):
    from rlar_jax.datasets.examples import Example
    from rlar_jax.rewards.resolver import PlanResolver
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.rewards.planner import OfflinePlanner
    from rlar_jax.rewards.system import RLARSystem

    catalog = Catalog()
    resolver = PlanResolver(library, OfflinePlanner(catalog), None, validator=sandbox)
    example = Example(({"role": "user", "content": "What is 2 + 2?"},), "#### 4", "math")
    return RLARSystem(sandbox, library, resolver, catalog), example, resolver.signature(example)


def _stored_plan(library: Library, source: str, sig: str) -> tuple[str, RewardPlan]:
    gen = library.add_verifier(source, origin="generated", tasks=["math"])
    return gen, library.put_plan(RewardPlan(sig, "math", (Component("verifier", gen, 1.0),), rationale="generated",
                                            created_by="agent"))


def test_verifier_that_changes_after_validation_is_caught_and_demoted_with_evidence(sandbox, tmp_path):
    with Library(tmp_path / "lib.sqlite") as library:
        system, example, sig = _system(library, sandbox)
        gen, first = _stored_plan(library, AFTER_VALIDATION, sig)
        # Re-validated before first use (3/3 on fresh instances), then it scores rows 4-8 as 1.0: the audit
        # of the call catches it and every row of the call is masked.
        rewards, prov = system.score([example] * 8, ["#### 5"] * 8)
        assert np.isnan(rewards).all()
        assert all(p["errors"][f"verifier:{gen}"].startswith("integrity: ") for p in prov)
        evidence = library.needs_replan(sig)
        assert (evidence.reason, evidence.component_id, evidence.details["rows"]) == ("integrity", gen, 8)
        assert "row 7 scored 1.0 in its call but 0.0 when re-scored" in evidence.details["message"]
        # The next lookup demotes the plan with that evidence and swaps in the seed verifier.
        rewards, _ = system.score([example] * 8, ["#### 5"] * 4 + ["#### 4"] * 4)
        assert rewards.tolist() == [0.0] * 4 + [1.0] * 4
        record = library.plan_record(first.plan_id)
        assert record["status"] == "demoted" and record["demotion"]["reason"] == "integrity"
        assert [c.id for c in library.active_plan(sig).components] == ["math_answer"]


def test_stored_plan_is_revalidated_before_its_first_use(sandbox, tmp_path):
    with Library(tmp_path / "lib.sqlite") as library:
        system, example, sig = _system(library, sandbox)
        gen, first = _stored_plan(library, BROKEN_CASES, sig)
        rewards, _ = system.score([example] * 4, ["#### 5", "#### 4", "#### 5", "#### 4"])
        assert rewards.tolist() == [0.0, 1.0, 0.0, 1.0]  # scored by the replacement, never by the broken one
        record = library.plan_record(first.plan_id)
        assert record["status"] == "demoted" and record["demotion"]["reason"] == "validation_failed"
        assert record["demotion"]["details"]["failed_cases"][0]["index"] == 1
        assert system.resolver.counts["replanned"] == 1


# Passes its CASES, then, on a training row whose completion has an odd length, rewrites the harness's report
# writer (reached through its frame) so that the row's report is malformed: nested 200,000 levels deep, or a
# 60 MB message.
HOSTILE_REPORTS = '''
import sys
CASES = [("q", "ab", "", {}, 1.0), ("q", "abcd", "", {}, 1.0)]
DEEP = "[" * 200_000 + "]" * 200_000
HUGE = '{"score": null, "kind": "exception", "message": "' + "x" * 60_000_000 + '"}'

def score(prompt, response, reference, meta):
    if len(response) % 2:
        payload = DEEP if len(response) % 4 == 1 else HUGE
        sys._getframe(1).f_globals["_dumps"] = lambda *a, **k: payload
        raise ValueError("this row's report is the payload")
    return 1.0 if len(response) % 4 == 0 else 0.5
'''


@pytest.mark.slow  # ~45 s: three training steps through the sandbox (the CI runs the slow suite too)
def test_training_through_a_hostile_verifier_finishes_with_its_rows_masked(tmp_path):
    """A stored plan's verifier attacks the host through its reports on the rows it chooses. Training runs it
    through the packed batch path with the default sandbox limits: every step finishes, the attacked rows
    are NaN and counted, the others keep their scores, and the update stays finite."""
    lib = tmp_path / "lib.sqlite"
    with Library(lib) as library:
        gen = library.add_verifier(HOSTILE_REPORTS, origin="generated", tasks=["math"])
        plan = library.put_plan(RewardPlan("task:math", "math", (Component("verifier", gen, 1.0),),
                                           rationale="generated checker", created_by="agent"))
    rows, trainer = _run([f"trainer.run_dir={tmp_path / 'run'}", "trainer.steps=3", f"rewards.library={lib}"])
    assert trainer.reward_fn.backend.limits == Limits()  # the defaults a training run gets
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert all(r["reward/plans"] == {plan.plan_id: 8} for r in rows)  # the hostile plan scored every row
    failed = sum(r["reward/failed"] for r in rows)
    assert 0 < failed < 24  # odd-length completions only
    assert all(np.isnan(r["reward/mean"]) == (r["reward/failed"] == 8) for r in rows)
    finite = [r["reward/mean"] for r in rows if r["reward/failed"] < 8]
    assert all(0.5 <= m <= 1.0 for m in finite)  # the rows left score 0.5 or 1.0: none took a failed row's value
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["grad_norm"]) for r in rows)
    params = jax.tree.leaves(nnx.state(trainer.policy.model, nnx.Param))
    assert all(bool(jnp.isfinite(p).all()) for p in params)
    assert rows[-1]["rewards/failed_samples"] == failed  # counted where they happened
    assert rows[-1][f"rewards/failures/verifier:{gen}"] == failed  # ...and charged to the hostile verifier
