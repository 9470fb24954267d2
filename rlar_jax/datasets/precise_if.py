"""Responses that meet, or break exactly one of, a prompt's format constraints (the `precise_if` subset).

Prompts come from the constraint task's held-out rows (`ifgen/eval.jsonl`: held-out topics and held-out
combinations of two or three constraint kinds). For each prompt `compose` writes, from plain filler
sentences, one response that meets every constraint and, per constraint kind, responses that break that
kind only. The filler avoids the constraint task's keywords, forbidden words, commas and the letters a
letter-frequency constraint asks for, so that breaking one constraint leaves the others met.

`check_candidates` scores the candidates with the seed `format_constraints` verifier in the sandbox (the
constraints as `rlar_jax.rewards.constraints.constraints_to_meta` writes them): an item is kept only when
its correct candidate scores 1 and each wrong one scores exactly (n - 1) / n for n constraints.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

FILLER: tuple[str, ...] = (
    "the sun rose on the hills and the air felt calm",
    "people came out to sit in the green field",
    "a small shop sold tea and hot rolls",
    "children ran along the path and laughed",
    "the hours passed in the soft afternoon light",
    "later the air turned cool and the streets fell silent",
    "nothing felt rushed and nothing felt lost",
    "it is a scene that stays in the mind",
    "friends shared stories and plans for the season",
    "the light faded and the first stars appeared",
    "a dog slept in the shade near the door",
    "the hall lamp shone once more",
)
# Words rich in each letter a letter-frequency constraint may ask for (three occurrences per word or more
# per sentence); the filler above contains none of these letters.
LETTER_WORDS: dict[str, str] = {
    "z": "zebra zone zinc zest zoo", "q": "quiet queen quilt quote quest", "j": "jam jar jolly jet jog",
    "k": "kite kiln kettle kin kit", "x": "fox box six mix tax", "w": "wind warm wool wren west",
    "b": "bread boat bell barn bird", "v": "vase van vine vest veil",
}


def _sentence(clause: str) -> str:
    return clause[0].upper() + clause[1:] + "."


def _filler(n: int, offset: int) -> list[str]:
    return [FILLER[(offset + i) % len(FILLER)] for i in range(n)]


def _case(text: str, c: Mapping[str, Any], broken: str | None) -> str:
    """Apply lowercase / uppercase (or break it by changing one letter's case)."""
    if "lowercase" in c:
        text = text.lower()
        if broken == "lowercase":
            i = next(k for k, ch in enumerate(text) if ch.isalpha())
            text = text[:i] + text[i].upper() + text[i + 1:]
    if "uppercase" in c:
        text = text.upper()
        if broken == "uppercase":
            i = next(k for k, ch in enumerate(text) if ch.isalpha())
            text = text[:i] + text[i].lower() + text[i + 1:]
    return text


def _render(c: Mapping[str, Any], broken: str | None, n_clauses: int, offset: int) -> str:
    """The response for constraints `c` with `n_clauses` filler clauses, breaking the kind `broken`."""
    clauses = _filler(n_clauses, offset)
    extra: list[str] = []
    if "keywords" in c:
        words = list(c["keywords"])
        if broken == "keywords":
            words = words[:-1]
        extra += [f"one line is for the {w}" for w in words]
    if "forbidden_words" in c and broken == "forbidden_words":
        extra.append(f"it felt {c['forbidden_words'][0]} to be there")
    if "letter_frequency" in c:
        lf = c["letter_frequency"]
        words = LETTER_WORDS[lf["letter"]].split()
        need = lf["min"] - 1 if broken == "letter_frequency" else lf["min"]
        chosen = []
        for w in words * 4:  # whole words until the letter count is reached (or just below it)
            if sum(x.count(lf["letter"]) for x in chosen) + w.count(lf["letter"]) > need:
                break
            chosen.append(w)
        count = sum(x.count(lf["letter"]) for x in chosen)
        if count < need:  # top up with the bare letter as a word of its own
            chosen += [lf["letter"]] * (need - count)
        if chosen:
            extra.append("the list reads " + " ".join(chosen))
    for key, fmt in (("placeholders", "[detail {i}]"), ("highlights", "*part {i}*")):
        if key in c:
            n = c[key] - 1 if broken == key else c[key]
            extra += [f"see {fmt.format(i=i + 1)} here" for i in range(n)]
    units = clauses + extra
    if "no_commas" in c and broken == "no_commas":
        units[0] = units[0] + ", all the same"
    start, end = c.get("start_with"), c.get("end_with")

    if "bullets" in c:
        n = c["bullets"] + 1 if broken == "bullets" else c["bullets"]
        while len(units) < n:
            units.append(FILLER[len(units) % len(FILLER)])
        per = [units[i::n] for i in range(n)]
        body = "\n".join("* " + _sentence(" and ".join(group)) for group in per)
    elif "paragraphs" in c:
        n = c["paragraphs"] + 1 if broken == "paragraphs" else c["paragraphs"]
        while len(units) < n:
            units.append(FILLER[len(units) % len(FILLER)])
        per = [units[i::n] for i in range(n)]
        body = "\n\n".join(" ".join(_sentence(u) for u in group) for group in per)
    elif "max_sentences" in c:
        n = c["max_sentences"] + 2 if broken == "max_sentences" else c["max_sentences"] - (1 if end else 0)
        n = max(1, min(n, len(units))) if broken != "max_sentences" else n
        while len(units) < n:
            units.append(FILLER[len(units) % len(FILLER)])
        per = [units[i::n] for i in range(n)]
        body = " ".join(_sentence(" and ".join(group)) for group in per)
    else:
        body = " ".join(_sentence(u) for u in units)
    if start and broken != "start_with":
        body = f"{start} {body[0].lower()}{body[1:]}" if not body.startswith("* ") else f"{start}\n{body}"
    if end and broken != "end_with":
        body = f"{body} {end}"
    if "title" in c and broken != "title":
        body = f"<<a note on the day>>\n\n{body}"
    if "postscript" in c and broken != "postscript":
        body = f"{body}\n\nP.S. the day ended in calm."
    if "json" in c:
        body = json.dumps({"response": body.replace("\n", " ")}, ensure_ascii=True)
        if broken == "json":
            body = body[:-1]  # the closing brace dropped: no longer valid JSON
    if "quotes" in c and broken != "quotes":
        body = f"\"{body}\""
    return _case(body, c, broken)


def _words(text: str) -> int:
    return len(text.split())


def compose(constraints: Mapping[str, Any], broken: str | None = None, offset: int = 0) -> str:
    """A response meeting every constraint, or every one but the kind `broken` (which it breaks).

    The number of filler clauses grows until the word bounds hold (or, for a broken bound, fail).
    Raises ValueError when `broken` is not one of the constraints or no length satisfies the bounds.
    """
    c = dict(constraints)
    if broken is not None and broken not in c:
        raise ValueError(f"broken: {broken!r} is not one of the constraints {sorted(c)}")
    lo, hi = c.get("min_words", 0), c.get("max_words", 10 ** 9)
    for n in range(1, 60):
        text = _render(c, broken, n, offset)
        w = _words(text)
        if broken == "max_words":
            ok = w > hi
        elif broken == "min_words":
            ok = w < lo
            if not ok:
                break  # more clauses only add words
        else:
            ok = lo <= w <= hi
        if ok:
            return text
        if w > hi and broken != "max_words":
            break
    raise ValueError(f"constraints {c}: no response length meets the word bounds"
                     + (f" while breaking {broken!r}" if broken else ""))


def candidates(constraints: Mapping[str, Any], seed: int = 0) -> tuple[str, list[tuple[str, str]]]:
    """(response meeting every constraint, [(broken kind, response breaking only that kind), ...]): per
    kind two variants (different filler) where they can be written."""
    good = compose(constraints, None, offset=seed)
    bad = []
    for variant in range(2):
        for kind in sorted(constraints):
            try:
                text = compose(constraints, kind, offset=seed + 3 + 5 * variant)
            except ValueError:
                continue
            if text != good and text not in {b for _, b in bad}:
                bad.append((kind, text))
    return good, bad


def pick_wrong(scored: Sequence[tuple[str, str, float]], n_constraints: int, k: int) -> list[str]:
    """`k` wrong responses scoring exactly (n - 1) / n, each breaking a different kind first, then any."""
    target = (n_constraints - 1) / n_constraints
    ok = [(kind, text) for kind, text, s in scored if abs(s - target) < 1e-9]
    out, kinds = [], set()
    for kind, text in ok:
        if kind not in kinds and len(out) < k:
            out.append(text)
            kinds.add(kind)
    for _, text in ok:
        if text not in out and len(out) < k:
            out.append(text)
    return out
