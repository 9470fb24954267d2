"""The GRPO loop on the tiny config: resume after SIGKILL, reward-length checks, CLI, artefacts.

The SIGKILL-resume and one overlapped-rewards test run the real RLAR reward system (planner, library, sandboxed
verifiers) on `configs/tiny_constraints.yaml`; the others use trusted host-side rewards to pin exact mechanics."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"
TINY_RLAR = ROOT / "configs" / "tiny_constraints.yaml"  # the constraint task, scored by the RLAR system
VOLATILE = ("time/", "tokens_per_s")  # wall-clock fields differ between runs


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    env.setdefault("XLA_FLAGS", "")
    return env


def _train_cmd(run_dir: Path, *extra: str) -> list[str]:
    """The CLI training 5 steps of the tiny constraint task with the RLAR system, a checkpoint every 2."""
    return [sys.executable, "-m", "rlar_jax.cli", "train", "--config", str(TINY_RLAR), f"trainer.run_dir={run_dir}",
            "trainer.steps=5", "trainer.checkpoint_every=2", "trainer.eval_before=false", "trainer.eval_after=false",
            "trainer.plot=false", "trainer.tensorboard=false", *extra]


def _metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in rows]


def _library_uses(run_dir: Path) -> dict[str, int]:
    """{component id: rows it scored} summed over the plans in the run's reward library ('*': the plans' own
    totals, which count the same rows)."""
    from rlar_jax.rewards.library import Library

    uses: dict[str, int] = {}
    with Library(run_dir / "reward_library.sqlite") as library:
        for plan in library.list_plans():
            for cid, stats in library.component_stats(plan["plan_id"]).items():
                uses[cid] = uses.get(cid, 0) + int(stats["uses"])
    return uses


@pytest.mark.slow  # ~150 s: two subprocess training runs with the sandbox
def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    full = tmp_path / "full"
    subprocess.run(_train_cmd(full), check=True, env=_env(), cwd=ROOT, capture_output=True, timeout=600)
    reference = _metrics(full)
    assert [r["step"] for r in reference] == [0, 1, 2, 3, 4]
    assert any(abs(r["loss"]) > 0 for r in reference), "the verifier must give a non-zero loss"
    assert all(r["reward/failed"] == 0 and len(r["reward/plans"]) >= 1 for r in reference)
    assert _library_uses(full) == {"*": 40, "format_constraints": 40}  # 5 steps x 2 prompts x G=4, each row once

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed), env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    metrics = killed / "metrics.jsonl"
    deadline = time.time() + 600
    # Kill during step 3: steps 0-2 are logged, the step-2 checkpoint exists, step 3 is running.
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(metrics.read_text().splitlines()) < 5
    done = subprocess.run(_train_cmd(killed), env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    resumed = _metrics(killed)
    assert [r["step"] for r in resumed] == [0, 1, 2, 3, 4]
    # The library (in the run dir) outlives the kill: it counts every row its verifiers scored, so step 3's
    # 8 rows appear twice if the kill came after their scoring, once more from the resumed run.
    uses = _library_uses(killed)
    assert uses["*"] == uses["format_constraints"] in (40, 48), uses
    # rewards/* are the reward system's counters since its process started (rows scored, plans made or found
    # in the library): the resumed process starts from zero and finds the plans stored before the kill. The
    # per-step reward/* records and everything else must match.
    for a, b in zip(reference, resumed):
        a, b = ({k: v for k, v in r.items() if not k.startswith("rewards/")} for r in (a, b))
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float):
                np.testing.assert_allclose(b[k], a[k], rtol=1e-6, atol=1e-7, err_msg=f"step {a['step']} {k}")
            else:
                assert a[k] == b[k], (a["step"], k)


class _WrongLength:
    def score(self, examples, completions):
        return np.zeros(len(completions) - 1, np.float32), [{}] * (len(completions) - 1)


def test_reward_of_wrong_length_is_an_error_not_broadcast(tmp_path):
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    cfg = load_config(TINY, [f"trainer.run_dir={tmp_path}", "trainer.steps=1", "trainer.eval_before=false",
                             "trainer.eval_after=false", "trainer.checkpoint_every=0", "trainer.plot=false"])
    trainer = Trainer(cfg, reward_fn=_WrongLength())
    with pytest.raises(ValueError, match="returned 7 rewards for 8 completions"):
        trainer.run()


class _RecordingLength:
    """Length reward that records, per call, the scoring thread's name and the completions."""

    def __init__(self):
        self.calls = []

    def score(self, examples, completions):
        import threading

        self.calls.append((threading.current_thread().name, list(completions)))
        return np.array([min(len(c), 30) / 30 for c in completions], np.float32), [{"plan_id": "length"}] * len(completions)


