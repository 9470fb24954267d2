"""Helpers shared by the routing training-query builders: bundled-file readers, template filling, casual rewriting."""

from __future__ import annotations

import gzip
import json
import random
from functools import cache
from pathlib import Path
from typing import Iterator

MULTILINGUAL = Path(__file__).with_name("multilingual.json")  # hand-written templates in 14 languages


def read_jsonl(path: Path) -> Iterator[dict]:
    """The rows of a gzipped JSON-lines file."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def fill(rng: random.Random, frames: tuple[str, ...], n: int, **pools: tuple[str, ...]) -> list[str]:
    """`n` frames filled with random picks of the named pools (each frame uses the names it mentions)."""
    return [rng.choice(frames).format(**{k: rng.choice(v) for k, v in pools.items()}) for _ in range(n)]


def casual(rng: random.Random, q: str) -> str:
    """`q` written casually some of the time: lower case, no final punctuation, a dropped apostrophe."""
    r = rng.random()
    if r < 0.2:
        q = q[0].lower() + q[1:]
        q = q.rstrip(".?!") if rng.random() < 0.6 else q
        return q.replace("What's", "whats").replace("what's", "whats").replace("I'm", "im")
    if r < 0.25:
        return q.lower()
    return q


@cache
def _multilingual_data() -> dict:
    return json.loads(MULTILINGUAL.read_text(encoding="utf-8"))


def multilingual(rng: random.Random, family: str) -> list[str]:
    """Every hand-written template of `family` in `multilingual.json`, filled once: {n1}..{n3} with
    integers 2..999, named slots (such as {prog}) with a random pick of their pool. Teaches the router
    that a query's language is not its family."""
    data = _multilingual_data()
    slots = data["slots"]
    out = []
    for templates in data["families"].get(family, {}).values():
        for t in templates:
            out.append(t.format(**{f"n{i}": rng.randint(2, 999) for i in (1, 2, 3)},
                                **{k: rng.choice(v) for k, v in slots.items()}))
    return out
