"""Reward time left on the critical path of a GRPO step: synchronous scoring vs `trainer.overlap_rewards`.

Runs the multi-task config (SmolLM2-135M-Instruct policy; math and code verifiers in the sandbox,
chrF + MiniLM for translation, the SmolLM2 judge for dialogue) for a few steps in each mode, each in its
own process, and reads `time/reward` (scoring time) and `time/reward_wait` (how long the loop waited for
it) from the metrics. Step 0 (compilation; two rollouts when overlapping) and the last step (nothing
left to overlap with) are left out.

The peer is synchronous scoring between rollout and update, which is what TRL's GRPOTrainer does (and
our default). Run: .venv/bin/python bench/reward_overlap.py [--steps 5]. Ends with one JSON line
(ours/peer = mean seconds per step, overlapped/synchronous, plus each one's reward wait as % of a step).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "multitask.yaml"


def run_mode(overlap: bool, steps: int, run_dir: Path) -> list[dict]:
    """Train `steps` steps in a fresh process; the metrics rows."""
    cmd = [sys.executable, "-m", "rlar_jax.cli", "train", "--config", str(CONFIG), f"trainer.run_dir={run_dir}",
           f"trainer.steps={steps}", f"trainer.overlap_rewards={str(overlap).lower()}", "trainer.eval_before=false",
           "trainer.eval_after=false", "trainer.checkpoint_every=0", "trainer.plot=false",
           "trainer.tensorboard=false", "trainer.progress=false"]
    subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ), stdout=subprocess.DEVNULL)
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]


def summarise(rows: list[dict]) -> dict[str, float]:
    """Means over the middle steps of step time, scoring time and the wait for it (seconds), and the wait's
    share. Step 0 compiles (and rolls out twice when overlapping); the last step has no next rollout."""
    last = max(r["step"] for r in rows)
    rows = [r for r in rows if 1 <= r["step"] < last]
    step = statistics.mean(r["time/step"] for r in rows)
    reward = statistics.mean(r["time/reward"] for r in rows)
    wait = statistics.mean(r["time/reward_wait"] for r in rows)
    return {"step_s": step, "reward_s": reward, "wait_s": wait, "wait_pct": 100 * wait / step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()
    if args.steps < 3:
        parser.error("--steps must be at least 3 (the first and last steps are not counted)")
    out = {}
    with tempfile.TemporaryDirectory(prefix="rlar-overlap-") as tmp:
        for name, overlap in (("synchronous", False), ("overlapped", True)):
            t0 = time.perf_counter()
            out[name] = summarise(run_mode(overlap, args.steps, Path(tmp) / name))
            out[name]["run_s"] = time.perf_counter() - t0
    print(f"multitask config, {args.steps} steps per mode (first and last not counted); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print(f"{'mode':<12} {'step s':>8} {'scoring s':>10} {'waited s':>9} {'wait % of step':>15} {'run s':>7}")
    for name, r in out.items():
        print(f"{name:<12} {r['step_s']:>8.2f} {r['reward_s']:>10.2f} {r['wait_s']:>9.3f} {r['wait_pct']:>15.2f} "
              f"{r['run_s']:>7.0f}")
    ours, peer = out["overlapped"], out["synchronous"]
    print(f"\ngoal {'met    ' if ours['wait_pct'] <= 5 else 'NOT met'}: reward wait <= 5% of step time "
          f"({ours['wait_pct']:.2f}%)")
    print(json.dumps({"bench": "reward_overlap", "ours": round(ours["step_s"], 2), "peer": round(peer["step_s"], 2),
                      "unit": "s/step", "ratio": round(peer["step_s"] / ours["step_s"], 3),
                      "ours_wait_pct": round(ours["wait_pct"], 3), "peer_wait_pct": round(peer["wait_pct"], 3)}))

if __name__ == "__main__":
    main()