def _run_tiny(tmp_path, name, *extra, reward=None):
    """3 in-process steps of the tiny config; (the reward's recorded calls, the metrics rows)."""
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    cfg = load_config(TINY, [f"trainer.run_dir={tmp_path / name}", "trainer.steps=3", "trainer.eval_before=false",
                             "trainer.eval_after=false", "trainer.checkpoint_every=0", "trainer.plot=false",
                             "trainer.tensorboard=false", "trainer.progress=false", *extra])
    reward = reward if reward is not None else _RecordingLength()
    trainer = Trainer(cfg, reward_fn=reward)
    try:
        trainer.run()
    finally:
        trainer.close()
    return reward.calls, [json.loads(x) for x in (tmp_path / name / "metrics.jsonl").read_text().splitlines()]


def test_overlapped_rewards_score_on_a_thread_one_step_off_policy(tmp_path):
    calls, metrics = _run_tiny(tmp_path, "overlap", "trainer.overlap_rewards=true")
    assert [t for t, _ in calls] == ["rlar-rewards_0"] * 3
    assert all(0 <= m["time/reward_wait"] and m["time/reward"] >= 0 for m in metrics)
    assert metrics[-1]["step"] == 2 and all(np.isfinite(m["loss"]) for m in metrics)
    # Step 1's rollout comes from the params before update 0: with updates frozen (lr 0) a synchronous
    # run samples exactly the same completions for steps 0 and 1 (same params, same keys).
    frozen, _ = _run_tiny(tmp_path, "frozen", "optim.learning_rate=0.0")
    assert [t for t, _ in frozen] == ["MainThread"] * 3
    assert calls[0][1] == frozen[0][1] and calls[1][1] == frozen[1][1]
    # ...and a synchronous run that does learn samples step 1 from the updated params instead.
    learned, _ = _run_tiny(tmp_path, "sync")
    assert learned[0][1] == calls[0][1] and learned[1][1] != calls[1][1]


@pytest.mark.slow  # ~40 s: two runs with the sandbox; the thread mechanics are pinned by the test above
def test_overlapped_rewards_with_the_rlar_system_match_synchronous_scoring(tmp_path):
    """The real reward system (planner, library, sandbox) scoring on the worker thread gives the rewards a
    synchronous run gives: with updates frozen both sample the same completions."""
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    def run(name: str, overlap: bool) -> tuple[list[str], list[dict]]:
        cfg = load_config(TINY_RLAR, [f"trainer.run_dir={tmp_path / name}", "trainer.steps=3", "optim.learning_rate=0.0",
                                      f"trainer.overlap_rewards={str(overlap).lower()}", "trainer.eval_before=false",
                                      "trainer.eval_after=false", "trainer.checkpoint_every=0", "trainer.plot=false",
                                      "trainer.tensorboard=false"])
        trainer = Trainer(cfg)
        threads: list[str] = []
        score = trainer.reward_fn.score
        trainer.reward_fn.score = lambda ex, texts: threads.append(threading.current_thread().name) or score(ex, texts)
        try:
            trainer.run()
        finally:
            trainer.close()
        return threads, _metrics(tmp_path / name)

    import threading

    threads, overlapped = run("overlap", True)
    sync_threads, sync = run("sync", False)
    assert threads == ["rlar-rewards_0"] * 3 and sync_threads == ["MainThread"] * 3
    keys = ("reward/mean", "reward/std", "reward/failed", "reward/plans", "loss", "completion/mean_length")
    assert [{k: r[k] for k in keys} for r in overlapped] == [{k: r[k] for k in keys} for r in sync]
    assert any(r["reward/std"] > 0 for r in sync), "the verifier must tell some completions apart"
    assert _library_uses(tmp_path / "overlap") == _library_uses(tmp_path / "sync") == {"*": 24, "format_constraints": 24}


