"""Multiple-choice correctness: 1.0 if the option letter the response commits to is the reference's.

The response's letter is taken from, in order: the last explicit statement ("the answer is (B)",
"Answer: B", "correct option is B", "I choose B"); the last \\boxed{B}; a response that is just the
letter ("B", "(B)", "**B.**"); a response starting with "B)" / "(B)" / "B." / "B:"; the last
parenthesised letter "(B)"; otherwise, when meta `choices` gives the option texts, the single option
whose text the response contains. A lone capital "A" inside a sentence is never read as an option
(it is usually the article). No letter found scores 0.0.

meta keys read:
  choices  option texts in letter order (optional); also lets `reference` be the option text
  letters  the valid letters (default "ABCD", or as many letters as `choices`)
"""

import re

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("other",)

_EXPLICIT = re.compile(
    r"(?:answer|option|choice)\s*(?:is|:|=)?\s*(?:option|choice)?\s*[:\-]?\s*[\(\[\*]*\s*([A-Za-z])\s*[\)\]\*]*(?![\w'])"
    r"|\bI(?:\s+would|'d)?\s+(?:choose|pick|select|go\s+with)\s+(?:option\s+)?[\(\[\*]*([A-Za-z])[\)\]\*]*(?![\w'])",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\s*\{\s*(?:\\text\s*\{)?\s*\(?([A-Za-z])\)?\s*\}?\s*\}")
_ONLY = re.compile(r"^[\s\*\(\[]*([A-Za-z])[\s\*\)\]\.:]*$")
_LEADING = re.compile(r"^[\s\*]*(?:\(([A-Za-z])\)|([A-Za-z])[\)\.:](?!\w))")
_PAREN = re.compile(r"\(([A-Za-z])\)")


def _letters(meta):
    choices = meta.get("choices")
    if choices is not None:
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices) or not 2 <= len(choices) <= 26:
            raise ValueError("meta['choices'] must be a list of 2..26 option strings")
    letters = meta.get("letters")
    if letters is None:
        letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:len(choices)] if choices else "ABCD"
    if not isinstance(letters, str) or not letters.isalpha():
        raise ValueError("meta['letters'] must be a string of option letters such as 'ABCD'")
    return letters.upper(), choices


def extract_letter(response, letters, choices=None):
    """The option letter a response commits to, or None."""
    def valid(ch, lower_ok=True):
        if ch is None:
            return None
        if not lower_ok and not ch.isupper():
            return None
        return ch.upper() if ch.upper() in letters else None

    last = None
    for m in _EXPLICIT.finditer(response):
        ch = m.group(1) or m.group(2)
        after = response[m.end():m.end() + 1]
        # "the answer is a city": a lower-case letter counts only when nothing word-like follows it
        if ch.islower() and after not in ("", ".", ",", ";", "!", ")", "]", "*", "\n"):
            continue
        found = valid(ch)
        if found:
            last = found
    if last:
        return last
    boxed = [valid(m.group(1)) for m in _BOXED.finditer(response)]
    boxed = [b for b in boxed if b]
    if boxed:
        return boxed[-1]
    m = _ONLY.match(response)
    if m and valid(m.group(1)):
        return valid(m.group(1))
    m = _LEADING.match(response)
    if m:
        found = valid(m.group(1) or m.group(2), lower_ok=False)
        if found:
            return found
    parens = [valid(m.group(1), lower_ok=False) for m in _PAREN.finditer(response)]
    parens = [p for p in parens if p]
    if parens:
        return parens[-1]
    if choices:
        lowered = response.lower()
        hits = [letters[i] for i, text in enumerate(choices) if text.strip() and text.strip().lower() in lowered]
        if len(hits) == 1:
            return hits[0]
    return None


def _gold_letter(reference, letters, choices):
    ref = reference.strip()
    m = _ONLY.match(ref)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    if choices:
        for i, text in enumerate(choices):
            if text.strip().lower() == ref.lower():
                return letters[i]
    raise ValueError("reference %r is neither an option letter in %s nor one of meta['choices']" % (reference[:80], letters))


def score(prompt, response, reference, meta):
    letters, choices = _letters(meta)
    gold = _gold_letter(reference, letters, choices)
    return 1.0 if extract_letter(response, letters, choices) == gold else 0.0


_PARIS = {"choices": ["London", "Paris", "Rome", "Berlin"]}

CASES = [
    ("Q? A) London B) Paris C) Rome D) Berlin", "B", "B", {}, 1.0),
    ("", "(b)", "B", {}, 1.0),
    ("", "**C.**", "B", {}, 0.0),
    ("", "The answer is (B).", "B", {}, 1.0),
    ("", "Answer: B", "(B)", {}, 1.0),
    ("", "A is wrong because London is in England; C and D are wrong too. The correct answer is B.", "B", {}, 1.0),
    ("", "A good choice would be... I choose D", "B", {}, 0.0),
    ("", "B) Paris, because it is the capital.", "B", {}, 1.0),
    ("", "It is clearly (D) Berlin.", "D", {}, 1.0),
    ("", "\\boxed{B}", "B", {}, 1.0),
    ("", "The final answer is $\\boxed{\\text{(C)}}$", "C", {}, 1.0),
    # a lone article "A" is not an answer; option text is used when no letter is given
    ("", "A city on the Seine: Paris.", "B", _PARIS, 1.0),
    ("", "A city on the Seine.", "A", {}, 0.0),
    ("", "It must be Paris or Rome.", "B", _PARIS, 0.0),
    # the reference may be the option text; letters beyond D with more choices
    ("", "Answer: B", "Paris", _PARIS, 1.0),
    ("", "answer: e", "E", {"choices": ["1", "2", "3", "4", "5"]}, 1.0),
    ("", "The answer is F", "B", {}, 0.0),
    ("", "The answer is a city in France, namely (B).", "B", {}, 1.0),
    ("", "I don't know.", "B", {}, 0.0),
]
