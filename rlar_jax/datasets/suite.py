"""The reward-benchmark suite (RewardBench-2 style): items of one correct and several wrong candidates.

Subsets built from a data directory laid out like the bundled data (`rlar_jax/datasets/bundled`, the
default; plain or gzip-compressed files):
  math         GSM8K gold rationale vs three copies whose final answer is corrupted
  code         MBPP reference solution vs three operator/constant mutants that fail the tests in the sandbox
  translation  WMT22 second human translation (`ref.B`) vs three degraded copies of it (word drop, word
               shuffle, truncation); the scorer is given the first translation (`ref.A`) as reference
  safety       HH-RLHF harmless chosen vs rejected final reply (a pair), benchmark split only
  instruction  LLMBar better vs worse output (a pair), benchmark split only
  precise_if   a held-out constraint prompt (`ifgen/eval.jsonl`) with a response meeting every stated
               constraint vs three each breaking exactly one (see `rlar_jax.datasets.precise_if`)
The correct candidate is always `candidates[0]`; the reward system under test sees the item's Example
(prompt, task tag, reference, meta) but never which candidate is correct. References: math gives the
final answer (what a math verifier checks); translation gives a human reference that is never one of the
candidates, so a reference-based scorer must recognise a different correct translation rather than its
own reference (WMT22 ships two independent reference translations for each of en-de, de-en and en-zh;
lines where the two are identical are left out); code gives its tests in meta but not the reference
solution; safety, instruction and precise_if give none (precise_if states its constraints in the prompt
only). Safety and instruction never use the pairs of the validation and training splits that catalog
reward models are measured and trained on (`rlar_jax.datasets.splits`).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from rlar_jax.datasets.examples import Example
from rlar_jax.datasets.problems import load_gsm8k
from rlar_jax.datasets.readers import read_text
from rlar_jax.datasets.mutants import mutants, normalise
from rlar_jax.datasets.problems import load_mbpp
from rlar_jax.datasets.splits import HH_FILE, hh_split, llmbar_split
from rlar_jax.datasets.text import PreferencePair, load_pairs, load_wmt

log = logging.getLogger(__name__)

SUBSETS: tuple[str, ...] = ("math", "code", "translation", "safety", "instruction", "precise_if")
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


def second_reference(source: str | Path) -> Path:
    """The second human reference (`ref.B`, plain or .gz) beside a WMT source file `<stem>.<pair>.src.<src>`."""
    src = Path(source)
    name = src.name.removesuffix(".gz")
    stem, sep, _ = name.rpartition(".src.")
    if not sep:
        raise ValueError(f"{src}: expected a WMT source file named <stem>.<src>-<tgt>.src.<src>")
    tgt = stem.rpartition(".")[2].rpartition("-")[2]
    for cand in (src.parent / f"{stem}.ref.B.{tgt}", src.parent / f"{stem}.ref.B.{tgt}.gz"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"second reference not found: {src.parent / f'{stem}.ref.B.{tgt}'}[.gz] "
                            f"(the translation subset needs two human references per source file)")


def translation_items(sources: Iterable[str | Path], limit: int, seed: int = 0) -> list[BenchItem]:
    """WMT lines (round-robin over the language pairs): the second human translation vs drop / shuffle /
    truncation copies of it; the Example's reference is the first translation (never a candidate)."""
    streams = []
    for p in sources:
        second = read_text(second_reference(p)).split("\n")
        if second and second[-1] == "":  # the final newline does not start a line
            second.pop()
        examples = load_wmt(p, task="wmt")
        if len(second) != len(examples):
            raise ValueError(f"{second_reference(p)} has {len(second)} lines but {p} has {len(examples)}; "
                             "source and references must be line-aligned")
        streams.append(iter(zip(examples, second)))
    items = []
    for ex, alt in _round_robin(streams):
        tgt = ex.meta["language_pair"].rpartition("-")[2]
        by_char = tgt in _NO_SPACES
        alt = alt.strip()
        if not alt or alt == ex.reference.strip():
            continue  # the correct candidate must differ from the scorer's reference
        if len(alt if by_char else alt.split()) < 6 or len(set(alt if by_char else alt.split())) < 3:
            continue  # too short for three distinct degradations
        rng = random.Random(f"{seed}:{ex.uid}")
        wrong = [degrade(alt, k, rng, by_char) for k in ("drop", "shuffle", "truncate")]
        if len({alt, *wrong, ex.reference}) < 2 + WRONG:
            continue
        items.append(BenchItem("translation", ex, (alt, *wrong), ex.uid))
        if len(items) >= limit:
            break
    return items


