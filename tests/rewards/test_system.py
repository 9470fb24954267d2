"""The RLAR reward system inside training: provenance, library reuse, and self-evolution mid-run."""

import json
from pathlib import Path

import numpy as np

from rlar_jax.config import load_config
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.plan import Component, RewardPlan
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


# Passes its CASES, then fails every call after its 20th (instances persist per verifier in the sandbox).
FLAKY = '''
CALLS = [0]
CASES = [("q", "abc", "", {}, 0.5), ("q", "ab", "", {}, 0.0), ("q", "a", "", {}, 1.0)]

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
