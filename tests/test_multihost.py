"""Two processes on loopback (jax.distributed, 4 CPU devices each) match one process with 8 devices: with a
trusted counting reward, and with the real RLAR reward system (each process plans and scores its own rows in
its own sandbox, both recording into the run's one reward library)."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COUNTING = ("rewards.system=custom", "rewards.custom=rewards_for_tests:CountingLengthReward")


def _cmd(run_dir: Path, *extra: str, config: str = "tiny.yaml", reward: tuple[str, ...] = COUNTING) -> list[str]:
    return [sys.executable, "-m", "rlar_jax.cli", "train", "--config", str(ROOT / "configs" / config),
            f"trainer.run_dir={run_dir}", *reward, "trainer.steps=2", "trainer.checkpoint_every=0",
            "trainer.eval_before=false", "trainer.eval_after=false", "trainer.plot=false", "trainer.tensorboard=false",
            *extra]


def _env(devices: int, log_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "tests"), env.get("PYTHONPATH", "")])
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    env["JAX_PLATFORMS"] = "cpu"
    env["RLAR_TEST_SCORE_LOG"] = str(log_dir)
    return env


KEYS = ("loss", "grad_norm", "entropy", "reward/mean", "completion/mean_length")


def _metrics(run_dir: Path) -> dict[str, list[float]]:
    rows = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines() if l.strip()]
    return {k: [r[k] for r in rows] for k in KEYS}


def _single_and_multi(tmp_path: Path, *extra: str, **cmd) -> tuple[Path, Path, Path, Path]:
    """Train once with one process (8 devices) and once with two on loopback (4 each); returns the two run
    dirs and the two score-log dirs."""
    single_logs, multi_logs = tmp_path / "single_logs", tmp_path / "multi_logs"
    single_logs.mkdir()
    multi_logs.mkdir()
    single = tmp_path / "single"
    subprocess.run(_cmd(single, *extra, **cmd), check=True, env=_env(8, single_logs), cwd=ROOT, capture_output=True,
                   timeout=900)

    multi = tmp_path / "multi"
    port = _free_port()
    procs = [subprocess.Popen(_cmd(multi, *extra, f"distributed.coordinator=127.0.0.1:{port}",
                                   "distributed.num_processes=2", f"distributed.process_id={i}", **cmd),
                              env=_env(4, multi_logs), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for i in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outs):
        assert p.returncode == 0, out[-3000:]
    return single, multi, single_logs, multi_logs


def _assert_same_run(single: Path, multi: Path, live_steps: int = 2) -> None:
    ref, got = _metrics(single), _metrics(multi)
    assert len(ref["loss"]) == len(got["loss"]) == 2
    # With equal-length completions the GRPO loss is ~0 at ratio 1; its gradient is not.
    assert sum(g > 1e-3 for g in ref["grad_norm"]) >= live_steps, "the update must be non-trivial for the comparison"
    for k in KEYS:  # the loss itself is float noise around 0 here, hence its absolute tolerance
        np.testing.assert_allclose(got[k], ref[k], rtol=1e-4, atol=1e-5 if k == "loss" else 1e-6, err_msg=k)


@pytest.mark.parametrize("overlap", [False, pytest.param(True, marks=pytest.mark.slow)],  # ~65 s each
                         ids=["sync_rewards", "overlap_rewards"])
def test_two_processes_report_the_single_process_loss(tmp_path, overlap):
    # With overlap_rewards, each process scores on its own host thread while the next (collective) rollout runs.
    single, multi, single_logs, multi_logs = _single_and_multi(tmp_path, f"trainer.overlap_rewards={str(overlap).lower()}")
    _assert_same_run(single, multi)
    # 2 prompts x G=4 = 8 completions per step: one process scores all 8, each of two scores its own 4.
    assert (single_logs / "scored_0.txt").read_text().split() == ["8", "8"]
    for rank in (0, 1):
        assert (multi_logs / f"scored_{rank}.txt").read_text().split() == ["4", "4"]


@pytest.mark.slow  # ~90 s: three processes with the sandbox
def test_two_processes_with_the_rlar_system_score_each_row_once(tmp_path):
    """Real reward system, rewards overlapped: each process resolves plans for its own prompts and scores its
    own rows in its own sandbox; the rows' rewards, and so the loss, equal one process scoring all of them,
    and the run's one library records every row exactly once."""
    from rlar_jax.rewards.library import Library

    single, multi, _, _ = _single_and_multi(tmp_path, "trainer.overlap_rewards=true", config="tiny_constraints.yaml",
                                            reward=())
    _assert_same_run(single, multi, live_steps=1)  # random text: step 1's groups all score alike
    rows = [json.loads(l) for l in (multi / "metrics.jsonl").read_text().splitlines() if l.strip()]
    assert max(r["reward/std"] for r in rows) > 0, "the verifier must tell some completions apart"
    assert [r["reward/failed"] for r in rows] == [0, 0]
    for run in (single, multi):
        with Library(run / "reward_library.sqlite") as library:
            plans = library.list_plans()
            uses = sum(library.component_stats(p["plan_id"])["format_constraints"]["uses"] for p in plans)
        assert uses == 16, run  # 2 steps x 2 prompts x G=4
        # one plan per signature, even with two processes planning into the same library
        assert [p["version"] for p in plans] == [1] * len(plans) and len({p["signature"] for p in plans}) == len(plans)
    assert {p["plan_id"] for p in plans} == set().union(*(r["reward/plans"] for r in rows))
