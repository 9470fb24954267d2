"""Reward-model throughput on this CPU: MiniLM embedding similarity (ours, Flax) against sentence-transformers
(torch) on the same texts, then the generative judge, a Bradley-Terry head and a sequence-classification
reward model (the `hf_seq_cls` kind hub models load as) on SmolLM2-135M.

Items are HH-harmless (prompt, chosen, rejected) triples: the similarity reward compares the chosen
response (as the response) with the rejected one (as the reference), so every text is distinct and both
sides encode exactly the same 2N texts. Each side is warmed up once on the same texts (our jit buckets,
torch's first-call costs), then timed over `--repeats` runs; the median is reported.

Run: .venv/bin/python bench/reward_models.py [--items 256] [--repeats 3] [--skip-lm]. Ends with one JSON line
(ours = our MiniLM similarity items/s, peer = sentence-transformers items/s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rlar_jax.datasets.registry import bundled_file  # noqa: E402
from rlar_jax.rewards.models.bert import load_sentence_encoder, minilm_dir  # noqa: E402
from rlar_jax.datasets.text import load_pairs  # noqa: E402
from rlar_jax.rewards.models.embedding import EmbeddingSimilarity  # noqa: E402

DATA = bundled_file("hh_rlhf_harmless", "test")


def _median_rate(fn, n_items: int, repeats: int) -> float:
    """Median items/s of `fn()` over `repeats` timed runs."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return n_items / statistics.median(times)


def bench_minilm(pairs, repeats: int, threads: int) -> tuple[float, float, float]:
    """(ours items/s, sentence-transformers items/s, max |score difference|)."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    n = len(pairs)
    prompts, responses, refs = [p.prompt for p in pairs], [p.chosen for p in pairs], [p.rejected for p in pairs]
    ours_fn = EmbeddingSimilarity(load_sentence_encoder())
    st = SentenceTransformer(str(minilm_dir()), device="cpu")

    def peer() -> list[float]:
        emb = st.encode(responses + refs, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
        return list((np.sum(emb[:n] * emb[n:], axis=-1) + 1) / 2)

    def ours() -> list[float]:
        return ours_fn(prompts, responses, refs, [{}] * n)

    a, b = ours(), peer()  # warm-up on the same texts
    diff = float(np.max(np.abs(np.array(a) - np.array(b))))
    return _median_rate(ours, n, repeats), _median_rate(peer, n, repeats), diff


def _smollm2_seq_cls(lm):
    """SmolLM2-135M as a HF LlamaForSequenceClassification checkpoint with a random score head, loaded back."""
    import tempfile

    from safetensors.numpy import load_file, save_file

    from rlar_jax.models import load_model
    from rlar_jax.models.safetensors_io import export_hf

    out = Path(tempfile.mkdtemp(prefix="smollm2-seq-cls-"))
    export_hf(lm.model, lm.config, lm.tokenizer, out)
    tensors = load_file(str(out / "model.safetensors"))
    tensors["score.weight"] = np.random.default_rng(0).normal(0, 0.02, (1, lm.config.hidden_size)).astype(np.float32)
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    cfg = json.loads((out / "config.json").read_text())
    cfg.update(architectures=["LlamaForSequenceClassification"], num_labels=1, id2label={"0": "LABEL_0"},
               label2id={"LABEL_0": 0})
    (out / "config.json").write_text(json.dumps(cfg))
    return load_model(str(out), head="seq_cls")


def bench_lm(pairs, repeats: int) -> dict[str, float]:
    """Items/s of the judge, a BT head and a sequence-classification reward model on SmolLM2-135M (random
    heads: the cost is the backbone's)."""
    from rlar_jax.models import load_model
    from rlar_jax.rewards.models.bt import BTHead, BTRewardModel, FeatureExtractor
    from rlar_jax.rewards.models.judge import GenerativeJudge
    from rlar_jax.rewards.models.registry import SeqClsRewardModel

    lm = load_model("smollm2-135m-instruct")
    prompts, responses = [p.prompt for p in pairs], [p.chosen for p in pairs]
    refs, metas = [""] * len(pairs), [{}] * len(pairs)
    judge = GenerativeJudge(lm, batch_size=8)
    d = lm.config.hidden_size
    rng = np.random.default_rng(0)
    bt = BTRewardModel(FeatureExtractor(lm, max_len=256, batch_size=16),
                       BTHead(rng.normal(size=d).astype(np.float32), 0.0, np.zeros(d, np.float32),
                              np.ones(d, np.float32)))
    seq_cls = SeqClsRewardModel(_smollm2_seq_cls(lm))
    out = {}
    for name, fn in (("judge", judge), ("bt_head", bt), ("hf_seq_cls", seq_cls)):
        fn(prompts, responses, refs, metas)  # warm-up: compile the buckets
        out[name] = _median_rate(lambda: fn(prompts, responses, refs, metas), len(pairs), repeats)
    return out


def main() -> None:
    """Run the benchmark and print the summary lines and the final JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=256, help="similarity items (2 texts each)")
    parser.add_argument("--lm-items", type=int, default=32, help="items for the judge and the BT head")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads for the peer")
    parser.add_argument("--skip-lm", action="store_true", help="only the MiniLM comparison")
    args = parser.parse_args()
    pairs = load_pairs("hh", DATA)
    load = os.getloadavg()[0]
    ours, peer, diff = bench_minilm(pairs[:args.items], args.repeats, args.threads)
    print(f"minilm-embed-sim: ours {ours:.1f} items/s, sentence-transformers {peer:.1f} items/s "
          f"({args.items} items, {2 * args.items} texts; max |score diff| {diff:.2e})")
    extra = {}
    if not args.skip_lm:
        extra = bench_lm(pairs[:args.lm_items], args.repeats)
        for k, v in extra.items():
            print(f"{k} (SmolLM2-135M): {v:.2f} items/s ({args.lm_items} items)")
    print(f"load average at start: {load:.1f} on {os.cpu_count()} CPUs")
    print(json.dumps({"bench": "reward_models", "ours": round(ours, 1), "peer": round(peer, 1), "unit": "items/s",
                      "ratio": round(ours / peer, 3), **{f"{k}_items_per_s": round(v, 2) for k, v in extra.items()}}))


if __name__ == "__main__":
    main()
