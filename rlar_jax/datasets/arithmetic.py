"""Generated one- and two-step arithmetic word problems in GSM8K's row format (`question`, `answer` ending in
`#### N`), an easier math set than GSM8K for small policies.

Problems come from templates over names, objects and small numbers; every answer is a non-negative
integer. Train and held-out rows share the templates but not the people in them: each split has its own
names, so no held-out question appears in training.
"""

from __future__ import annotations

import random
from typing import Any, Callable

NAMES = ("Tom", "Anna", "Ravi", "Lena", "Omar", "Mia", "Jack", "Sofia", "Ken", "Emma", "Leo", "Nora", "Sam",
         "Ivy", "Paul", "Zara", "Ben", "Lucy", "Hugo", "Maya")
HELD_OUT_NAMES = ("Ada", "Felix", "Greta", "Hiro", "Ines", "Jonas", "Kira", "Luis")
THINGS = ("apples", "marbles", "stickers", "books", "pencils", "cookies", "coins", "stamps", "shells", "cards")


def _one_step(rng: random.Random, name: str, thing: str) -> tuple[str, str, int]:
    a, b = rng.randint(3, 60), rng.randint(2, 40)
    kind = rng.randrange(4)
    if kind == 0:
        return (f"{name} has {a} {thing}. {name} gets {b} more {thing}. How many {thing} does {name} have now?",
                f"{name} has {a} + {b} = {a + b} {thing}.", a + b)
    if kind == 1:
        a = a + b
        return (f"{name} had {a} {thing} and gave away {b} of them. How many {thing} does {name} have left?",
                f"{name} has {a} - {b} = {a - b} {thing} left.", a - b)
    if kind == 2:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        return (f"{name} buys {a} boxes with {b} {thing} in each box. How many {thing} does {name} buy?",
                f"{name} buys {a} * {b} = {a * b} {thing}.", a * b)
    b = rng.randint(2, 9)
    a = b * rng.randint(2, 12)
    return (f"{name} shares {a} {thing} equally among {b} friends. How many {thing} does each friend get?",
            f"Each friend gets {a} / {b} = {a // b} {thing}.", a // b)


def _two_step(rng: random.Random, name: str, thing: str) -> tuple[str, str, int]:
    kind = rng.randrange(3)
    if kind == 0:
        a, b, c = rng.randint(10, 50), rng.randint(2, 30), rng.randint(2, 20)
        c = min(c, a + b)
        return (f"{name} has {a} {thing}, buys {b} more and then loses {c}. How many {thing} does {name} have?",
                f"{a} + {b} = {a + b}. {a + b} - {c} = {a + b - c}.", a + b - c)
    if kind == 1:
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 20)
        return (f"{name} has {a} bags with {b} {thing} in each bag, and {c} loose {thing}. How many {thing} "
                f"does {name} have in total?", f"{a} * {b} = {a * b}. {a * b} + {c} = {a * b + c}.", a * b + c)
    a, b = rng.randint(3, 15), rng.randint(2, 6)
    price = rng.randint(2, 9)
    return (f"{name} buys {a} {thing} for {price} dollars each and {b} more for {price} dollars each. How many "
            f"dollars does {name} spend?", f"{a} + {b} = {a + b}. {a + b} * {price} = {(a + b) * price}.",
            (a + b) * price)


def generate(split: str, n: int, seed: int = 0, two_step_share: float = 0.4) -> list[dict[str, Any]]:
    """`n` rows `{"question", "answer"}` of `split` ("train" or "eval"); deterministic in its arguments."""
    if split not in ("train", "eval"):
        raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
    rng = random.Random(f"arith:{split}:{seed}")
    names = NAMES if split == "train" else HELD_OUT_NAMES
    rows = []
    for _ in range(n):
        make: Callable = _two_step if rng.random() < two_step_share else _one_step
        question, steps, answer = make(rng, rng.choice(names), rng.choice(THINGS))
        rows.append({"question": question, "answer": f"{steps}\n#### {answer}"})
    return rows
