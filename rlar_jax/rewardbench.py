"""`rlar-jax rewardbench`: how well a reward system ranks responses (RewardBench-2 style).

Each item has one correct candidate and one (pairs) or three (best-of-4) wrong ones; a system scores
every candidate of an item, and the item counts as a win when the correct one scores highest. When k
candidates tie at the top and the correct one is among them, the item counts 1/k (a constant scorer
therefore earns chance, 1/4 or 1/2, not 0). A candidate the system cannot score (NaN) ranks below every
scored one; an unscored correct candidate is a loss.

Systems:
  rlar           the RLAR reward system: offline-planner plans per task signature, sandboxed verifiers,
                 catalog reward models (dialogue: the planner's reward model)
  static:<id>    one seed verifier or catalog reward model for every subset
  judge          the generative judge (catalog `judge-policy`) for every subset
The table adds an `oracle` column when static systems ran: per subset the best of them, i.e. what
choosing one fixed scorer per subset with hindsight would reach.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rlar_jax.datasets.suite import SUBSETS, BenchItem, build_suite

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
ORACLE = "oracle"  # the best static system per subset: the upper bound of any one fixed scorer per subset
TIE_TOL = 1e-9


def best_of_k(scores: Sequence[float]) -> float:
    """Credit of one item whose `scores[0]` is the correct candidate's: 1/k when it is among the k
    candidates tied at the top score, else 0; NaN scores rank lowest and a NaN correct score is 0."""
    s = np.asarray(scores, np.float64)
    if s.ndim != 1 or s.size < 2:
        raise ValueError(f"scores: expected at least two candidates' scores, got {scores!r}")
    if math.isnan(s[0]):
        return 0.0
    s = np.where(np.isnan(s), -np.inf, s)
    top = s.max()
    if s[0] < top - TIE_TOL:
        return 0.0
    return 1.0 / int((s >= top - TIE_TOL).sum())


def subset_accuracy(score_lists: Sequence[Sequence[float]]) -> float:
    """Mean best-of-k credit over a subset's items (NaN for an empty subset)."""
    return float(np.mean([best_of_k(s) for s in score_lists])) if score_lists else float("nan")


# ------------------------------------------------------------------------------------------ systems


def _static_engine(spec: str, component_id: str, sandbox: Any, catalog: Any, models: Any) -> Any:
    from rlar_jax.rewards.engine import ScoringEngine
    from rlar_jax.rewards.plan import Component, RewardPlan
    from rlar_jax.sandbox import load_verifier, seed_verifiers

    if component_id in seed_verifiers() or Path(component_id).is_file():
        kind = "verifier"
    elif catalog.knows(component_id):
        kind = "reward_model"
    else:
        raise ValueError(f"system {spec!r}: {component_id!r} is neither a seed verifier "
                         f"{sorted(seed_verifiers())} nor a catalog reward model {[e.id for e in catalog.entries()]}")
    plan = RewardPlan(task_signature=spec, task_family="other", components=(Component(kind, component_id, 1.0),),
                      rationale=f"one {kind} for every subset").validate()
    return ScoringEngine(sandbox, lambda examples: [plan] * len(examples), load_verifier, models)


def build_system(spec: str, sandbox: Any, catalog: Any, models: Any) -> Any:
    """A scorer with `score(examples, completions) -> (float32[N], provenance)` for a system spec."""
    if spec == "rlar":
        from rlar_jax.rewards.resolver import PlanResolver
        from rlar_jax.rewards.library import Library
        from rlar_jax.rewards.planner import OfflinePlanner
        from rlar_jax.rewards.system import RLARSystem

        library = Library(":memory:")
        # replan off: the benchmark measures the plans, not how the library would evolve them mid-run
        system = RLARSystem(sandbox, library, PlanResolver(library, OfflinePlanner(catalog), None, replan=False),
                            catalog)
        system.reward_model = models
        return system
    if spec == "judge":
        return _static_engine(spec, "judge-policy", sandbox, catalog, models)
    if spec.startswith("static:") and len(spec) > 7:
        return _static_engine(spec, spec[7:], sandbox, catalog, models)
    raise ValueError(f"system {spec!r}: expected rlar, judge or static:<verifier or reward-model id>")


def score_items(system: Any, items: Sequence[BenchItem]) -> list[list[float]]:
    """Every candidate's score, item by item (one batched call for the whole subset)."""
    examples = [it.example for it in items for _ in it.candidates]
    completions = [c for it in items for c in it.candidates]
    if not completions:
        return []
    rewards, provenance = system.score(examples, completions)
    errors = [p.get("errors") for p in provenance if p.get("errors")]
    if errors:
        log.info("%d of %d candidates unscored, e.g. %s", len(errors), len(completions), errors[0])
    out, pos = [], 0
    for it in items:
        out.append([float(x) for x in rewards[pos:pos + len(it.candidates)]])
        pos += len(it.candidates)
    return out


