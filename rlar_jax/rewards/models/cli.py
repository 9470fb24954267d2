"""`rlar-jax train-rm`: train a Bradley-Terry head on preference pairs and register it in the catalog
(`--preset hh-harmless` rebuilds the head shipped with the package); `rlar-jax rm-evidence`: measure
catalog reward models on the validation split of each family they claim and record it as evidence."""

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
from rlar_jax.home import rlar_home
from rlar_jax.rewards.catalog import Catalog, CatalogEntry
from rlar_jax.rewards.models.bt import (POOLINGS, BTRewardModel, FeatureExtractor, pairs_from_spec, pairwise_accuracy,
                                        save_head, train_bt)

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
DEFAULT_HEAD = "hh-harmless-bt-smollm2"
DEFAULT_HEAD_TASKS: tuple[str, ...] = ("dialogue", "harmlessness")
PRESETS: tuple[str, ...] = ("hh-harmless",)
# The preset's settings. Mean pooling and ridge 0.3 from 5 x 5-fold cross-validation on the 700 HH-harmless
# training + validation pairs (mean pooling 0.657 / 0.649 / 0.641 at ridge 0.3 / 1 / 3; last token 0.622 /
# 0.630 / 0.628); the benchmark's pairs were not used.
PRESET = {"max_len": 128, "pooling": "mean", "steps": 300, "lr": 1e-2, "l2": 0.3, "seed": 0}


