"""Where can SmolLM2-135M-Instruct learn? Pass rate, GRPO signal and greedy score per candidate task.

For each task: G completions at the training temperature for each of P training prompts, scored by the
RLAR reward system (planner + sandboxed verifiers / reward models) as in training; the share of samples
that fully pass (reward >= 0.999) and the mean reward; the share of groups whose rewards are not all
equal (only those carry a GRPO signal); and the greedy score of E held-out prompts under the fixed
per-family held-out metric. No update is made.

Run: .venv/bin/python bench/task_headroom.py [--tasks ifgen arith gsm8k] [--prompts 64] [--group 8]
Ends with one JSON line: ours = the best task's signal share, peer = GSM8K's (the former default task),
ratio = ours / peer.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import numpy as np

TASKS: dict[str, tuple[dict, int]] = {  # name -> (data.tasks entry, max_new_tokens)
    "gsm8k": ({"kind": "gsm8k", "name": "gsm8k", "train_path": "gsm8k:train", "eval_path": "gsm8k:test"}, 192),
    "arith": ({"kind": "gsm8k", "name": "arith", "train_path": "arith:train", "eval_path": "arith:eval"}, 128),
    "ifgen": ({"kind": "constraints", "name": "ifgen", "train_path": "ifgen:train", "eval_path": "ifgen:eval"},
              160),
    "mbpp": ({"kind": "mbpp", "name": "mbpp", "path": "mbpp"}, 192),
    "wmt": ({"kind": "wmt", "name": "wmt_en_de", "path": "wmt22:en-de"}, 128),
    "hh": ({"kind": "hh", "name": "hh_harmless", "path": "hh_rlhf_harmless:test"}, 128),
}


def study(task: str, prompts: int, group: int, per_step: int, n_eval: int, temperature: float,
          run_dir: str) -> dict:
    """Headroom figures of one task (see the module docstring)."""
    from rlar_jax.config import ExperimentConfig, build
    from rlar_jax.trainer import Trainer

    source, tokens = TASKS[task]
    cfg = build(ExperimentConfig, {
        "model": {"name": "smollm2-135m-instruct"},
        "data": {"tasks": [dict(source, eval_size=n_eval)], "max_prompt_chars": 1500},
        "sampling": {"group_size": group, "max_new_tokens": tokens, "temperature": temperature},
        "trainer": {"prompts_per_step": per_step, "run_dir": f"{run_dir}/{task}", "progress": False,
                    "checkpoint_every": 0},
        "rewards": {"system": "rlar", "replan": False},
    })
    trainer = Trainer(cfg)
    t0 = time.perf_counter()
    rewards = []
    rng = jax.random.key(0)
    for step in range(prompts // per_step):
        batch = trainer._begin_step(step, step * per_step, rng)
        r, _ = trainer._rewards(batch)
        rewards.append(r)
    r = np.concatenate(rewards)
    groups = r.reshape(-1, group)
    signal = float(np.mean([np.nanstd(g) > 0 for g in groups]))
    sample_s = time.perf_counter() - t0
    # greedy held-out score under the fixed per-family metric
    t0 = time.perf_counter()
    scores = []
    ex = trainer.eval_examples
    for i in range(0, len(ex), 16):
        chunk = list(ex[i:i + 16])
        _, texts, _ = trainer._rollout(chunk, trainer.eval_sampling, jax.random.key(0))
        s, _ = trainer.eval_reward_fn.score(chunk, texts)
        scores.extend(np.nan_to_num(np.asarray(s, np.float64), nan=0.0).tolist())
    trainer.close()
    return {"task": task, "prompts": int(groups.shape[0]), "group": group, "max_new_tokens": tokens,
            "mean_reward": float(np.nanmean(r)), "pass_rate": float(np.nanmean(r >= 0.999)),
            "failed": int(np.isnan(r).sum()), "signal_groups": signal, "greedy_eval": float(np.mean(scores)),
            "n_eval": len(scores), "sample_s": round(sample_s, 1), "eval_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--group", type=int, default=8)
    p.add_argument("--per-step", type=int, default=8, help="prompts per rollout batch")
    p.add_argument("--eval", type=int, default=64, help="held-out prompts scored greedily")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--run-dir", default="runs/task_headroom")
    p.add_argument("--out", default=None, help="also write the rows as JSON lines here")
    args = p.parse_args()
    rows = []
    for task in args.tasks:
        row = study(task, args.prompts, args.group, args.per_step, args.eval, args.temperature, args.run_dir)
        row["load"] = round(os.getloadavg()[0], 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")
    print(f"\n{'task':<8} {'pass':>6} {'mean r':>7} {'signal':>7} {'greedy':>7} {'n_eval':>6} {'s':>6}")
    for r in rows:
        print(f"{r['task']:<8} {r['pass_rate']:>6.3f} {r['mean_reward']:>7.3f} {r['signal_groups']:>7.3f} "
              f"{r['greedy_eval']:>7.3f} {r['n_eval']:>6} {r['sample_s'] + r['eval_s']:>6.0f}")
    best = max(rows, key=lambda r: r["signal_groups"])
    base = next((r for r in rows if r["task"] == "gsm8k"), None)
    peer = base["signal_groups"] if base else None  # None: GSM8K was not among --tasks
    print(json.dumps({"bench": "task_headroom", "ours": round(best["signal_groups"], 3),
                      "peer": None if peer is None else round(peer, 3),
                      "unit": f"share of groups with signal ({best['task']} vs gsm8k)",
                      "ratio": round(best["signal_groups"] / peer, 3) if peer else None}))


if __name__ == "__main__":
    main()
