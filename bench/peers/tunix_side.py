"""The tunix side of bench/rollout.py and bench/grpo_step.py; runs inside bench/peers/.venv-tunix.

    bench/peers/.venv-tunix/bin/python bench/peers/tunix_side.py sample --hf-dir DIR --in IN.json --out OUT.json
    bench/peers/.venv-tunix/bin/python bench/peers/tunix_side.py train  --hf-dir DIR --in IN.json --out OUT.json

Both load SmolLM2-135M-Instruct into tunix's own Llama-3 model (`tunix.models.llama3`) from the HF export
the main venv wrote (safetensors + config.json, float32), with tunix's safetensors loader.

`sample` (IN: {"prompts": [[ids]], "new_tokens": N, "repeats": R}): greedy generation of exactly N new
tokens for every prompt with `tunix.generate.sampler.Sampler` (no stop token), one warm-up call
(compilation), then R timed calls; prefill and decode are timed separately (each blocked until done).

`train` (IN: {"examples": [...], "prompts": B, "group": G, "max_new_tokens": L, "steps": N, "warmup": W,
"force_length": bool, ...}): tunix's own `GRPOLearner.train` for W + N steps (vanilla rollout engine,
beta 0, DAPO's token-mean loss with clip-higher, AdamW, grad-norm clip), each step timed with its
rollout, reward and update parts (bench/peers/tunix_train.py).

tunix 0.1.7's Llama-3 attention calls `apply_rope` without the model's `rope_theta`, so every model gets
RoPE base 1e6 whatever its config says (SmolLM2: 1e5). `--rope-as-is` keeps that behaviour; by default
the configured base is passed, so that greedy rows can be compared token for token with ours. The cost
of either is the same.

This file must not import rlar_jax (it is not installed in the tunix venv).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BENCH = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------------ model
def model_config(hf_config: dict[str, Any]):
    """tunix's Llama-3 ModelConfig for an HF Llama config.json (refusing what tunix's model lacks)."""
    from tunix.models.llama3 import model as llama

    if hf_config.get("model_type") != "llama":
        raise ValueError(f"tunix's llama3 model needs model_type 'llama', got {hf_config.get('model_type')!r}")
    scaling = hf_config.get("rope_scaling") or {}
    if scaling and scaling.get("rope_type", "default") != "default":
        raise ValueError(f"tunix's llama3 model has no RoPE scaling, config asks for {scaling}")
    if hf_config.get("attention_bias") or hf_config.get("mlp_bias"):
        raise ValueError("tunix's llama3 model has no attention / MLP biases")
    heads = hf_config["num_attention_heads"]
    return llama.ModelConfig(
        num_layers=hf_config["num_hidden_layers"], vocab_size=hf_config["vocab_size"],
        embed_dim=hf_config["hidden_size"], hidden_dim=hf_config["intermediate_size"], num_heads=heads,
        head_dim=hf_config.get("head_dim") or hf_config["hidden_size"] // heads,
        num_kv_heads=hf_config.get("num_key_value_heads", heads), rope_theta=hf_config.get("rope_theta", 10000.0),
        norm_eps=hf_config.get("rms_norm_eps", 1e-5), weight_tying=bool(hf_config.get("tie_word_embeddings")),
        remat_config=llama.RematConfig.NONE,
    )


def train_mesh():
    """A 1x1 (fsdp, tp) mesh for RLCluster; Auto axes, since under jax.make_mesh's default Explicit axes
    the model's embedding gather fails to trace (ShardingTypeError)."""
    import jax

    return jax.make_mesh((1, 1), ("fsdp", "tp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)


def load(hf_dir: str, rope_as_is: bool, mesh=None) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(model, ModelConfig, HF tokenizer, info) for the export in `hf_dir`, float32 on the CPU (placed on
    `mesh` when given, so that RLCluster finds it there and keeps it instead of resharding a copy)."""
    import jax.numpy as jnp
    from transformers import AutoTokenizer
    from tunix.models.llama3 import model as llama
    from tunix.models.llama3 import params as llama_params

    cfg = model_config(json.loads((Path(hf_dir) / "config.json").read_text()))
    if not rope_as_is and not isinstance(llama.apply_rope, functools.partial):
        llama.apply_rope = functools.partial(llama.apply_rope, rope_theta=cfg.rope_theta)
    t0 = time.perf_counter()
    model = llama_params.create_model_from_safe_tensors(hf_dir, cfg, mesh=mesh, dtype=jnp.float32)
    load_s = time.perf_counter() - t0
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    from importlib.metadata import version

    import jax

    info = {"tunix": version("google-tunix"), "jax": jax.__version__, "flax": version("flax"),
            "load_s": load_s, "rope_theta_used": 1_000_000.0 if rope_as_is else float(cfg.rope_theta),
            "rope_theta_config": float(cfg.rope_theta), "devices": [str(d) for d in jax.devices()]}
    return model, cfg, tokenizer, info


# ------------------------------------------------------------------------------------------ sample
def id_sampler(model, cfg, tokenizer, cache_size: int):
    """tunix's Sampler, taking token-id lists where it takes strings (no tokenization, no BOS added),
    with its jitted prefill and decode wrapped so that each is timed to completion."""
    import jax
    import numpy as np
    from tunix.generate import sampler as sampler_lib

    class IdSampler(sampler_lib.Sampler):
        def tokenize(self, input_string):  # noqa: D102  (ids in, ids out)
            return np.asarray(input_string, dtype=np.int32)

    s = IdSampler(model, tokenizer, sampler_lib.CacheConfig(cache_size=cache_size, num_layers=cfg.num_layers,
                                                            num_kv_heads=cfg.num_kv_heads, head_dim=cfg.head_dim))
    s.timings = {}

    def timed(name, fn):
        def run(*a, **kw):
            t = time.perf_counter()
            out = fn(*a, **kw)
            jax.block_until_ready(out.token_buffer)
            s.timings[name] = time.perf_counter() - t
            return out
        return run

    s._compiled_prefill_fn = timed("prefill", s._compiled_prefill_fn)
    s._compiled_decode_fn = timed("decode", s._compiled_decode_fn)
    return s


def cmd_sample(args: argparse.Namespace) -> dict[str, Any]:
    """Greedy generation timing (see the module doc)."""
    job = json.loads(Path(args.inp).read_text())
    prompts, n_new, repeats = job["prompts"], int(job["new_tokens"]), int(job.get("repeats", 2))
    plen = max(len(p) for p in prompts)
    model, cfg, tokenizer, info = load(args.hf_dir, args.rope_as_is)
    sampler = id_sampler(model, cfg, tokenizer, cache_size=plen + n_new)

    def run() -> dict[str, Any]:
        t, c = time.perf_counter(), time.process_time()
        # eos_tokens=[-1]: no token ever stops a row, so each row gets exactly n_new tokens.
        out = sampler(prompts, max_generation_steps=n_new, max_prompt_length=plen, eos_tokens=[-1],
                      temperature=0.0)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        ids = [[int(x) for x in row] for row in out.tokens]
        return dict(wall=wall, cpu=cpu, prefill=sampler.timings["prefill"], decode=sampler.timings["decode"], ids=ids)

    first = run()
    runs = [run() for _ in range(repeats)]
    best = min(runs, key=lambda r: r["wall"])
    bad = [len(row) for row in best["ids"] if len(row) != n_new]
    if bad:
        raise RuntimeError(f"tunix generated rows of {bad} tokens, expected {n_new}")
    return dict(runs=[{k: v for k, v in r.items() if k != "ids"} for r in runs], best=best,
                compile=first["wall"] - best["wall"], first=first["wall"], **info)


# ------------------------------------------------------------------------------------------ train
def cmd_train(args: argparse.Namespace) -> dict[str, Any]:
    """GRPO step timing through tunix's GRPOLearner (see the module doc)."""
    from tunix_train import run_learner  # noqa: E402  (same folder)

    job = json.loads(Path(args.inp).read_text())
    mesh = train_mesh()
    model, cfg, tokenizer, info = load(args.hf_dir, args.rope_as_is, mesh)
    res: dict[str, Any] = dict(info)
    res.update(run_learner(job, model, cfg, tokenizer, mesh))
    res["path"] = "GRPOLearner.train"
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("sample", "train"))
    p.add_argument("--hf-dir", required=True, help="HF export (safetensors + config.json + tokenizer)")
    p.add_argument("--in", dest="inp", required=True, help="job JSON")
    p.add_argument("--out", required=True, help="result JSON")
    p.add_argument("--rope-as-is", action="store_true", help="keep tunix's RoPE base 1e6 (see the module doc)")
    p.add_argument("--threads", type=int, default=0, help="pin to the first N CPUs (0: leave as is)")
    args = p.parse_args(argv)
    if args.threads and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.threads]))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    res = cmd_sample(args) if args.command == "sample" else cmd_train(args)
    import resource

    res["max_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB
    Path(args.out).write_text(json.dumps(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
