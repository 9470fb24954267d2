"""RLAR against static rewards at the same budget: the paper's central claim, measured on our own system.

Trains the default config three times, each in its own process, with the same seeds, data mix, steps and
held-out prompts, changing only the training reward:
  rlar    the RLAR system (per-query plans: constraint verifiers, answer checkers, reward models)
  static  one reward model for every task: MiniLM embedding similarity to the reference (what a single
          generic reward model gives; prompts without a reference get no reward from it)
  judge   the generative judge alone (SmolLM2-135M-Instruct scoring its own answers)
and reads each run's held-out gains (fixed per-family metric, paired bootstrap 95% CI) from summary.json.

Run: .venv/bin/python bench/rlar_vs_static.py [--systems rlar static judge] [KEY=VALUE ...]
(overrides go to every run, e.g. trainer.steps=12 to shorten them). --keep adds to the results already in
--out (run the systems one at a time; a kept system must have used the same overrides). Ends with one JSON line:
ours = RLAR's overall gain, peer = the best static system's overall gain, ratio = ours / peer (or the
difference when the peer's gain is not positive; see `ratio_kind`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = {
    "rlar": ["rewards.system=rlar"],
    "static": ["rewards.system=static", "rewards.static_model=minilm-embed-sim"],
    "judge": ["rewards.system=static", "rewards.static_model=judge-policy"],
}


def run(system: str, config: str, run_dir: Path, overrides: list[str], resume: bool = False) -> dict:
    """Train one system (continuing from its last checkpoint with `resume`); its summary.json."""
    cmd = [sys.executable, "-m", "rlar_jax.cli", "train", "--config", config, f"trainer.run_dir={run_dir}",
           f"trainer.resume={str(resume).lower()}", "trainer.progress=false", *SYSTEMS[system], *overrides]
    with open(run_dir.parent / f"{system}.log", "a" if resume else "w") as log:
        subprocess.run(cmd, check=True, cwd=ROOT, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    return json.loads((run_dir / "summary.json").read_text())


def gains(summary: dict) -> dict[str, dict]:
    """task (and "overall", "macro") -> {n, before, after, gain, relative_gain, ci_low, ci_high}."""
    return summary["eval_gain"]["rows"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--systems", nargs="*", default=list(SYSTEMS), choices=list(SYSTEMS),
                   help="systems to train (with --keep and none: only print the saved results)")
    p.add_argument("--config", default=str(ROOT / "configs" / "default.yaml"))
    p.add_argument("--out", default="runs/rlar_vs_static")
    p.add_argument("--keep", action="store_true", help="add to the systems already in OUT/results.json")
    p.add_argument("--resume", action="store_true",
                   help="continue each system's run from its last checkpoint (a run that was killed); resuming "
                        "gives the same result as an uninterrupted run (tests/test_trainer.py)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results, seconds, loads = {}, {}, {}
    saved = out / "results.json"
    if args.keep and saved.exists():
        prev = json.loads(saved.read_text())
        if prev.get("overrides", []) != args.overrides:
            raise SystemExit(f"{saved} was run with overrides {prev.get('overrides')}, not {args.overrides}: "
                             "a comparison needs the same settings (drop --keep or use another --out)")
        results, seconds, loads = prev["gains"], prev["seconds"], prev.get("load", {})
    elif not args.systems:
        raise SystemExit("--systems needs at least one system (or --keep, to print saved results)")
    for system in args.systems:
        t0 = time.perf_counter()
        results[system] = gains(run(system, args.config, out / system, args.overrides, args.resume))
        seconds[system] = time.perf_counter() - t0
        loads[system] = os.getloadavg()[1]  # 5-minute load at the end of the run
        saved.write_text(json.dumps({"gains": results, "seconds": seconds, "load": loads,
                                     "overrides": args.overrides}, indent=2))
    tasks = list(next(iter(results.values())))
    print(f"held-out gain (after - before) with paired bootstrap 95% CI; load {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} CPUs; overrides: {' '.join(args.overrides) or 'none'}\n")
    print(f"{'task':<10} " + " ".join(f"{s:>28}" for s in results))
    for task in tasks:
        cells = []
        for s in results:
            g = results[s][task]
            cells.append(f"{g['before']:.3f}->{g['after']:.3f} {g['gain']:+.3f} [{g['ci_low']:+.3f},{g['ci_high']:+.3f}]")
        print(f"{task:<10} " + " ".join(f"{c:>28}" for c in cells))
    print("run seconds: " + ", ".join(f"{s} {v:.0f} (5-min load {loads.get(s, float('nan')):.1f})"
                                      for s, v in seconds.items()))
    ours = results.get("rlar", {}).get("overall", {}).get("gain", float("nan"))
    statics = [results[s]["overall"]["gain"] for s in results if s != "rlar"]
    peer = max(statics) if statics else float("nan")
    ratio, kind = (ours / peer, "ours/peer") if peer > 0 else (ours - peer, "ours-peer")
    print(json.dumps({"bench": "rlar_vs_static", "ours": round(ours, 4), "peer": round(peer, 4),
                      "unit": "overall held-out gain", "ratio": round(ratio, 3), "ratio_kind": kind}))


if __name__ == "__main__":
    main()
