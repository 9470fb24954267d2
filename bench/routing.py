"""Task-family routing accuracy per family: the hand-written rules alone against the learned routing.

The labelled set (`tests/rewards/data/routing_eval.jsonl`, one {"query", "family"} object a line) was
written by hand, phrased as people write requests, independently of the router's training queries and
never used to train it. Labels:
  math         a question whose answer is computed (arithmetic, algebra, geometry, rates, calculus, ...)
  code         a programming request: write, fix, explain or optimise code, SQL, regular expressions, shell
  translation  a request to translate text, written in any language, into any language
  dialogue     open-ended chat, advice, opinions, explanations, creative writing without format constraints
  instruction  an open-ended request with format constraints stated in words (length, letters, layout, ...)
  other        a factual question with a short answer, or a multiple-choice question
`tests/rewards/data/routing_check.jsonl` (60 queries, 10 per family, same labels) was written later, after
the router's training queries had been widened, and before the router was measured on it (`--data`).
`routing_test.jsonl` and `routing_holdout.jsonl` (300 queries each, 50 per family) were written together,
independently of the training queries; `test` is used while developing, `holdout` was measured once and
then used while developing too. `routing_final.jsonl` (300, 50 per family) was written by a separate author
who saw neither the training queries nor the router, measured once, then used while developing.
`routing_final2.jsonl` (300, 50 per family) was written the same way by another author; after it was
written, the router changed only by dropping training queries that (nearly) equalled one of its queries,
and it was measured once for the reported figure. `routing_final3.jsonl` (360, 60 per family, 131 not in
English) was written the same way by a third author; before it was measured, training queries that (nearly)
equalled one of its queries were dropped (word-bigram Jaccard >= 0.6 or equal), and it was measured once.
`routing_final4.jsonl` (360, 60 per family, 120 not in English) was written by a fourth author the same way,
decontaminated the same way after the router of that round was decided, and measured once.
`routing_final5.jsonl` (360, 60 per family, 183 not in English) likewise, by a fifth author.
`routing_final6.jsonl` (360, 60 per family, 203 not in English, 31 languages) likewise, by a sixth author.
Every query is analysed without a task tag or meta, once with `routing="rules"` (the rules alone) and once
with `routing="learned"` (high-precision rules, then the router above its threshold, then the rules).

Run: .venv/bin/python bench/routing.py [--data PATH] [--show-errors]. Ends with one JSON line
(ours = learned routing accuracy over all queries, peer = rules-only accuracy).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rlar_jax.rewards import routing  # noqa: E402
from rlar_jax.rewards.families import TASK_FAMILIES  # noqa: E402
from rlar_jax.rewards.signature import analyse_query  # noqa: E402

DATA = ROOT / "tests" / "rewards" / "data" / "routing_eval.jsonl"


def per_family(rows: list[tuple[str, str]], predicted: list[str]) -> dict[str, float]:
    """Accuracy per labelled family, and overall under "all"."""
    out = {}
    for fam in TASK_FAMILIES:
        idx = [i for i, (_, f) in enumerate(rows) if f == fam]
        if idx:
            out[fam] = float(np.mean([predicted[i] == fam for i in idx]))
    out["all"] = float(np.mean([p == f for p, (_, f) in zip(predicted, rows)]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the per-family table (and optionally the misrouted queries), then the JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(DATA), help=f"labelled JSONL (default {DATA})")
    ap.add_argument("--show-errors", action="store_true", help="print every query the learned routing misroutes")
    args = ap.parse_args(argv)
    rows = routing.load_labelled(args.data)
    t0 = time.perf_counter()
    router = routing.get_router()
    if router is None:
        print("learned routing is unavailable (see the warning above); nothing to compare", file=sys.stderr)
        return 1
    routed = router.route_many([q for q, _ in rows])  # one batch; analyse_query then reads the cache
    t_route = time.perf_counter() - t0
    rules = [analyse_query(q, routing="rules").family for q, _ in rows]
    feats = [analyse_query(q, routing="learned") for q, _ in rows]
    learned = [f.family for f in feats]
    acc_rules, acc_learned = per_family(rows, rules), per_family(rows, learned)
    n = Counter(f for _, f in rows)
    print(f"routing accuracy on {args.data} ({len(rows)} queries); router threshold {router.threshold}")
    print(f"{'family':<12} {'n':>4} {'rules':>7} {'learned':>8}")
    for fam in (*TASK_FAMILIES, "all"):
        count = len(rows) if fam == "all" else n[fam]
        print(f"{fam:<12} {count:>4} {acc_rules[fam]:>7.3f} {acc_learned[fam]:>8.3f}")
    by = Counter(f.routed_by for f in feats)
    print("decided by: " + ", ".join(f"{k} {v}" for k, v in sorted(by.items())))
    conf = np.array([r.confidence for r in routed])
    print(f"router confidence: median {np.median(conf):.3f}, below threshold {int((conf < router.threshold).sum())}")
    print("router alone (argmax, no rules) at thresholds: " + ", ".join(
        f"{t:.1f}: {np.mean([r.family == f for r, (_, f) in zip(routed, rows) if r.confidence >= t]):.3f} "
        f"on {sum(r.confidence >= t for r in routed)}" for t in (0.0, 0.3, 0.5, 0.7, 0.9)))
    print(f"routing {len(rows)} queries (encoder load, compile and batch): {t_route:.1f} s")
    if args.show_errors:
        for (q, fam), f, r in zip(rows, feats, routed):
            if f.family != fam:
                print(f"  [{fam} -> {f.family} by {f.routed_by}, router {r.family} {r.confidence:.2f}] {q!r}")
    ours, peer = acc_learned["all"], acc_rules["all"]
    print(json.dumps({"bench": "routing", "ours": round(ours, 4), "peer": round(peer, 4), "unit": "accuracy",
                      "ratio": round(ours / peer, 4) if peer else None}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
