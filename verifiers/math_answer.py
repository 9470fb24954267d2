"""Final-answer correctness of a math response: 1.0 if its answer equals the reference's, else 0.0.

The response's answer is, in order of preference: the last \\boxed{...} (or \\fbox{...}); the text
after the last GSM8K-style `####`; the statement after the last "the (final) answer is" / "Answer:";
otherwise the last number in the text. GSM8K calculator annotations (<<48/2=24>>) are ignored.
The reference may be a full GSM8K rationale ending in `#### N`, a solution with \\boxed{...}, or a
bare answer. Numbers are compared numerically (integers, decimals, fractions a/b, \\frac{a}{b},
\\dfrac, thousands separators, $, %, \\text{} units and trailing unit words are understood; a
percentage also matches its value / 100; two integers must be equal, other numbers within the
tolerances). Non-numeric answers (expressions, tuples, names) are
compared as normalised LaTeX strings.

meta keys read:
  answer   the gold answer, overriding the one found in `reference` (optional)
  rel_tol  relative tolerance of the numeric comparison (default 1e-6)
  abs_tol  absolute tolerance of the numeric comparison (default 1e-9)
"""

import re
from fractions import Fraction

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("math",)
DEFAULT_FOR = ("math",)
EVAL_FOR = ("math",)

_CALC = re.compile(r"<<[^<>\n]*>>")
_PLAIN_INT = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWER_IS = re.compile(r"(?:final\s+answer|the\s+answer|answer)\s*(?:is|:|=)\s*:?\s*([^\n]*)", re.IGNORECASE)
_NUM = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-+]?\.\d+"
_NUMBER = re.compile(r"(?<![\w.])(?:%s)(?:\s*/\s*\d+)?" % _NUM)
_FULL_NUMBER = re.compile(r"(%s)(?:/(\d+(?:\.\d+)?))?" % _NUM)
_FRAC = re.compile(r"^([-+]?)\\[dt]?frac\s*\{\s*([^{}]+?)\s*\}\s*\{\s*([^{}]+?)\s*\}$")
_FRAC_SHORT = re.compile(r"^([-+]?)\\[dt]?frac\s*(\d)\s*(\d)$")
_SCI = re.compile(r"^(.+?)\s*(?:\\times|\\cdot|x|\*)\s*10\s*\^\s*\{?\s*([-+]?\d+)\s*\}?$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|mathrm|mbox|mathbf)\s*\{([^{}]*)\}")
_LHS = re.compile(r"^[a-zA-Z][a-zA-Z_0-9]*\s*=\s*")
_UNITS_TAIL = re.compile(r"^(.*?\d)\s*[a-zA-Z][a-zA-Z .\-/]*$")


def _boxed_contents(text):
    """Contents of the last \\boxed{...} with balanced braces, or None."""
    last = None
    for m in _BOXED.finditer(text):
        last = m
    if last is None:
        return None
    depth, start = 1, last.end()
    for i in range(start, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start:i]
    return None


def _clean(text):
    """LaTeX/markdown clean-up shared by numeric parsing and string comparison."""
    t = text.strip()
    t = t.replace("\u2212", "-").replace("\\$", "").replace("$", "").replace("\\%", "%")
    t = t.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "").replace("\\;", "")
    t = t.replace("{,}", ",").replace("^\\circ", "").replace("^{\\circ}", "").replace("\u00b0", "")
    t = t.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("**", "")
    t = _TEXT_CMD.sub(r"\1", t)
    t = t.strip().rstrip(".").strip()
    if t.startswith("{") and t.endswith("}") and t.count("{") == 1:
        t = t[1:-1].strip()
    return t