class _HalfLive:
    """Groups of even-numbered prompts all score 0.5 (no signal); the others get a length reward."""

    def __init__(self):
        self.calls = []

    def score(self, examples, completions):
        self.calls.append(list(completions))
        keys = list(dict.fromkeys(id(e) for e in examples))
        out = [0.5 if keys.index(id(e)) % 2 == 0 else min(len(c), 30) / 30 for e, c in zip(examples, completions)]
        return np.asarray(out, np.float32), [{"plan_id": "half"}] * len(completions)


def test_dropping_dead_groups_keeps_the_update_exact(tmp_path):
    extra = ("trainer.prompts_per_step=4", "optim.learning_rate=0.01")
    calls_on, on = _run_tiny(tmp_path, "drop", *extra, reward=_HalfLive())
    calls_off, off = _run_tiny(tmp_path, "full", *extra, "trainer.drop_zero_advantage_groups=false",
                               reward=_HalfLive())
    # 4 prompts x G=4 on 8 devices: the 2 live groups (8 rows) are updated instead of 16 rows...
    assert [m["update_rows"] for m in on] == [8, 8, 8] and [m["update_rows"] for m in off] == [16, 16, 16]
    # ...with the same loss, gradient and resulting params: later steps sample the same completions.
    for a, b in zip(on, off):
        for k in ("loss", "grad_norm", "denominator", "reward/mean"):
            np.testing.assert_allclose(a[k], b[k], rtol=2e-5, atol=1e-7, err_msg=f"step {a['step']} {k}")
    assert max(m["grad_norm"] for m in off) > 1e-3
    assert calls_on == calls_off


class _OddBytes:
    """Reward = share of a completion's characters with an odd code point: differs between prompts."""

    def score(self, examples, completions):
        out = [sum(ord(ch) % 2 for ch in c) / len(c) if c else 0.0 for c in completions]
        return np.asarray(out, np.float32), [{"plan_id": "odd"}] * len(completions)


def _eval_run(run_dir, steps, capsys):
    """A tiny in-process run with held-out evaluation on (4 prompts, slice of 2 every 2 steps); returns the
    sizes of the evaluations it generated, its metrics rows, summary and printed output."""
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    cfg = load_config(TINY, [f"trainer.run_dir={run_dir}", f"trainer.steps={steps}", "trainer.eval_every=2",
                             "trainer.eval_every_size=2", "trainer.checkpoint_every=2", "trainer.tensorboard=false",
                             "trainer.progress=false", "data.eval_size=4"])
    trainer = Trainer(cfg, reward_fn=_OddBytes())
    sizes = []
    evaluate = trainer.evaluate
    trainer.evaluate = lambda examples, *a, **k: sizes.append(len(examples)) or evaluate(examples, *a, **k)
    try:
        summary = trainer.run()
    finally:
        trainer.close()
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert json.loads((run_dir / "summary.json").read_text()) == {k: v for k, v in summary.items() if k != "plot"}
    return sizes, rows, summary, capsys.readouterr().out


