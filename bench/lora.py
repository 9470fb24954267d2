"""Partial updates against the full update: LoRA adapters, and frozen lower layers
(`model.frozen_layers`), GRPO train-step time and peak memory on SmolLM2-135M-Instruct (CPU).

    .venv/bin/python bench/lora.py [--rows 16] [--prompt-len 96] [--new-tokens 96] [--rank 16] [--repeats 5]
                                   [--frozen-layers N] [--no-lora]

Each side runs in its own subprocess, one after the other: the default config's policy (float32,
`model.lora.rank=--rank` on every projection for ours, no adapters for the peer), one jitted GRPO
update over the same synthetic batch (`--rows` completions of `--prompt-len` + `--new-tokens` tokens,
non-zero advantages, so no step is skipped), a compile call, then `--repeats` timed calls; the median is
reported. Memory: XLA's compiled memory analysis of the step (arguments + temporaries + outputs that are
not aliased) and the process's peak RSS growth over the timed calls' start (ru_maxrss minus RSS after
building the model). Timings vary with the machine's load: the load average is printed.

With `--frozen-layers N` a third side trains all but the lowest N layers. Ends with one JSON line per
partial side: {"bench": "lora_step" | "frozen_step", "ours": its s/step, "peer": full update s/step,
"unit": "s/step", "ratio": peer / ours, "peak_gib": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import busy  # noqa: E402


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def side(args: argparse.Namespace) -> dict:
    """One side's measurements (runs in its own process)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from flax import nnx

    from rlar_jax.config import load_config
    from rlar_jax.grpo import init_opt_state, make_train_step
    from rlar_jax.models.lora import trainable_filter
    from rlar_jax.policy import build_policy, param_count
    from rlar_jax.trainer import build_optimizer, grpo_config, make_logprob_fn

    overrides = [f"model.lora.rank={args.rank}", f"model.lora.alpha={2 * args.rank}"] if args.side == "lora" else []
    overrides += [f"model.frozen_layers={args.frozen_layers}"] if args.side == "frozen" else []
    overrides += ["model.remat=true"] if args.remat else []
    cfg = load_config(ROOT / "configs" / "default.yaml", overrides)
    policy = build_policy(cfg.model, None)
    model = policy.model
    trainable = trainable_filter(model)
    graphdef, params, rest = nnx.split(model, trainable, ...)
    tx = build_optimizer(cfg)
    opt_state = init_opt_state(tx, params)
    rows, P, T = args.rows, args.prompt_len, args.new_tokens
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(0, policy.config.vocab_size, (rows, P + T)), jnp.int32)
    batch = {"tokens": tokens, "attn_mask": jnp.ones((rows, P + T), bool),
             "completion_mask": jnp.ones((rows, T), bool),
             "advantages": jnp.asarray(rng.standard_normal(rows), jnp.float32),
             "valid": jnp.ones((rows,), bool), "truncated": jnp.zeros((rows,), bool)}
    step = make_train_step(graphdef, grpo_config(cfg), tx, make_logprob_fn(cfg.sampling.temperature))
    compiled = step.jitted(params, opt_state).lower(params, rest, opt_state, batch, jnp.float32(0)).compile()
    mem = compiled.memory_analysis()
    xla_peak = (mem.argument_size_in_bytes + mem.temp_size_in_bytes + mem.output_size_in_bytes
                - mem.alias_size_in_bytes)
    t0 = time.perf_counter()
    params, opt_state, m = step(params, rest, opt_state, batch)
    jax.block_until_ready(params)
    first = time.perf_counter() - t0
    rss0 = _rss()
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        params, opt_state, m = step(params, rest, opt_state, batch)
        jax.block_until_ready(params)
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"side": args.side, "step_s": statistics.median(times), "times": times, "first_call_s": first,
            "trainable": param_count(model, trainable), "params": param_count(model),
            "xla_peak_gib": xla_peak / 2**30, "rss_peak_gib": peak / 2**30, "rss_before_gib": rss0 / 2**30,
            "grad_norm": float(m["grad_norm"])}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=16)
    p.add_argument("--prompt-len", type=int, default=96)
    p.add_argument("--new-tokens", type=int, default=96)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--remat", action="store_true", help="model.remat=true on both sides")
    p.add_argument("--load", type=int, default=0, help="busy background processes during both sides (bench/_load.py)")
    p.add_argument("--frozen-layers", type=int, default=0, help="also time an update of all but the lowest N layers")
    p.add_argument("--no-lora", action="store_true", help="skip the LoRA side")
    p.add_argument("--side", choices=["lora", "frozen", "full"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        print("RESULT " + json.dumps(side(args)), flush=True)
        return
    results = {}
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    sides = ([] if args.no_lora else ["lora"]) + (["frozen"] if args.frozen_layers else []) + ["full"]
    for name in sides:
        cmd = [sys.executable, __file__, "--side", name, *sys.argv[1:]]
        with busy(args.load):
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
        results[name] = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        r = results[name]
        print(f"{name:>6}: {r['step_s']:.2f} s/step (median of {args.repeats}; first call {r['first_call_s']:.1f} s), "
              f"trainable {r['trainable'] / 1e6:.2f}M of {r['params'] / 1e6:.1f}M, XLA peak {r['xla_peak_gib']:.2f} "
              f"GiB, peak RSS {r['rss_peak_gib']:.2f} GiB", flush=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; --load {args.load}; batch "
          f"{args.rows} x ({args.prompt_len} + {args.new_tokens}) tokens, rank {args.rank} on every projection, "
          f"remat {'on' if args.remat else 'off'}, frozen layers {args.frozen_layers}")
    peer = results["full"]["step_s"]
    for name in sides[:-1]:
        ours = results[name]["step_s"]
        print(json.dumps({"bench": f"{name}_step", "ours": round(ours, 3), "peer": round(peer, 3), "unit": "s/step",
                          "ratio": round(peer / ours, 3),
                          "peak_gib": {k: {"xla": round(results[k]["xla_peak_gib"], 3),
                                           "rss": round(results[k]["rss_peak_gib"], 3)} for k in (name, "full")}}))


if __name__ == "__main__":
    main()