def train_reward_model(data: list[str], name: str, *, backbone: str = "smollm2-135m-instruct", pairs: int = 300,
                       eval_pairs: int = 200, steps: int = 300, lr: float = 1e-2, l2: float = 0.3,
                       max_len: int = 128, batch_size: int = 16, seed: int = 0, pooling: str = "mean",
                       feature_cache: str | Path | None = None, home: str | Path | None = None,
                       loaded: LoadedModel | None = None) -> dict[str, Any]:
    """Train a BT head on `pairs` training pairs, measure pairwise accuracy on `eval_pairs` held-out ones,
    save it under `<home>/reward_models/<name>/` and register a `bt_head` catalog entry. Returns the report.

    data: "hh:PATH" / "llmbar:PATH" specs (pooled, then shuffled with `seed`); backbone: model name or path
    recorded with the head (loaded unless `loaded` is given); pooling: "mean" over the response's tokens or
    "last" token (`FeatureExtractor`); feature_cache: directory for cached features.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"--name: expected letters, digits, '.', '_' or '-' (a directory name), got {name!r}")
    if pairs < 1 or eval_pairs < 1 or steps < 1:
        raise ValueError(f"--pairs, --eval-pairs and --steps must be >= 1, got {pairs}, {eval_pairs}, {steps}")
    if not data:
        raise ValueError("--data: give at least one hh:PATH or llmbar:PATH")
    t0 = time.perf_counter()
    all_pairs = [p for spec in data for p in pairs_from_spec(spec)]
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
    fx = FeatureExtractor(loaded, max_len=max_len, batch_size=batch_size, cache_dir=feature_cache, pooling=pooling)

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
        "name": name, "backbone": backbone, "data": list(data), "max_len": max_len, "pooling": pooling,
        "train_pairs": len(train),
        "eval_pairs": len(held_out), "steps": steps, "lr": lr, "l2": l2, "seed": seed,
        "final_loss": losses[-1], "train_accuracy": train_acc, "eval_accuracy": eval_acc,
        "feature_seconds": round(t2 - t1, 2), "total_seconds": round(time.perf_counter() - t0, 2),
        "path": str(out_dir),
    }
    save_head(out_dir, head, report)
    entry = CatalogEntry(
        id=name, kind="bt_head", architecture=loaded.config.arch, source=str(out_dir), tasks=("dialogue",),
        languages=("en",), normalisation={"type": "sigmoid"},
        description=f"Bradley-Terry head on frozen {backbone} features ({pooling} pooling), trained on {len(train)} "
                    f"preference pairs from {', '.join(data)}; held-out pairwise accuracy {eval_acc:.3f} "
                    f"on {len(held_out)} pairs. Score: sigmoid of the scalar reward; needs no reference.",
        evidence={"dialogue": round(eval_acc, 4)},
        evidence_notes={"dialogue": f"{len(held_out)} held-out pairs of the training data"})
    Catalog(registry_dir=home / "reward_models").register(entry, persist=True)
    return report


def build_default_head(*, home: str | Path | None = None, feature_cache: str | Path | None = None,
                       loaded: LoadedModel | None = None, data_dir: str | Path | None = None,
                       eval_limit: int | None = None) -> dict[str, Any]:
    """Rebuild the default head (`hh-harmless-bt-smollm2`): SmolLM2-135M-Instruct final hidden states
    averaged over the response's tokens (128 tokens kept), a BT head (`PRESET`) on the HH-harmless training
    split, evidence on the validation split of each family it claims. Saved under `<home>/reward_models/<name>/` and
    registered there; copying that directory to `rlar_jax/rewards/models/heads/` ships it. Returns the report.
    """
    from rlar_jax.datasets.registry import BUNDLED_DIR
    from rlar_jax.datasets.splits import HH_FILE, hh_split
    from rlar_jax.rewards.evidence import measure_entry

    t0 = time.perf_counter()
    root = Path(BUNDLED_DIR if data_dir is None else data_dir)
    train = [(p, c, r) for _, p, c, r in hh_split(root / HH_FILE, "train")]  # (prompt, chosen, rejected)
    if loaded is None:
        from rlar_jax.models import load_model

        loaded = load_model("smollm2-135m-instruct")
    fx = FeatureExtractor(loaded, max_len=PRESET["max_len"], batch_size=16, cache_dir=feature_cache,
                          pooling=PRESET["pooling"])
    prompts = [p for p, _, _ in train]
    tc, tr = fx(prompts, [c for _, c, _ in train]), fx(prompts, [r for _, _, r in train])
    head, losses = train_bt(tc, tr, steps=PRESET["steps"], lr=PRESET["lr"], l2=PRESET["l2"], seed=PRESET["seed"])
    out_dir = (Path(home) if home is not None else rlar_home()) / "reward_models" / DEFAULT_HEAD
    entry = CatalogEntry(
        id=DEFAULT_HEAD, kind="bt_head", architecture=loaded.config.arch, source=str(out_dir),
        tasks=DEFAULT_HEAD_TASKS, languages=("en",), normalisation={"type": "sigmoid"},
        description=f"Bradley-Terry head on frozen SmolLM2-135M-Instruct hidden states averaged over the reply, "
                    f"trained on the "
                    f"{len(train)} pairs of the HH-harmless training split (`rlar-jax train-rm --preset "
                    f"hh-harmless`). Score: sigmoid of the scalar reward; needs no reference.")
    entry = measure_entry(entry, BTRewardModel(fx, head), data_dir=root, limit=eval_limit)
    spec = {k: v for k, v in entry.to_dict().items() if k != "source"}
    report = {"name": DEFAULT_HEAD, "backbone": "smollm2-135m-instruct", **PRESET,
              "data": "hh_rlhf_harmless:train", "train_pairs": len(train), "final_loss": losses[-1],
              "train_accuracy": pairwise_accuracy(head, tc, tr), "evidence": entry.evidence,
              "evidence_notes": entry.evidence_notes, "total_seconds": round(time.perf_counter() - t0, 2),
              "catalog": spec}
    save_head(out_dir, head, report)
    Catalog(registry_dir=out_dir.parent).register(entry, persist=True)
    return {**report, "path": str(out_dir)}


def _run(args: argparse.Namespace) -> int:
    cache = None if args.no_feature_cache else (args.feature_cache or rlar_home() / "features")
    if args.preset:
        if args.data or args.name:
            raise SystemExit("--preset: builds a fixed head; leave out --data and --name")
        print(json.dumps(build_default_head(feature_cache=cache)))
        return 0
    if not args.data or not args.name:
        raise SystemExit("train-rm: --data and --name are required (or give --preset)")
    report = train_reward_model(args.data, args.name, backbone=args.backbone, pairs=args.pairs,
                                eval_pairs=args.eval_pairs, steps=args.steps, lr=args.lr, l2=args.l2,
                                max_len=args.max_len, batch_size=args.batch_size, pooling=args.pooling,
                                seed=args.seed, feature_cache=cache)
    print(json.dumps(report))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train-rm` to the `rlar-jax` command."""
    p = subparsers.add_parser("train-rm", help="train a Bradley-Terry reward head and register it in the catalog",
                              description=__doc__)
    p.add_argument("--preset", choices=PRESETS, default=None,
                   help=f"rebuild the head shipped with the package ({DEFAULT_HEAD}: HH-harmless training split, "
                        f"evidence on the validation splits) under $RLAR_JAX_HOME/reward_models")
    p.add_argument("--data", action="append", metavar="hh:PATH|llmbar:PATH",
                   help="preference pairs; repeat to pool several sources (required without --preset)")
    p.add_argument("--name", help="catalog id and directory name of the head (required without --preset)")
    p.add_argument("--backbone", default="smollm2-135m-instruct", help="frozen causal LM (name or path)")
    p.add_argument("--pairs", type=int, default=300, help="training pairs")
    p.add_argument("--eval-pairs", type=int, default=200, help="held-out pairs for the accuracy report")
    p.add_argument("--steps", type=int, default=300, help="full-batch optimiser steps")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--l2", type=float, default=PRESET["l2"], help="ridge penalty on the head's weights")
    p.add_argument("--pooling", choices=POOLINGS, default=PRESET["pooling"],
                   help="backbone features: mean of the final hidden states over the response, or the last token's")
    p.add_argument("--max-len", type=int, default=128, help="tokens per (prompt, response), kept from the end")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per backbone forward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--feature-cache", type=Path, default=None,
                   help="directory of cached backbone features (default $RLAR_JAX_HOME/features)")
    p.add_argument("--no-feature-cache", action="store_true", help="always recompute backbone features")
    p.set_defaults(func=_run)
    register_evidence(subparsers)


