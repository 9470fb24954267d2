"""Evidence for the reward-model catalog: each model's accuracy on labelled validation pairs per task family.

A reward model is measured on the validation split of every family it claims (`rlar_jax.datasets.splits`:
HH-harmless pairs for dialogue and harmlessness, LLMBar pairs for instruction). A pair counts 1 when the
chosen reply scores higher, 1/2 on a tie, 0 otherwise; a reply the model cannot score (NaN) ranks below
every scored one. The catalog then prefers the best measured model for a family and never plans a model
at or below chance (0.5) for it. A family whose validation split is missing or empty gets "no evidence"
(with the reason) instead of a number: the model stays usable there but is not preferred over a measured
one.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rlar_jax.rewards.catalog import Catalog, CatalogEntry

log = logging.getLogger(__name__)

# (prompts, responses, references, metas) -> scores in [0, 1], NaN where a row cannot be scored
ScoreFn = Callable[[list[str], list[str], list[str], list[dict]], Sequence[float]]
Pair = tuple[str, str, str]  # (prompt, chosen, rejected)


def pair_credit(chosen: float, rejected: float) -> float:
    """1 when `chosen` outscores `rejected`, 1/2 on a tie, else 0; NaN ranks lowest (NaN chosen: 0)."""
    if math.isnan(chosen):
        return 0.0
    if math.isnan(rejected):
        return 1.0
    return 1.0 if chosen > rejected else 0.5 if chosen == rejected else 0.0


def pairwise_accuracy(fn: ScoreFn, pairs: Sequence[Pair], batch: int = 64) -> float:
    """Mean `pair_credit` of `fn` over (prompt, chosen, rejected) pairs (references are not given)."""
    if not pairs:
        raise ValueError("pairs: expected at least one (prompt, chosen, rejected) pair")
    total = 0.0
    for s in range(0, len(pairs), batch):
        chunk = pairs[s:s + batch]
        prompts = [p for p, _, _ in chunk] * 2
        responses = [c for _, c, _ in chunk] + [r for _, _, r in chunk]
        scores = [float(x) for x in fn(prompts, responses, [""] * len(prompts), [{} for _ in prompts])]
        if len(scores) != len(prompts):
            raise ValueError(f"reward model returned {len(scores)} scores for {len(prompts)} rows")
        total += sum(pair_credit(a, b) for a, b in zip(scores[:len(chunk)], scores[len(chunk):]))
    return total / len(pairs)


def load_validation(family: str, data_dir: str | Path | None = None) -> tuple[list[Pair] | None, str]:
    """(validation pairs, where they come from) for `family`, or (None, "no evidence: <why>") when the
    family has no validation split or its file is missing; never raises for missing data."""
    from rlar_jax.datasets.registry import BUNDLED_DIR
    from rlar_jax.datasets.splits import VALIDATION_FAMILIES, validation_pairs

    root = Path(BUNDLED_DIR if data_dir is None else data_dir)
    try:
        pairs = validation_pairs(family, root)
    except KeyError:
        return None, f"no evidence: no validation split for {family!r}"
    except (FileNotFoundError, ValueError) as e:
        return None, f"no evidence: validation split unavailable ({e})"
    if not pairs:
        return None, f"no evidence: the {VALIDATION_FAMILIES[family]} validation split under {root} is empty"
    return pairs, f"{VALIDATION_FAMILIES[family]} validation split"


def measure_entry(entry: CatalogEntry, fn: ScoreFn, families: Iterable[str] | None = None,
                  data_dir: str | Path | None = None, limit: int | None = None,
                  splits: dict[str, list[Pair] | None] | None = None) -> CatalogEntry:
    """`entry` with evidence measured for `families` (default: the tasks it claims).

    limit: at most this many validation pairs per family. splits: family -> pairs (None = missing) to
    use instead of the data directory's. A family without usable pairs loses any earlier number and is
    noted as "no evidence"; families not measured keep their evidence.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit: expected >= 1 validation pairs, got {limit}")
    evidence, notes = dict(entry.evidence), dict(entry.evidence_notes)
    for family in (entry.tasks if families is None else tuple(families)):
        if splits is not None:
            pairs = splits.get(family)
            where = "given validation pairs" if pairs else "no evidence: validation split " + (
                "missing" if pairs is None else "empty")
        else:
            pairs, where = load_validation(family, data_dir)
        pairs = list(pairs)[:limit] if pairs else pairs
        if not pairs:
            evidence.pop(family, None)
            notes[family] = where
            log.info("reward model %s: %s for %s", entry.id, where, family)
            continue
        acc = pairwise_accuracy(fn, pairs)
        evidence[family] = round(acc, 4)
        notes[family] = f"{len(pairs)} pairs of the {where}"
        log.info("reward model %s: %.3f on %d %s pairs", entry.id, acc, len(pairs), family)
    return dataclasses.replace(entry, evidence=evidence, evidence_notes=notes)


def register_measured(catalog: Catalog, entry: CatalogEntry, fn: ScoreFn, *, persist: bool = False,
                      families: Iterable[str] | None = None, data_dir: str | Path | None = None,
                      limit: int | None = None, splits: dict[str, list[Pair] | None] | None = None) -> CatalogEntry:
    """Measure `entry` (see `measure_entry`) and register it in `catalog` with its evidence."""
    measured = measure_entry(entry, fn, families=families, data_dir=data_dir, limit=limit, splits=splits)
    return catalog.register(measured, persist=persist)


def evidence_table(catalog: Catalog, families: Iterable[str] | None = None) -> str:
    """One line per (model, claimed family): accuracy and where it was measured, or "no evidence"."""
    lines = []
    for e in catalog.entries():
        for family in e.tasks:
            if families is None or family in families:
                lines.append(f"{e.id:<28} {family:<14} {e.evidence_text(family)}")
    return "\n".join(lines)
