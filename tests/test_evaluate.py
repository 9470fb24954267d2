"""`rlar-jax eval`: per-task metrics of a checkpoint trained on the tiny config, and the metric functions."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from rlar_jax.config import load_config
from rlar_jax.datasets.registry import BUNDLED_DIR

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
DATA = BUNDLED_DIR
TASKS = ("[{kind: gsm8k, name: math, path: gsm8k:test, limit: 8},"
         " {kind: mbpp, name: code, path: mbpp, limit: 8},"
         " {kind: wmt, name: translation, path: wmt22:en-de, limit: 8},"
         " {kind: hh, name: dialogue, path: hh_rlhf_harmless:test, limit: 8,"
         "  reward_model: minilm-embed-sim}]")


def _overrides(run_dir: Path) -> list[str]:
    return [f"trainer.run_dir={run_dir}", "trainer.steps=2", "trainer.checkpoint_every=1", "trainer.prompts_per_step=4",
            "trainer.eval_before=false", "trainer.eval_after=false", "trainer.plot=false", "trainer.tensorboard=false",
            "rewards.system=custom", "rewards.custom=rewards_for_tests:LengthReward", f"data.tasks={TASKS}",
            "data.eval_size=2", "sampling.max_new_tokens=12"]


def test_eval_of_a_trained_checkpoint(tmp_path, capsys, monkeypatch):
    from rlar_jax import cli
    from rlar_jax.evaluate import restore_params
    from rlar_jax.policy import build_policy
    from rlar_jax.trainer import Trainer

    monkeypatch.syspath_prepend(str(ROOT / "tests"))
    run_dir = tmp_path / "run"
    cfg = load_config(TINY, _overrides(run_dir))
    trainer = Trainer(cfg)
    assert {e.task for e in trainer.train_examples[:4]} == {"math", "code", "translation", "dialogue"}
    trainer.run()
    trained = jax.device_get(nnx.state(trainer.policy.model, nnx.Param))
    trainer.close()

    # restoring the checkpoint gives exactly the trained parameters (which differ from the initial ones)
    policy = build_policy(cfg.model, None)
    initial = jax.device_get(nnx.state(policy.model, nnx.Param))
    assert restore_params(policy, cfg, run_dir / "checkpoints" / "2") == 2
    restored = jax.device_get(nnx.state(policy.model, nnx.Param))
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(restored), jax.tree.leaves(trained)))
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(initial), jax.tree.leaves(trained)))

    assert cli.main(["eval", "--config", str(TINY), "--checkpoint", str(run_dir), "--batch-size", "8",
                     *_overrides(run_dir)]) == 0
    out = capsys.readouterr().out
    result = json.loads((run_dir / "eval.json").read_text())
    assert result["step"] == 2 and result["n"] == 8 and result["config"]["data"]["eval_size"] == 2
    tasks = result["tasks"]
    assert {t: (r["family"], r["n"]) for t, r in tasks.items()} == {
        "math": ("math", 2), "code": ("code", 2), "translation": ("translation", 2), "dialogue": ("dialogue", 2)}
    assert all("error" not in r and r["failed"] == 0 for r in tasks.values()), tasks
    assert 0.0 <= tasks["math"]["accuracy"] <= 1.0 and 0.0 <= tasks["code"]["pass@1"] <= 1.0
    for k in ("chrf", "bleu", "corpus_chrf", "corpus_bleu"):
        assert 0.0 <= tasks["translation"][k] <= 100.0
    d = tasks["dialogue"]
    assert d["reward_model"] == "minilm-embed-sim"
    assert 0.0 <= d["rm_score"] <= 1.0 and 0.0 <= d["baseline_rm_score"] <= 1.0 and 0.0 <= d["win_rate"] <= 1.0
    table = (run_dir / "eval.txt").read_text()
    for word in ("math", "accuracy", "pass@1", "chrf", "bleu", "win_rate", "ci_low", "overall", "macro"):
        assert word in table and word in out

    # Both policies scored on the same prompts: per-prompt primary scores, before/after table with CIs.
    assert {t: r["method"] for t, r in tasks.items()} == {
        "math": "verifier", "code": "verifier", "translation": "verifier", "dialogue": "reward_model"}
    scores = result["scores"]
    assert scores["task"] == ["math"] * 2 + ["code"] * 2 + ["translation"] * 2 + ["dialogue"] * 2
    assert len(scores["before"]) == len(scores["after"]) == len(scores["uid"]) == 8
    rows = result["gain"]["rows"]
    assert set(rows) == {"math", "code", "translation", "dialogue", "overall", "macro"}
    assert (result["gain"]["confidence"], result["gain"]["resamples"]) == (0.95, 10000)
    for i, task in enumerate(["math", "code", "translation", "dialogue"]):
        r, pair = rows[task], slice(2 * i, 2 * i + 2)
        assert r["n"] == 2 and r["after"] == pytest.approx(tasks[task]["score"])
        assert r["before"] == pytest.approx(tasks[task]["baseline"]["score"])
        assert r["before"] == pytest.approx(np.mean(scores["before"][pair]))
        assert r["gain"] == pytest.approx(r["after"] - r["before"])
        assert r["ci_low"] - 1e-12 <= r["gain"] <= r["ci_high"] + 1e-12
    assert rows["math"]["after"] == tasks["math"]["accuracy"] and rows["code"]["after"] == tasks["code"]["pass@1"]
    assert rows["translation"]["after"] * 100 == pytest.approx(tasks["translation"]["chrf"])
    assert rows["dialogue"]["after"] == pytest.approx(d["rm_score"])
    assert rows["dialogue"]["before"] == pytest.approx(d["baseline_rm_score"])
    assert rows["overall"]["n"] == 8 and rows["overall"]["after"] == pytest.approx(np.mean(scores["after"]))
    assert rows["macro"]["after"] == pytest.approx(np.mean([tasks[t]["score"] for t in tasks]))
    assert result["overall"]["overall"] == {"n": 8, "score": pytest.approx(rows["overall"]["after"])}


def test_verified_metrics_on_gold_and_wrong_answers():
    """Gold references score 1 / 100 and wrong answers 0, through the sandboxed verifiers."""
    from rlar_jax.datasets import load_mbpp, load_wmt
    from rlar_jax.datasets.problems import load_gsm8k
    from rlar_jax.evaluate import task_family, verified_metrics
    from rlar_jax.sandbox import Sandbox

    math_ex = load_gsm8k(DATA / "gsm8k" / "test.jsonl.gz", limit=4)
    code_ex = load_mbpp(DATA / "mbpp" / "mbpp.jsonl.gz", split="test", limit=2)
    wmt_ex = load_wmt(DATA / "wmt22" / "generaltest2022.en-de.src.en.gz", limit=3)
    assert [task_family(e) for e in (math_ex[0], code_ex[0], wmt_ex[0])] == ["math", "code", "translation"]
    with Sandbox() as sb:
        m = verified_metrics("math", sb, math_ex, [f"#### {e.reference}" for e in math_ex[:3]] + ["#### -1"])
        assert m == {"accuracy": 0.75, "failed": 0}
        good = [f"```python\n{e.reference}\n```" for e in code_ex]
        half = f"```python\n{code_ex[1].reference.replace('return', 'return None and', 1)}\n```"
        assert verified_metrics("code", sb, code_ex, good)["pass@1"] == 1.0
        assert verified_metrics("code", sb, code_ex, [good[0], half])["pass@1"] == 0.5
        t = verified_metrics("translation", sb, wmt_ex, [e.reference for e in wmt_ex])
        assert t["chrf"] == pytest.approx(100.0) and t["bleu"] == pytest.approx(100.0)
        assert t["corpus_bleu"] == pytest.approx(100.0)
        t = verified_metrics("translation", sb, wmt_ex, [" ".join(e.reference.split()[:2]) for e in wmt_ex])
        assert 0.0 < t["chrf"] < 60.0 and t["bleu"] < 60.0


def test_win_rate_ties_and_failures():
    from rlar_jax.evaluate import win_rate

    new = np.array([0.9, 0.5, 0.1, np.nan, 0.3, np.nan])
    old = np.array([0.1, 0.5, 0.2, 0.4, np.nan, np.nan])
    assert win_rate(new, old) == pytest.approx((1 + 0.5 + 0 + 0 + 1 + 0.5) / 6)


def test_eval_needs_held_out_examples(tmp_path):
    from rlar_jax.evaluate import evaluate

    cfg = load_config(TINY, [f"trainer.run_dir={tmp_path}", "data.eval_size=0"])
    with pytest.raises(ValueError, match="no held-out examples"):
        evaluate(cfg)


def test_instruction_metrics_check_the_ground_truth_constraints():
    """Share of constraints met per prompt (the primary score) and prompt-level accuracy (all met)."""
    from rlar_jax.datasets.examples import Example, chat
    from rlar_jax.evaluate import has_constraints, verified_scores
    from rlar_jax.sandbox import Sandbox

    truth = {"lowercase": True, "max_words": 5}
    exs = [Example(chat("Describe the sea. Use lowercase letters only, at most five words."), "", "instruction",
                   {"constraints": dict(truth)}, uid=f"i:{i}") for i in range(4)]
    assert has_constraints(exs) and not has_constraints([Example(chat("hi"), "", "instruction")])
    responses = ["the sea is blue", "The sea is blue", "The sea is very deep and blue", "calm, grey sea"]
    with Sandbox() as sb:
        primary, metrics = verified_scores("instruction", sb, exs, responses)
    # all met; an uppercase letter; an uppercase letter and too long; all met
    np.testing.assert_allclose(primary, [1.0, 0.5, 0.0, 1.0])
    assert metrics == {"constraint_fraction": pytest.approx(0.625), "prompt_accuracy": 0.5, "failed": 0}