def to_number(text):
    """(value as int or Fraction, had a % sign) for a numeric answer string, or None."""
    t = text.strip()
    if t.isdigit() and t.isascii():  # fastest path: most answers are plain non-negative integers
        return int(t), False
    if _PLAIN_INT.fullmatch(t):  # fast path: signed integers, thousands separators
        return int(t.replace(",", "")), False
    t = _LHS.sub("", _clean(t))
    percent = False
    if t.endswith("%"):
        percent, t = True, t[:-1].strip()
    elif t.lower().endswith("percent"):
        percent, t = True, t[:-7].strip()
    m = _UNITS_TAIL.match(t)
    if m and not t.startswith("\\"):
        t = m.group(1)
    m = _SCI.match(t)
    if m:
        base = to_number(m.group(1))
        return (base[0] * Fraction(10) ** int(m.group(2)), percent) if base else None
    m = _FRAC.match(t) or _FRAC_SHORT.match(t)
    if m:
        num, den = to_number(m.group(2)), to_number(m.group(3))
        if num is None or den is None or den[0] == 0:
            return None
        value = Fraction(num[0]) / den[0]
        return (-value if m.group(1) == "-" else value), percent
    t = t.replace(" ", "")
    m = _FULL_NUMBER.fullmatch(t)
    if not m:
        return None
    value = Fraction(m.group(1).replace(",", ""))
    if m.group(2) is not None:
        den = Fraction(m.group(2))
        if den == 0:
            return None
        value /= den
    return value, percent


def _normalise(text):
    t = _LHS.sub("", _clean(text))
    return t.replace(" ", "").replace("\\frac", "frac").lower()


def _clause_number(clause):
    """The number an 'answer is ...' clause states: after its last '=', else its first number."""
    clause = re.split(r"(?<!\d)\.(?!\d)|\n", clause, maxsplit=1)[0]
    if "=" in clause:
        clause = clause.rsplit("=", 1)[1]
    m = _NUMBER.search(clause)
    return m.group(0) if m else None


def extract_answer(text):
    """The answer string a response (or reference) commits to, or None."""
    if "\\boxed" in text or "\\fbox" in text:
        boxed = _boxed_contents(text)
        if boxed is not None:
            return boxed
    if "####" in text:
        return text.rsplit("####", 1)[1].strip().split("\n", 1)[0]
    if "<<" in text:
        text = _CALC.sub("", text)
    last = None
    for m in _ANSWER_IS.finditer(text):
        last = m
    if last is not None:
        clause = last.group(1).strip()
        if to_number(clause) is not None or _boxed_contents(clause) is not None:
            return clause
        number = _clause_number(clause)
        return number if number is not None else clause
    numbers = _NUMBER.findall(text)
    return numbers[-1] if numbers else None


def _close(a, b, rel_tol, abs_tol):
    diff = abs(a - b)
    return diff <= abs_tol or diff <= rel_tol * max(abs(a), abs(b))


def answers_match(candidate, gold, rel_tol=1e-6, abs_tol=1e-9):
    """True if two answer strings agree numerically (or, if non-numeric, as normalised strings)."""
    g = to_number(gold)
    c = to_number(candidate)
    if g is not None and c is not None:
        if g[0] == c[0]:
            return True
        gv, cv = float(g[0]), float(c[0])
        # Integers must match exactly (a relative tolerance would equate 1450000 and 1450001).
        if not (g[0].denominator == 1 and c[0].denominator == 1) and _close(cv, gv, rel_tol, abs_tol):
            return True
        if g[1] or c[1]:  # 50% vs 0.5
            return _close(cv / 100, gv, rel_tol, abs_tol) or _close(cv, gv / 100, rel_tol, abs_tol)
        return False
    if g is None:
        return _normalise(candidate) == _normalise(gold) and _normalise(gold) != ""
    return False


_GOLD_CACHE = {}  # reference -> gold answer; a training batch scores each reference several times


def gold_answer(reference):
    """The answer a reference states ('#### N', \\boxed{...}, or the whole text), or None."""
    gold = _GOLD_CACHE.get(reference)
    if gold is None:
        gold = extract_answer(reference) if ("####" in reference or "\\boxed" in reference) else reference
        if len(_GOLD_CACHE) > 4096:
            _GOLD_CACHE.clear()
        _GOLD_CACHE[reference] = gold
    return gold