def test_periodic_held_out_eval_and_the_gain_table_survive_a_resume(tmp_path, capsys):
    run_dir = tmp_path / "run"
    sizes, rows, summary, out = _eval_run(run_dir, 4, capsys)
    # before (all 4), the slice at step 2, after (all 4): step 0 and the final step reuse before / after
    assert sizes == [4, 2, 4]
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4]
    keys = {"eval/reward_mean", "eval/accuracy", "eval/n", "eval/failed", "eval/task/math/reward_mean",
            "eval/task/math/accuracy", "eval/task/math/n", "eval/task/math/failed"}
    evals = {r["step"]: {k: v for k, v in r.items() if k.startswith("eval/")} for r in rows}
    assert {s for s, e in evals.items() if e} == {0, 2, 4}
    assert all(set(evals[s]) == keys for s in (0, 2, 4))
    assert all(np.isfinite(v) for s in (0, 2, 4) for v in evals[s].values())
    assert evals[0]["eval/n"] == evals[2]["eval/task/math/n"] == 2 and evals[4]["eval/failed"] == 0
    assert set(rows[-1]) == {"step"} | keys  # the final params' record holds the held-out scores only
    assert "loss" in rows[2] and "reward/mean" in rows[2]
    scores = json.loads((run_dir / "eval_scores.json").read_text())
    assert len(scores["uid"]) == 4 and scores["task"] == ["math"] * 4
    assert all(0 <= s <= 1 for s in scores["before"] + scores["after"])
    assert len(set(scores["before"] + scores["after"])) > 1
    assert evals[0]["eval/reward_mean"] == pytest.approx(np.mean(scores["before"][:2]))
    assert evals[4]["eval/reward_mean"] == pytest.approx(np.mean(scores["after"][:2]))
    assert summary["eval_before"]["eval/reward_mean"] == pytest.approx(np.mean(scores["before"]))
    assert summary["eval_after"]["eval/n"] == 4
    gain = summary["eval_gain"]
    assert (gain["confidence"], gain["resamples"]) == (0.95, 10000) and list(gain["rows"]) == ["math", "overall"]
    overall = gain["rows"]["overall"]
    assert overall["n"] == 4 and overall["before"] == pytest.approx(np.mean(scores["before"]))
    assert overall["gain"] == pytest.approx(np.mean(scores["after"]) - np.mean(scores["before"]))
    assert overall["ci_low"] <= overall["gain"] <= overall["ci_high"]
    assert "held-out score before and after training" in out
    assert out.splitlines()[1].split() == ["task", "n", "before", "after", "gain", "rel.gain", "ci_low", "ci_high"]
    assert any(line.split()[:2] == ["overall", "4"] for line in out.splitlines())
    assert (run_dir / "curves.png").stat().st_size > 0

    # Resume to 6 steps: the before scores come from the checkpoint, so the gain table is still there.
    sizes, rows, resumed, _ = _eval_run(run_dir, 6, capsys)
    assert sizes == [2, 4]  # the slice at step 4 (params after 4 updates), then after
    assert [r["step"] for r in rows] == [0, 1, 2, 3, 4, 5, 6]
    assert {r["step"] for r in rows if "eval/n" in r} == {0, 2, 4, 6}
    assert resumed["eval_before"] == summary["eval_before"]
    assert json.loads((run_dir / "eval_scores.json").read_text())["before"] == scores["before"]
    assert resumed["eval_gain"]["rows"]["overall"]["before"] == overall["before"]


def test_curves_draw_held_out_scores_next_to_the_training_reward():
    from rlar_jax.metrics import curve_panels

    records = [{"step": 0, "reward/mean": 0.1, "loss": 0.0, "reward/task/math/mean": 0.1,
                "eval/reward_mean": 0.2, "eval/task/math/reward_mean": 0.2, "eval/task/code/reward_mean": 0.3},
               {"step": 1, "reward/mean": 0.2, "loss": 0.1, "reward/task/math/mean": 0.2}]
    assert curve_panels(records) == [
        ("reward/mean", ["reward/mean", "eval/reward_mean"]), ("loss", ["loss"]),
        ("reward/task/math/mean", ["reward/task/math/mean", "eval/task/math/reward_mean"]),
        ("eval/task/code/reward_mean", ["eval/task/code/reward_mean"])]
    assert curve_panels(records[1:]) == [("reward/mean", ["reward/mean"]), ("loss", ["loss"]),
                                         ("reward/task/math/mean", ["reward/task/math/mean"])]


def test_step_end_hooks_see_and_extend_each_record(tmp_path):
    """`Trainer(on_step_end=[...])`: each hook gets every step's record before it is written, and what it
    adds lands in metrics.jsonl (benchmarks tag their records this way)."""
    from tiny_run import run_tiny

    seen: list[int] = []

    def tag(record: dict) -> None:
        seen.append(record["step"])
        record["hook/twice_step"] = 2 * record["step"]

    _, rows = run_tiny(tmp_path / "run", "trainer.steps=3", on_step_end=[tag])
    assert seen == [0, 1, 2]
    assert [r["hook/twice_step"] for r in rows] == [0, 2, 4]
    assert all("reward/mean" in r for r in rows)