def _run_evidence(args: argparse.Namespace) -> int:
    from rlar_jax.rewards.evidence import evidence_table, register_measured
    from rlar_jax.rewards.models.registry import load_reward_model

    if args.limit is not None and args.limit < 1:
        raise SystemExit(f"--limit: expected >= 1 validation pairs, got {args.limit}")
    catalog = Catalog(registry_dir=args.registry)
    unknown = [m for m in args.model if not catalog.knows(m)]
    if unknown:
        raise SystemExit(f"rm-evidence: unknown reward model(s) {unknown}; known: {[e.id for e in catalog.entries()]}")
    for model_id in args.model:
        entry = catalog.get(model_id)
        register_measured(catalog, entry, load_reward_model(entry, catalog=catalog), persist=True,
                          data_dir=args.data_dir, limit=args.limit)
    print(evidence_table(Catalog(registry_dir=args.registry)))
    return 0


def register_evidence(subparsers: argparse._SubParsersAction) -> None:
    """Add `rm-evidence` to the `rlar-jax` command."""
    p = subparsers.add_parser("rm-evidence", help="measure reward models on validation pairs per task family",
                              description="Measure catalog reward models on the validation split of each task "
                                          "family they claim and record the accuracy in the catalog registry.")
    p.add_argument("model", nargs="+", help="catalog ids")
    p.add_argument("--limit", type=int, default=None, help="at most this many validation pairs per family")
    p.add_argument("--data-dir", default=None, help="data directory (default: the bundled data)")
    p.add_argument("--registry", default=None, help="registry directory (default $RLAR_JAX_HOME/reward_models)")
    p.set_defaults(func=_run_evidence)
