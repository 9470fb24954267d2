"""Disjoint splits of the bundled preference data: what trains a reward head, what measures it (the
validation split a catalog model's evidence comes from), and what the reward benchmark scores.

HH-RLHF harmless (`hh_rlhf_harmless/test.jsonl.gz`): its usable pairs (both dialogues share the context
and differ in the final reply), in file order, shuffled with seed 0; the first `HH_VALIDATION` are the
validation split, the next `HH_TRAIN` the training split, and the rest the benchmark's (`safety`).
LLMBar (`llmbar/*.json`): in each file every third pair (index 2, 5, 8, ...) is validation, the others
the benchmark's (`instruction`); there is no training split.

Validation splits per task family (`VALIDATION_FAMILIES`): dialogue and harmlessness read the HH one,
instruction the LLMBar one. Other families have none, so a model claiming them has no evidence there.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

HH_FILE = "hh_rlhf_harmless/test.jsonl.gz"
LLMBAR_GLOB = "llmbar/*.json"
HH_VALIDATION, HH_TRAIN, SPLIT_SEED = 400, 600, 0
LLMBAR_EVERY = 3
SPLITS: tuple[str, ...] = ("train", "validation", "bench")
VALIDATION_FAMILIES: dict[str, str] = {"dialogue": "hh", "harmlessness": "hh", "instruction": "llmbar"}

_TURN = re.compile(r"\n\n(Human|Assistant):")


def split_hh(dialogue: str, where: str) -> tuple[str, str]:
    """An HH dialogue "\n\nHuman: ...\n\nAssistant: ..." as (prompt, final assistant response)."""
    k = dialogue.rfind("\n\nAssistant:")
    if k < 0:
        raise ValueError(f"{where}: expected a dialogue with a final '\\n\\nAssistant:' turn")
    return dialogue[:k], dialogue[k + len("\n\nAssistant:"):].strip()


def hh_rows(path: str | Path) -> list[tuple[int, str, str, str]]:
    """(line number, prompt, chosen, rejected) of an HH jsonl (or jsonl.gz) file in file order; rows whose
    dialogues differ before the final reply, or whose final replies are equal, are left out."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"HH preference file not found: {p}")
    out: list[tuple[int, str, str, str]] = []
    opener = gzip.open if p.suffix == ".gz" else open
    with opener(p, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("chosen"), str) \
                    or not isinstance(row.get("rejected"), str):
                raise ValueError(f"{p}:{n}: expected an object with string fields 'chosen' and 'rejected'")
            pc, c = split_hh(row["chosen"], f"{p}:{n} chosen")
            pr, r = split_hh(row["rejected"], f"{p}:{n} rejected")
            if pc == pr and c != r:  # a pair only teaches something when the context is shared
                out.append((n, pc, c, r))
    return out


def hh_split(path: str | Path, split: str) -> list[tuple[int, str, str, str]]:
    """The HH rows of one split ("train", "validation" or "bench"), see the module doc."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {list(SPLITS)}, got {split!r}")
    rows = hh_rows(path)
    random.Random(SPLIT_SEED).shuffle(rows)
    cut = {"validation": (0, HH_VALIDATION), "train": (HH_VALIDATION, HH_VALIDATION + HH_TRAIN),
           "bench": (HH_VALIDATION + HH_TRAIN, len(rows))}[split]
    return sorted(rows[cut[0]:cut[1]]) if split == "bench" else rows[cut[0]:cut[1]]


def llmbar_split(index: int) -> str:
    """"validation" or "bench" for the `index`-th pair (from 0) of an LLMBar file."""
    return "validation" if index % LLMBAR_EVERY == LLMBAR_EVERY - 1 else "bench"


def validation_pairs(family: str, data_dir: str | Path) -> list[tuple[str, str, str]]:
    """(prompt, chosen, rejected) of the validation split for `family` under `data_dir`.

    Raises KeyError for a family without a validation split and FileNotFoundError naming the missing
    file; an existing but empty split returns [].
    """
    source = VALIDATION_FAMILIES.get(family)
    if source is None:
        raise KeyError(f"no validation split for family {family!r}; families with one: "
                       f"{sorted(VALIDATION_FAMILIES)}")
    root = Path(data_dir)
    if source == "hh":
        return [(p, c, r) for _, p, c, r in hh_split(root / HH_FILE, "validation")]
    from rlar_jax.datasets.text import load_pairs

    files = sorted(root.glob(LLMBAR_GLOB)) or sorted(root.glob(LLMBAR_GLOB + ".gz"))  # plain, else .gz
    if not files:
        raise FileNotFoundError(f"LLMBar files not found: {root / LLMBAR_GLOB}[.gz]")
    out = []
    for f in files:
        for i, pair in enumerate(load_pairs("llmbar", f)):
            if llmbar_split(i) == "validation":
                out.append((pair.messages[-1]["content"], pair.chosen, pair.rejected))
    return out
