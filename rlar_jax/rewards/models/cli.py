"""`rlar-jax train-rm`: train a Bradley-Terry head on preference pairs and register it in the catalog."""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from rlar_jax.models.loader import LoadedModel
from rlar_jax.rewards.catalog import Catalog, CatalogEntry, rlar_home
from rlar_jax.rewards.models.bt import FeatureExtractor, load_pairs, pairwise_accuracy, save_head, train_bt

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def train_reward_model(data: list[str], name: str, *, backbone: str = "smollm2-135m-instruct", pairs: int = 300,
                       eval_pairs: int = 200, steps: int = 300, lr: float = 1e-2, l2: float = 1.0,
                       max_len: int = 128, batch_size: int = 16, seed: int = 0,
                       feature_cache: str | Path | None = None, home: str | Path | None = None,
                       loaded: LoadedModel | None = None) -> dict[str, Any]:
    """Train a BT head on `pairs` training pairs, measure pairwise accuracy on `eval_pairs` held-out ones,
    save it under `<home>/reward_models/<name>/` and register a `bt_head` catalog entry. Returns the report.

    data: "hh:PATH" / "llmbar:PATH" specs (pooled, then shuffled with `seed`); backbone: model name or path
    recorded with the head (loaded unless `loaded` is given); feature_cache: directory for cached features.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"--name: expected letters, digits, '.', '_' or '-' (a directory name), got {name!r}")
    if pairs < 1 or eval_pairs < 1 or steps < 1:
        raise ValueError(f"--pairs, --eval-pairs and --steps must be >= 1, got {pairs}, {eval_pairs}, {steps}")
    if not data:
        raise ValueError("--data: give at least one hh:PATH or llmbar:PATH")
    t0 = time.perf_counter()
    all_pairs = [p for spec in data for p in load_pairs(spec)]
    # Provenance with absolute paths: the catalog entry outlives the directory it was trained from.
    data = [f"{kind}:{Path(path).resolve()}" for kind, _, path in (spec.partition(":") for spec in data)]
    if len(all_pairs) < pairs + eval_pairs:
        raise ValueError(f"--data has {len(all_pairs)} usable pairs; --pairs {pairs} + --eval-pairs {eval_pairs} "
                         f"needs {pairs + eval_pairs}")
    random.Random(seed).shuffle(all_pairs)
    held_out, train = all_pairs[:eval_pairs], all_pairs[eval_pairs:eval_pairs + pairs]
    if loaded is None:
        from rlar_jax.models import load_model

        loaded = load_model(backbone)
    fx = FeatureExtractor(loaded, max_len=max_len, batch_size=batch_size, cache_dir=feature_cache)

    def feats(ps: list) -> tuple[np.ndarray, np.ndarray]:
        prompts = [p.prompt for p in ps]
        return fx(prompts, [p.chosen for p in ps]), fx(prompts, [p.rejected for p in ps])

    t1 = time.perf_counter()
    tc, tr = feats(train)
    ec, er = feats(held_out)
    t2 = time.perf_counter()
    head, losses = train_bt(tc, tr, steps=steps, lr=lr, l2=l2, seed=seed)
    train_acc, eval_acc = pairwise_accuracy(head, tc, tr), pairwise_accuracy(head, ec, er)
    home = Path(home) if home is not None else rlar_home()
    out_dir = home / "reward_models" / name
    report = {
        "name": name, "backbone": backbone, "data": list(data), "max_len": max_len, "train_pairs": len(train),
        "eval_pairs": len(held_out), "steps": steps, "lr": lr, "l2": l2, "seed": seed,
        "final_loss": losses[-1], "train_accuracy": train_acc, "eval_accuracy": eval_acc,
        "feature_seconds": round(t2 - t1, 2), "total_seconds": round(time.perf_counter() - t0, 2),
        "path": str(out_dir),
    }
    save_head(out_dir, head, report)
    entry = CatalogEntry(
        id=name, kind="bt_head", architecture=loaded.config.arch, source=str(out_dir), tasks=("dialogue",),
        languages=("en",), normalisation={"type": "sigmoid"},
        description=f"Bradley-Terry head on frozen {backbone} last-token features, trained on {len(train)} "
                    f"preference pairs from {', '.join(data)}; held-out pairwise accuracy {eval_acc:.3f} "
                    f"on {len(held_out)} pairs. Score: sigmoid of the scalar reward; needs no reference.")
    Catalog(registry_dir=home / "reward_models").register(entry, persist=True)
    return report


def _run(args: argparse.Namespace) -> int:
    cache = None if args.no_feature_cache else (args.feature_cache or rlar_home() / "features")
    report = train_reward_model(args.data, args.name, backbone=args.backbone, pairs=args.pairs,
                                eval_pairs=args.eval_pairs, steps=args.steps, lr=args.lr, l2=args.l2,
                                max_len=args.max_len, batch_size=args.batch_size,
                                seed=args.seed, feature_cache=cache)
    print(json.dumps(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train-rm` to the `rlar-jax` command."""
    p = subparsers.add_parser("train-rm", help="train a Bradley-Terry reward head and register it in the catalog",
                              description=__doc__)
    p.add_argument("--data", action="append", required=True, metavar="hh:PATH|llmbar:PATH",
                   help="preference pairs; repeat to pool several sources")
    p.add_argument("--name", required=True, help="catalog id and directory name of the head")
    p.add_argument("--backbone", default="smollm2-135m-instruct", help="frozen causal LM (name or path)")
    p.add_argument("--pairs", type=int, default=300, help="training pairs")
    p.add_argument("--eval-pairs", type=int, default=200, help="held-out pairs for the accuracy report")
    p.add_argument("--steps", type=int, default=300, help="full-batch optimiser steps")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--l2", type=float, default=1.0, help="ridge penalty on the head's weights")
    p.add_argument("--max-len", type=int, default=128, help="tokens per (prompt, response), kept from the end")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per backbone forward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feature-cache", type=Path, default=None,
                   help="directory of cached backbone features (default $RLAR_JAX_HOME/features)")
    p.add_argument("--no-feature-cache", action="store_true", help="always recompute backbone features")
    p.set_defaults(func=_run)
