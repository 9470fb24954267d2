"""Exact match of the response's answer with the reference (or an alias), after normalisation: 1.0 or 0.0.

The answer is the text after the last "the answer is" / "Answer:" in the response when there is one
(set `extract` false to compare the whole response), up to the end of that line.
Normalisations (meta `normalize`): "squad" (default: lower-case, drop punctuation, the articles
a/an/the and extra whitespace, as in the SQuAD evaluation script), "casefold" (case and surrounding
whitespace only) and "none" (byte-for-byte after stripping surrounding whitespace).

meta keys read:
  aliases    list of further acceptable answers, optional
  normalize  "squad" (default), "casefold" or "none"
  extract    bool (default True): compare only the stated answer, not the whole response
"""

import re
import string

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("other",)
DEFAULT_FOR = ("other",)

_ANSWER = re.compile(r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:)\s*:?\s*([^\n]*)", re.IGNORECASE)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_squad(text):
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


_NORMALIZERS = {
    "squad": normalize_squad,
    "casefold": lambda t: " ".join(t.split()).casefold(),
    "none": lambda t: t.strip(),
}


def stated_answer(response):
    """Text after the last 'answer is' / 'Answer:' (to the end of its line), else the whole response."""
    last = None
    for m in _ANSWER.finditer(response):
        last = m
    if last is None:
        return response
    answer = last.group(1).strip()
    return answer.replace("**", "").strip()


def score(prompt, response, reference, meta):
    mode = meta.get("normalize", "squad")
    if mode not in _NORMALIZERS:
        raise ValueError("meta['normalize'] must be one of %s, got %r" % (sorted(_NORMALIZERS), mode))
    aliases = meta.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError("meta['aliases'] must be a list of strings")
    norm = _NORMALIZERS[mode]
    golds = {norm(g) for g in [reference] + aliases}
    if golds == {""}:
        raise ValueError("the reference is empty after normalisation")
    answer = stated_answer(response) if meta.get("extract", True) else response
    return 1.0 if norm(answer) in golds else 0.0


CASES = [
    ("Capital of France?", "Paris", "Paris", {}, 1.0),
    ("Capital of France?", "  paris. ", "Paris", {}, 1.0),
    ("Capital of France?", "The answer is: **Paris**.", "Paris", {}, 1.0),
    ("Capital of France?", "Lyon is large, but the answer is Paris", "Paris", {}, 1.0),
    ("Capital of France?", "Paris, France", "Paris", {}, 0.0),
    ("Which band?", "the Beatles", "Beatles", {}, 1.0),
    ("Which band?", "The Rolling Stones", "Beatles", {}, 0.0),
    ("Who wrote it?", "Answer: Mark Twain", "Samuel Clemens", {"aliases": ["Mark Twain"]}, 1.0),
    ("Code?", "AbC-1", "abc-1", {"normalize": "casefold"}, 1.0),
    ("Code?", "AbC-1", "abc-1", {"normalize": "none"}, 0.0),
    ("Code?", "abc1", "abc-1", {"normalize": "casefold"}, 0.0),
    ("", "The answer is 42 but I am unsure", "42", {}, 0.0),
    ("", "My answer: 42\nBecause reasons.", "42", {}, 1.0),
    ("", "The answer is Paris", "the answer is paris", {"extract": False}, 1.0),
    ("", "", "Paris", {}, 0.0),
]