def run_benchmark(data_dir: str | Path | None, systems: Sequence[str], limits: dict[str, int], seed: int = 0,
                  registry_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Build the suite once and score it with each system; one result dict per system:
    {"system", "subsets": {name: accuracy}, "average", "n": {name: items}, "seconds"}."""
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.sandbox import Sandbox

    from rlar_jax.rewards.system import RewardModels

    catalog = Catalog(registry_dir=registry_dir)
    models = RewardModels(catalog)  # shared: a reward model used by several systems is loaded once
    results = []
    with Sandbox() as sandbox:
        suite = build_suite(data_dir, limits, sandbox, seed)
        built = [build_system(spec, sandbox, catalog, models) for spec in systems]  # bad specs fail early
        for spec, system in zip(systems, built):
            t0 = time.perf_counter()
            subsets = {name: subset_accuracy(score_items(system, items)) for name, items in suite.items()}
            finite = [v for v in subsets.values() if not math.isnan(v)]
            results.append({"system": spec, "subsets": subsets,
                            "average": float(np.mean(finite)) if finite else float("nan"),
                            "n": {name: len(items) for name, items in suite.items()},
                            "seconds": round(time.perf_counter() - t0, 1)})
            library = getattr(system, "library", None)
            if library is not None:
                library.close()
    return results


def is_static(spec: str) -> bool:
    """True for a system that uses one scorer for every subset (static:<id>, judge)."""
    return spec == "judge" or spec.startswith("static:")


def oracle(results: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The upper bound of choosing one static scorer per subset: per subset the best accuracy of the
    static systems in `results` (NaN ignored), with which system it was ("best"); None without any."""
    static = [r for r in results if is_static(r["system"])]
    if not static:
        return None
    subsets, best = {}, {}
    for name in static[0]["subsets"]:
        scored = [(r["subsets"][name], r["system"]) for r in static if not math.isnan(r["subsets"][name])]
        subsets[name], best[name] = max(scored, key=lambda x: x[0]) if scored else (float("nan"), None)
    finite = [v for v in subsets.values() if not math.isnan(v)]
    return {"system": ORACLE, "subsets": subsets, "average": float(np.mean(finite)) if finite else float("nan"),
            "n": dict(static[0]["n"]), "best": best}


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """Subsets as rows, one accuracy column per system, then the oracle column (the best static system per
    subset, when any static system ran) and the average row."""
    results = [r for r in results if r["system"] != ORACLE]
    bound = oracle(results)
    cols = [*results, bound] if bound else list(results)
    names = list(results[0]["subsets"]) if results else []
    width = max([len(r["system"]) for r in cols] + [8])
    lines = [f"{'subset':<12} {'n':>4}  " + "  ".join(f"{r['system']:>{width}}" for r in cols)]
    for name in names:
        cells = "  ".join(f"{r['subsets'][name]:>{width}.3f}" for r in cols)
        lines.append(f"{name:<12} {results[0]['n'][name]:>4}  {cells}")
    lines.append(f"{'average':<12} {'':>4}  " + "  ".join(f"{r['average']:>{width}.3f}" for r in cols))
    return "\n".join(lines)


def parse_limits(values: Sequence[str] | None, subsets: Sequence[str]) -> dict[str, int]:
    """`--limit N` (every subset) and `--limit SUBSET=N` (one subset) into {subset: N} for `subsets`."""
    limits = {s: DEFAULT_LIMIT for s in subsets}
    for v in values or ():
        name, sep, num = v.rpartition("=")
        if not num.isdigit() or int(num) < 1:
            raise ValueError(f"--limit {v!r}: expected N or SUBSET=N with N >= 1")
        if not sep:
            limits = {s: int(num) for s in limits}
        elif name not in SUBSETS:
            raise ValueError(f"--limit {v!r}: unknown subset {name!r}; expected one of {list(SUBSETS)}")
        elif name in limits:
            limits[name] = int(num)
    return limits


def _run(args: argparse.Namespace) -> int:
    from rlar_jax.train_cli import _quiet_libraries

    _quiet_libraries()
    subsets = [s.strip() for s in args.subsets.split(",") if s.strip()] if args.subsets else list(SUBSETS)
    bad = sorted(set(subsets) - set(SUBSETS))
    if bad:
        raise SystemExit(f"--subsets: unknown subset(s) {bad}; expected some of {list(SUBSETS)}")
    try:
        limits = parse_limits(args.limit, subsets)
    except ValueError as e:
        raise SystemExit(str(e)) from e
    systems = args.system or ["rlar"]
    results = run_benchmark(args.data_dir, systems, limits, seed=args.seed, registry_dir=args.registry)
    print(format_table(results))
    bound = oracle(results)
    if bound is not None:
        results.append(bound)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    for r in results:
        print(json.dumps({"system": r["system"], "subsets": r["subsets"], "average": r["average"],
                          **({"best": r["best"]} if "best" in r else {})}))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `rewardbench` command."""
    p = sub.add_parser("rewardbench", help="benchmark reward systems on ranking correct vs wrong responses",
                       description=__doc__.split("\n\n")[1].replace("\n", " "),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None,
                   help="directory with gsm8k/, mbpp/, wmt22/, hh_rlhf_harmless/, llmbar/, ifgen/ (plain or "
                        ".gz files; default: the data bundled with the package)")
    p.add_argument("--system", action="append", metavar="SPEC",
                   help="rlar | judge | static:<verifier or reward-model id>; repeat for several (default rlar)")
    p.add_argument("--limit", action="append", metavar="N|SUBSET=N",
                   help=f"items per subset (default {DEFAULT_LIMIT}); SUBSET=N sets one subset; repeatable")
    p.add_argument("--subsets", default=None, help=f"comma-separated subset names (default all: {','.join(SUBSETS)})")
    p.add_argument("--seed", type=int, default=0, help="seed of the corruptions, mutants and degradations")
    p.add_argument("--registry", default=None, help="directory of registered reward-model entries "
                                                    "(default $RLAR_JAX_HOME/reward_models)")
    p.add_argument("--out", default=None, help="also write the full results (with item counts) as JSON here")
    p.set_defaults(func=_run)
