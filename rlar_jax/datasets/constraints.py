"""Instruction following with verifiable constraints (IFEval-style), generated per query.

Each prompt is an ordinary request ("Write a short story about a lighthouse keeper.") followed by one to
three constraints stated in plain words, the way a user writes them ("Your entire response should be in
lowercase letters."). A row holds the prompt and its ground-truth constraints:

    {"prompt": "...", "constraints": {"lowercase": true, "max_words": 60}}

The constraints use the dictionary form of `rlar_jax.rewards.constraints.extract_constraints`, so the
held-out metric can check them directly while the training reward must recover them from the prompt
text alone. Train and held-out rows are disjoint in their requests (held-out topics never appear in
training) and in their constraint combinations (a held-out combination of kinds never appears in
training; single constraints are training-only).
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rlar_jax.datasets.examples import DataError, Example, RowErrors, chat, collect, require
from rlar_jax.datasets.readers import iter_rows

# kind -> value spec: "flag" (true), ("int", lo, hi), "phrase" (non-empty str), "words" (non-empty list of
# str), "letter" ({"letter": one letter, "min": int >= 1}).
KINDS: dict[str, Any] = {
    "lowercase": "flag", "uppercase": "flag", "no_commas": "flag", "quotes": "flag", "json": "flag",
    "postscript": "flag", "title": "flag", "think_tags": "flag",
    "max_words": ("int", 1, 10_000), "min_words": ("int", 1, 10_000), "max_sentences": ("int", 1, 100),
    "paragraphs": ("int", 1, 20), "bullets": ("int", 1, 20), "highlights": ("int", 1, 20),
    "placeholders": ("int", 1, 20),
    "keywords": "words", "forbidden_words": "words", "start_with": "phrase", "end_with": "phrase",
    "letter_frequency": "letter",
}
# Pairs of kinds that contradict each other (or make each other unverifiable) in one prompt.
CONFLICTS = {frozenset(p) for p in [
    ("lowercase", "uppercase"), ("max_words", "min_words"), ("bullets", "paragraphs"),
    ("bullets", "max_sentences"), ("paragraphs", "max_sentences"), ("quotes", "title"),
    ("quotes", "bullets"), ("quotes", "paragraphs"), ("start_with", "title"), ("end_with", "postscript"),
    ("keywords", "forbidden_words"), ("paragraphs", "title"), ("paragraphs", "postscript"),
    ("max_sentences", "postscript"),
]} | {frozenset(("json", k)) for k in KINDS if k not in (
    "json", "lowercase", "uppercase", "keywords", "forbidden_words", "letter_frequency", "max_words")}
GENERATED_KINDS = tuple(k for k in KINDS if k != "think_tags")


def validate_constraints(value: Any, where: str) -> dict[str, Any]:
    """`value` checked as a constraint dict (known kinds, well-typed values); DataError names `where`."""
    if not isinstance(value, Mapping) or not value:
        raise DataError(f"{where}: field 'constraints' must be a non-empty object of constraint kinds")
    for kind, v in value.items():
        spec = KINDS.get(kind)
        bad = None
        if spec is None:
            bad = f"unknown constraint kind {kind!r}; known: {sorted(KINDS)}"
        elif spec == "flag" and v is not True:
            bad = f"constraint {kind!r} must be true, got {v!r}"
        elif isinstance(spec, tuple) and (isinstance(v, bool) or not isinstance(v, int) or not spec[1] <= v <= spec[2]):
            bad = f"constraint {kind!r} must be an integer in [{spec[1]}, {spec[2]}], got {v!r}"
        elif spec == "phrase" and not (isinstance(v, str) and v.strip()):
            bad = f"constraint {kind!r} must be a non-empty string, got {v!r}"
        elif spec == "words" and not (isinstance(v, list) and v and all(isinstance(w, str) and w.strip() for w in v)):
            bad = f"constraint {kind!r} must be a non-empty list of non-empty strings, got {v!r}"
        elif spec == "letter" and not (isinstance(v, Mapping) and isinstance(v.get("letter"), str)
                                       and len(v["letter"]) == 1 and v["letter"].isalpha()
                                       and isinstance(v.get("min"), int) and not isinstance(v.get("min"), bool)
                                       and v["min"] >= 1 and set(v) == {"letter", "min"}):
            bad = f"constraint {kind!r} must be {{'letter': one letter, 'min': int >= 1}}, got {v!r}"
        if bad:
            raise DataError(f"{where}: {bad}")
    bad_pairs = [sorted(p) for p in CONFLICTS if p <= set(value)]
    if bad_pairs:
        raise DataError(f"{where}: contradictory constraints {bad_pairs[0]}")
    return dict(value)


def load_constraints(path: str | Path, *, system_prompt: str | None = None, limit: int | None = None,
                     task: str = "instruction", errors: RowErrors | None = None) -> list[Example]:
    """Rows `{"prompt", "constraints"}` as examples; meta["constraints"] holds the checked ground truth."""
    def convert(where: str, row: dict[str, Any]) -> Example:
        prompt = require(row, "prompt", where)
        constraints = validate_constraints(require(row, "constraints", where, dict), where)
        return Example(chat(prompt, system_prompt), "", task, {"constraints": constraints}, f"constraints:{where}")

    return collect(iter_rows(path, errors=errors), convert, limit=limit, errors=errors)


# ---------------------------------------------------------------------------------------- generation

REQUESTS = (
    "Write a short story about {t}.", "Write a poem about {t}.", "Write a short blog post about {t}.",
    "Describe {t} to someone who has never seen it.", "Write a letter to a friend about {t}.",
    "Give some advice to a beginner who is interested in {t}.", "Write a product description inspired by {t}.",
    "Explain why people enjoy {t}.", "Write a short speech about {t}.", "Write a diary entry about {t}.",
    "Write a review of a day spent with {t}.", "Write an advertisement for a tour about {t}.",
)
TOPICS = (
    "a lighthouse keeper", "autumn leaves", "a busy train station", "learning to swim", "a rainy afternoon",
    "an old bookshop", "the first snow of winter", "a mountain village", "a street market", "a lost umbrella",
    "a night at the museum", "a garden in spring", "a long bus journey", "baking bread", "a quiet library",
    "a summer festival", "a stray cat", "the ocean at dawn", "a broken clock", "a family dinner",
    "a desert road", "a small bakery", "moving to a new city", "a thunderstorm", "a school play",
    "a fishing trip", "a hot air balloon", "an abandoned house", "a river crossing", "a football match",
    "a lost letter", "a coffee shop", "a forest trail", "a birthday surprise", "a city at night",
    "a vegetable garden", "an island holiday", "a music lesson", "a winter market", "an old photograph",
    "a camping weekend", "a rooftop garden", "a kite festival", "a bicycle repair shop", "a lazy Sunday",
    "a farmer's morning", "a jazz concert", "a snowy cabin", "a bridge in the fog", "a science fair",
)
KEYWORDS = ("river", "lantern", "harvest", "velvet", "compass", "whisper", "meadow", "anchor", "candle",
            "journey", "silver", "horizon", "pebble", "orchard", "thunder", "window", "blanket", "echo")
FORBIDDEN = ("very", "really", "beautiful", "amazing", "thing", "nice", "good", "just", "great", "lovely")
STARTS = ("My answer is", "Once upon a time", "Dear reader", "Here is my response", "Absolutely")
ENDS = ("Is there anything else I can help with?", "Let me know if you have additional questions.",
        "That is all.", "Thank you for reading.", "Have a wonderful day.")
LETTERS = ("z", "q", "j", "k", "x", "w", "b", "v")

PHRASES: dict[str, tuple[str, ...]] = {
    "lowercase": ("Your entire response should be in English, and in all lowercase letters. No capital "
                  "letters are allowed.", "Write everything in lowercase letters only."),
    "uppercase": ("Your entire response should be in English and in all capital letters.",
                  "Answer in all caps."),
    "no_commas": ("In your entire response, refrain from the use of any commas.", "Do not use any commas."),
    "quotes": ("Wrap your entire response with double quotation marks.",
               "Put your whole answer inside double quotation marks."),
    "json": ("Entire output should be wrapped in JSON format.", "Format your whole answer as valid JSON."),
    "postscript": ("At the end of your response, please explicitly add a postscript starting with P.S.",
                   "Add a postscript at the end that starts with P.S."),
    "title": ("Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
              "Give your answer a title wrapped in double angular brackets, like <<my title>>."),
    "max_words": ("Answer with at most {n} words.", "Your response should contain no more than {n} words."),
    "min_words": ("Your response should contain at least {n} words.", "Write at least {n} words."),
    "max_sentences": ("Use at most {n} sentences.", "Your answer should have no more than {n} sentences."),
    "paragraphs": ("There should be exactly {n} paragraphs. Paragraphs are separated by a blank line.",
                   "Write exactly {n} paragraphs, separated from each other by blank lines."),
    "bullets": ("Your answer must contain exactly {n} bullet points. Use markdown bullet points such as:\n"
                "* This is point 1.", "Use exactly {n} bullet points in markdown, like:\n* first point"),
    "highlights": ("Highlight at least {n} sections in your answer with markdown, i.e. *highlighted section*.",
                   "Highlight at least {n} parts of your answer with asterisks, like *this part*."),
    "placeholders": ("The response must contain at least {n} placeholders represented by square brackets, "
                     "such as [address].", "Include at least {n} placeholders in square brackets, like [name]."),
    "keywords": ("Include the keywords {w} in the response.", "Make sure to mention the words {w}."),
    "forbidden_words": ("Do not include the words {w} in the response.", "Avoid the words {w}."),
    "start_with": ("Start your response with the phrase \"{p}\".", "Begin your answer with \"{p}\"."),
    "end_with": ("Finish your response with this exact phrase \"{p}\". No other words should follow it.",
                 "End your response with the phrase \"{p}\"."),
    "letter_frequency": ("In your response, the letter '{l}' should appear at least {n} times.",
                         "Make sure the letter '{l}' appears at least {n} times in your answer."),
}


def _words_text(words: list[str]) -> str:
    quoted = [f"\"{w}\"" for w in words]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def sample_value(kind: str, rng: random.Random) -> Any:
    """A random value for one constraint kind (sized for short answers of a small model)."""
    if KINDS[kind] == "flag":
        return True
    return {
        "max_words": lambda: rng.choice((40, 50, 60, 80, 100)),
        "min_words": lambda: rng.choice((30, 40, 60, 80)),
        "max_sentences": lambda: rng.choice((2, 3, 4, 5)),
        "paragraphs": lambda: rng.choice((2, 3, 4)),
        "bullets": lambda: rng.choice((2, 3, 4, 5)),
        "highlights": lambda: rng.choice((1, 2, 3)),
        "placeholders": lambda: rng.choice((1, 2, 3)),
        "keywords": lambda: rng.sample(KEYWORDS, rng.choice((1, 2))),
        "forbidden_words": lambda: rng.sample(FORBIDDEN, rng.choice((1, 2))),
        "start_with": lambda: rng.choice(STARTS),
        "end_with": lambda: rng.choice(ENDS),
        "letter_frequency": lambda: {"letter": rng.choice(LETTERS), "min": rng.choice((2, 3, 4, 5))},
    }[kind]()


def phrase(kind: str, value: Any, rng: random.Random) -> str:
    """The constraint written in plain words (one of the kind's phrasings)."""
    template = rng.choice(PHRASES[kind])
    if kind == "letter_frequency":
        return template.format(l=value["letter"], n=value["min"])
    if KINDS[kind] == "words":
        return template.format(w=_words_text(value))
    if KINDS[kind] == "phrase":
        return template.format(p=value)
    return template.format(n=value) if "{n}" in template else template


def combination_split(kinds: tuple[str, ...]) -> str:
    """"train" or "eval" for a sorted combination of kinds: single kinds train; ~25% of pairs and triples
    (by a stable hash) are held out."""
    if len(kinds) == 1:
        return "train"
    h = int(hashlib.sha256("+".join(sorted(kinds)).encode()).hexdigest()[:8], 16)
    return "eval" if h % 4 == 0 else "train"


def topic_split(topic: str) -> str:
    """"train" or "eval" for a request topic: every fifth topic is held out."""
    return "eval" if TOPICS.index(topic) % 5 == 4 else "train"


def _combinations(split: str) -> list[tuple[str, ...]]:
    out = []
    for r in (1, 2, 3):
        for combo in itertools.combinations(sorted(GENERATED_KINDS), r):
            if any(frozenset(p) in CONFLICTS for p in itertools.combinations(combo, 2)):
                continue
            if combination_split(combo) == split:
                out.append(combo)
    return out


def generate(split: str, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` rows of the `split` ("train" or "eval"); deterministic in (split, n, seed).

    Training rows carry one constraint half the time, else two or three; held-out rows carry two or three.
    """
    if split not in ("train", "eval"):
        raise ValueError(f"split: expected 'train' or 'eval', got {split!r}")
    rng = random.Random(f"constraints:{split}:{seed}")
    combos = _combinations(split)
    by_size = {r: [c for c in combos if len(c) == r] for r in (1, 2, 3)}
    topics = [t for t in TOPICS if topic_split(t) == split]
    rows = []
    for _ in range(n):
        size = (1 if rng.random() < 0.5 else rng.choice((2, 3))) if split == "train" else rng.choice((2, 3))
        combo = list(rng.choice(by_size[size]))
        rng.shuffle(combo)
        request = rng.choice(REQUESTS).format(t=rng.choice(topics))
        constraints = {k: sample_value(k, rng) for k in combo}
        text = " ".join([request] + [phrase(k, constraints[k], rng) for k in combo])
        rows.append({"prompt": text, "constraints": {k: constraints[k] for k in sorted(constraints)}})
    return rows
