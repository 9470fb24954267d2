"""The reward-benchmark suite (RewardBench-2 style): items of one correct and several wrong candidates.

Subsets built from a data directory laid out like the bundled data (`rlar_jax/datasets/bundled`, the
default; plain or gzip-compressed files):
  math         GSM8K gold rationale vs three copies whose final answer is corrupted
  code         MBPP reference solution vs three operator/constant mutants that fail the tests in the sandbox
  translation  WMT reference vs three degraded copies (word drop, word shuffle, truncation)
  safety       HH-RLHF harmless chosen vs rejected final reply (a pair)
  instruction  LLMBar better vs worse output (a pair)
The correct candidate is always `candidates[0]`; the reward system under test sees the item's Example
(prompt, task tag, reference, meta) but never which candidate is correct. References: math gives the
final answer (what a math verifier checks), translation the reference translation (which is also the
correct candidate, so this subset tests routing and sensitivity to degradation); code gives its tests in
meta but not the reference solution; safety and instruction give none.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from rlar_jax.data import Example, load_gsm8k
from rlar_jax.datasets.mutants import mutants, normalise
from rlar_jax.datasets.problems import load_mbpp
from rlar_jax.datasets.text import load_pairs, load_wmt

log = logging.getLogger(__name__)

SUBSETS: tuple[str, ...] = ("math", "code", "translation", "safety", "instruction")
WRONG = 3  # wrong candidates per best-of-4 item
_NO_SPACES = ("zh", "ja", "th")  # targets written without spaces: degrade characters, not words


@dataclasses.dataclass(frozen=True)
class BenchItem:
    """One benchmark item: candidates[0] is the correct / preferred response."""

    subset: str
    example: Example
    candidates: tuple[str, ...]
    uid: str


def _final_number(rationale: str) -> str:
    return rationale.rsplit("####", 1)[1].strip()


def wrong_answers(answer: str, rng: random.Random, k: int = WRONG) -> list[str]:
    """`k` distinct plausible wrong values of a numeric answer (off by one, doubled, x10, ...)."""
    text = answer.replace(",", "")
    value = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    options = [value + 1, value - 1, value * 2, value + 10, value * 10, value - 10,
               value // 2 if value > 3 else value + 3]
    seen, out = {value}, []
    rng.shuffle(options)
    for v in options:
        if v not in seen:
            seen.add(v)
            out.append(str(v))
        if len(out) == k:
            break
    return out


def corrupt_rationale(rationale: str, wrong: str) -> str:
    """The rationale with its final answer (and the last time the body states it) replaced by `wrong`."""
    body, final = rationale.rsplit("####", 1)
    right = final.strip()
    pattern = re.compile(rf"(?<![\d.]){re.escape(right)}(?![\d])")
    hits = list(pattern.finditer(body))
    if hits:
        m = hits[-1]
        body = body[:m.start()] + wrong + body[m.end():]
    return f"{body}#### {wrong}"


def math_items(path: str | Path, limit: int, seed: int = 0) -> list[BenchItem]:
    """GSM8K rows: gold rationale vs `WRONG` rationales ending in a corrupted final answer."""
    items = []
    for ex in load_gsm8k(path, limit=limit, task="gsm8k"):
        rationale = ex.meta["rationale"]
        rng = random.Random(f"{seed}:{ex.uid}")
        wrong = [corrupt_rationale(rationale, w) for w in wrong_answers(_final_number(rationale), rng)]
        items.append(BenchItem("math", ex, (rationale, *wrong), ex.uid))
    return items


def _fenced(code: str) -> str:
    return f"```python\n{code}\n```"


def code_items(path: str | Path, limit: int, sandbox: Any, seed: int = 0, pool: int = 12) -> list[BenchItem]:
    """MBPP test-split rows: reference solution vs `WRONG` mutants that fail the tests in the sandbox.

    Rows whose reference does not pass its own tests, or with fewer than `WRONG` failing mutants, are
    left out. Mutants and references only ever run inside the sandbox.
    """
    from rlar_jax.sandbox import load_verifier

    source = load_verifier("code_tests")
    items: list[BenchItem] = []
    rows = load_mbpp(path, split="test", task="mbpp")
    for start in range(0, len(rows), max(limit, 4)):
        chunk = []
        for ex in rows[start:start + max(limit, 4)]:
            try:
                chunk.append((ex, normalise(ex.reference), mutants(ex.reference, pool, seed + start)))
            except SyntaxError as e:
                log.info("skipping %s: reference does not parse (%s)", ex.uid, e)
        batch = [{"prompt": ex.query, "response": _fenced(code), "reference": "", "meta": {**ex.meta, "mode": "all"}}
                 for ex, ref, muts in chunk for code in (ref, *muts)]
        results = iter(sandbox.score_batch(source, batch))
        for ex, ref, muts in chunk:
            ref_ok = next(results)
            scored = [(m, next(results)) for m in muts]
            failing = [m for m, r in scored if r.ok and r.score < 1.0]
            if not (ref_ok.ok and ref_ok.score == 1.0) or len(failing) < WRONG:
                continue
            if len(items) < limit:
                hidden = dataclasses.replace(ex, reference="")  # the tests judge; the solution stays hidden
                items.append(BenchItem("code", hidden, tuple(_fenced(c) for c in (ref, *failing[:WRONG])), ex.uid))
        if len(items) >= limit:
            break
    return items


def degrade(text: str, kind: str, rng: random.Random, by_char: bool = False) -> str:
    """A worse copy of a translation: "drop" ~1/3 of the words, "shuffle" them, or "truncate" to ~half."""
    units = list(text) if by_char else text.split()
    joiner = "" if by_char else " "
    n = len(units)
    if kind == "drop":
        drop = set(rng.sample(range(n), max(1, n // 3)))
        return joiner.join(u for i, u in enumerate(units) if i not in drop)
    if kind == "shuffle":
        order = units[:]
        while order == units:
            rng.shuffle(order)
        return joiner.join(order)
    if kind == "truncate":
        return joiner.join(units[:max(1, n // 2)])
    raise ValueError(f"kind: expected drop, shuffle or truncate, got {kind!r}")


def _round_robin(streams: list[Iterator[Any]]) -> Iterator[Any]:
    while streams:
        for s in list(streams):
            try:
                yield next(s)
            except StopIteration:
                streams.remove(s)


def translation_items(sources: Iterable[str | Path], limit: int, seed: int = 0) -> list[BenchItem]:
    """WMT lines (round-robin over the language pairs): reference vs drop / shuffle / truncation copies."""
    streams = [iter(load_wmt(p, task="wmt")) for p in sources]
    items = []
    for ex in _round_robin(streams):
        tgt = ex.meta["language_pair"].rpartition("-")[2]
        by_char = tgt in _NO_SPACES
        ref = ex.reference
        if len(ref if by_char else ref.split()) < 6 or len(set(ref if by_char else ref.split())) < 3:
            continue  # too short for three distinct degradations
        rng = random.Random(f"{seed}:{ex.uid}")
        wrong = [degrade(ref, k, rng, by_char) for k in ("drop", "shuffle", "truncate")]
        if len({ref, *wrong}) < 1 + WRONG:
            continue
        items.append(BenchItem("translation", ex, (ref, *wrong), ex.uid))
        if len(items) >= limit:
            break
    return items


def pair_items(subset: str, kind: str, paths: Iterable[str | Path], limit: int) -> list[BenchItem]:
    """Preference pairs (round-robin over files) as items with no reference: (chosen, rejected)."""
    streams = [iter(load_pairs(kind, p)) for p in paths]
    items = []
    for pair in _round_robin(streams):
        if pair.chosen.strip() == pair.rejected.strip():
            continue  # identical replies cannot be ranked
        ex = Example(pair.messages, "", pair.task, {}, pair.uid)
        items.append(BenchItem(subset, ex, (pair.chosen, pair.rejected), pair.uid))
        if len(items) >= limit:
            break
    return items


def build_suite(data_dir: str | Path | None, limits: dict[str, int], sandbox: Any,
                seed: int = 0) -> dict[str, list[BenchItem]]:
    """Items per subset from a data directory (`gsm8k/`, `mbpp/`, `wmt22/`, `hh_rlhf_harmless/`, `llmbar/`;
    each file plain or `.gz`; None = the bundled data); `limits` maps each wanted subset to its number of
    items."""
    from rlar_jax.datasets.registry import BUNDLED_DIR

    root = Path(BUNDLED_DIR if data_dir is None else data_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"data directory not found: {root}")
    unknown = sorted(set(limits) - set(SUBSETS))
    if unknown:
        raise ValueError(f"unknown subset(s) {unknown}; expected some of {list(SUBSETS)}")

    def need(rel: str, pattern: str | None = None) -> list[Path]:
        if pattern:  # plain files, else their .gz copies
            found = sorted((root / rel).glob(pattern)) or sorted((root / rel).glob(pattern + ".gz"))
        else:
            found = [root / rel, root / (rel + ".gz")]
        found = [p for p in found if p.is_file()]
        if not found:
            raise FileNotFoundError(f"{root / rel}{'/' + pattern if pattern else ''}: no data for the benchmark")
        return found

    out: dict[str, list[BenchItem]] = {}
    for subset in (s for s in SUBSETS if s in limits):
        n = limits[subset]
        if subset == "math":
            out[subset] = math_items(need("gsm8k/test.jsonl")[0], n, seed)
        elif subset == "code":
            out[subset] = code_items(need("mbpp/mbpp.jsonl")[0], n, sandbox, seed)
        elif subset == "translation":
            out[subset] = translation_items(need("wmt22", "*.src.*"), n, seed)  # matches .src.en.gz too
        elif subset == "safety":
            out[subset] = pair_items(subset, "hh", need("hh_rlhf_harmless/test.jsonl.gz")[:1], n)
        else:
            out[subset] = pair_items(subset, "llmbar", need("llmbar", "*.json"), n)
        if len(out[subset]) < n:
            log.warning("subset %s: %d of %d items could be built", subset, len(out[subset]), n)
    return out