def pair_items(subset: str, kind: str, paths: Iterable[str | Path], limit: int,
               keep: Callable[[int, PreferencePair], bool] | None = None) -> list[BenchItem]:
    """Preference pairs (round-robin over files) as items with no reference: (chosen, rejected).

    keep(index of the pair in its file, pair): False leaves the pair out (e.g. a validation-split pair).
    """
    streams = [iter(enumerate(load_pairs(kind, p))) for p in paths]
    items = []
    for i, pair in _round_robin(streams):
        if pair.chosen.strip() == pair.rejected.strip():
            continue  # identical replies cannot be ranked
        if keep is not None and not keep(i, pair):
            continue
        ex = Example(pair.messages, "", pair.task, {}, pair.uid)
        items.append(BenchItem(subset, ex, (pair.chosen, pair.rejected), pair.uid))
        if len(items) >= limit:
            break
    return items


def _hh_bench(path: Path) -> Callable[[int, PreferencePair], bool]:
    lines = {row[0] for row in hh_split(path, "bench")}
    return lambda i, pair: int(pair.uid.rpartition(":")[2]) in lines


def precise_if_items(path: str | Path, limit: int, sandbox: Any, seed: int = 0) -> list[BenchItem]:
    """Held-out constraint prompts: a response meeting every constraint vs `WRONG` each breaking one.

    Every candidate is scored by the seed `format_constraints` verifier in the sandbox first; a prompt is
    kept only when its correct response scores 1 and `WRONG` wrong ones score exactly (n - 1) / n.
    """
    from rlar_jax.datasets.constraints import load_constraints
    from rlar_jax.datasets.precise_if import candidates, pick_wrong
    from rlar_jax.rewards.constraints import constraints_to_meta
    from rlar_jax.sandbox import load_verifier

    source = load_verifier("format_constraints")
    rows = load_constraints(path, task="instruction")
    items: list[BenchItem] = []
    step = max(2 * limit, 8)  # rows per sandbox batch: most rows give an item
    for start in range(0, len(rows), step):
        built = []
        for ex in rows[start:start + step]:
            try:
                good, bad = candidates(ex.meta["constraints"], seed)
            except ValueError as e:
                log.info("skipping %s: %s", ex.uid, e)
                continue
            built.append((ex, good, bad))
        batch = [{"prompt": ex.query, "response": text, "reference": "",
                  "meta": constraints_to_meta(ex.meta["constraints"])}
                 for ex, good, bad in built for text in (good, *(b for _, b in bad))]
        results = iter(sandbox.score_batch(source, batch) if batch else [])
        for ex, good, bad in built:
            good_score = next(results)
            scored = [(kind, text, r.score if r.ok else float("nan")) for (kind, text), r in zip(bad, results)]
            wrong = pick_wrong(scored, len(ex.meta["constraints"]), WRONG)
            if not (good_score.ok and good_score.score == 1.0) or len(wrong) < WRONG:
                log.info("skipping %s: its responses do not meet / break the constraints as composed", ex.uid)
                continue
            if len(items) < limit:  # the prompt states the constraints; the ground truth stays hidden
                hidden = dataclasses.replace(ex, meta={}, task="ifeval")
                items.append(BenchItem("precise_if", hidden, (good, *wrong), ex.uid))
        if len(items) >= limit:
            break
    return items


def build_suite(data_dir: str | Path | None, limits: dict[str, int], sandbox: Any,
                seed: int = 0) -> dict[str, list[BenchItem]]:
    """Items per subset from a data directory (`gsm8k/`, `mbpp/`, `wmt22/`, `hh_rlhf_harmless/`, `llmbar/`, `ifgen/`;
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
            hh = need(HH_FILE)[0]
            out[subset] = pair_items(subset, "hh", [hh], n, keep=_hh_bench(hh))
        elif subset == "instruction":
            out[subset] = pair_items(subset, "llmbar", need("llmbar", "*.json"), n,
                                     keep=lambda i, pair: llmbar_split(i) == "bench")
        else:
            out[subset] = precise_if_items(need("ifgen/eval.jsonl")[0], n, sandbox, seed)
        if len(out[subset]) < n:
            log.warning("subset %s: %d of %d items could be built", subset, len(out[subset]), n)
    return out