def score(prompt, response, reference, meta):
    gold = meta.get("answer") if meta else None
    if gold is None:
        gold = gold_answer(reference)
    if gold is None or not str(gold).strip():
        raise ValueError("the reference has no answer (expected '#### N', \\boxed{...} or a bare answer)")
    candidate = extract_answer(response)
    if candidate is None:
        return 0.0
    if not meta:
        return 1.0 if answers_match(candidate, str(gold)) else 0.0
    rel_tol = float(meta.get("rel_tol", 1e-6))
    abs_tol = float(meta.get("abs_tol", 1e-9))
    return 1.0 if answers_match(candidate, str(gold), rel_tol, abs_tol) else 0.0


_GSM = ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.\n#### 18")

CASES = [
    ("How much?", "She sells 9 eggs for $2 each.\n#### 18", _GSM, {}, 1.0),
    ("How much?", "She sells 9 eggs for $2 each.\n#### 19", _GSM, {}, 0.0),
    ("How much?", "9 * 2 = <<9*2=18>>18 dollars, so the answer is $18.", "18", {}, 1.0),
    # a correction: the stated answer wins over earlier numbers, the boxed one over everything
    ("", "First I thought 17. No wait, the answer is 18 dollars per day, twice 9.", "18", {}, 1.0),
    ("", "The answer is 17. Hmm, recomputing: \\boxed{18}", "#### 18", {}, 1.0),
    ("", "So x = 20 and y = 5. The final answer is: x + y = 25", "25", {}, 1.0),
    # last-number fallback
    ("", "She earns 9 * 2 = 18 dollars every day", "18", {}, 1.0),
    ("", "I am not sure how to solve this.", "18", {}, 0.0),
    # thousands separators, decimals, currency, negative numbers
    ("", "The house costs $1,450,000 in total.\n#### 1,450,000", "#### 1450000", {}, 1.0),
    ("", "\\boxed{0.50}", ".5", {}, 1.0),
    ("", "\\boxed{18.0}", "18", {}, 1.0),
    ("", "The answer is \u22125.", "-5", {}, 1.0),
    ("", "The answer is 5.", "-5", {}, 0.0),
    # fractions: LaTeX, \dfrac, slash, and equality with decimals
    ("", "Thus the probability is \\boxed{\\dfrac{3}{4}}.", "0.75", {}, 1.0),
    ("", "\\boxed{-\\frac{1}{2}}", "-1/2", {}, 1.0),
    ("", "\\boxed{\\frac{14}{3}}", "\\frac{14}{3}", {}, 1.0),
    ("", "\\boxed{\\frac{14}{4}}", "\\frac{14}{3}", {}, 0.0),
    # percentages match their value / 100 as well as the bare number
    ("", "The discount is 25%.\n#### 25%", "25", {}, 1.0),
    ("", "The answer is 25%", "0.25", {}, 1.0),
    # units in \text{} and trailing unit words
    ("", "\\boxed{18 \\text{ dollars}}", "18", {}, 1.0),
    ("", "\\boxed{90^\\circ}", "90^\\circ", {}, 1.0),
    ("", "Answer: 2220 square feet", "2220", {}, 1.0),
    # an equation answer and scientific notation
    ("", "\\boxed{x = 5}", "x=5", {}, 1.0),
    ("", "\\boxed{1.5 \\times 10^{3}}", "1500", {}, 1.0),
    # non-numeric answers compared as normalised LaTeX
    ("", "\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", {}, 1.0),
    ("", "\\boxed{(3, \\dfrac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", {}, 1.0),
    ("", "\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", {}, 1.0),
    ("", "\\boxed{p + q}", "p - q", {}, 0.0),
    ("", "\\boxed{9+1}", "9", {}, 0.0),
    # meta overrides and tolerance
    ("", "#### 3.1416", "see solution", {"answer": "3.14159", "rel_tol": 1e-4}, 1.0),
    ("", "#### 3.1416", "3.14159", {}, 0.0),
    ("", "\\boxed{0.3333333}", "\\frac{1}{3}", {}, 1.0),
    ("", "#### 1,450,001", "#### 1,450,000", {}, 0.0),
]
