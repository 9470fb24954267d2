"""Hand-written rules that read a query's task family and its salient features from the text alone.

Task tags, code and translation cues, answer options, math notation: the query analysis
(`rlar_jax.rewards.signature`) applies them, and the router's training data (`routing_data`) uses them to
filter its templates. A leaf of the reward system: it imports only the language table.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from rlar_jax.languages import LANGUAGES

_LANG = "|".join(sorted(LANGUAGES, key=len, reverse=True))

# Dataset task tags -> (family, qualifier); matched in order against the lower-cased tag.
_TAGS: tuple[tuple[str, str, str | None], ...] = (
    (r"gsm8k|math|aime|amc|svamp|asdiv|arith", "math", None),
    (r"mbpp|humaneval|code|apps|leetcode|livecodebench|program", "code", None),
    (r"wmt|transl|flores|iwslt|opus", "translation", None),
    (r"mmlu|arc[-_]|^arc$|hellaswag|gpqa|commonsense|multiple[-_ ]?choice|mcq|piqa|openbookqa", "other", "mc"),
    (r"triviaqa|^nq|natural[-_]?questions|squad|exact|short[-_]?answer|factoid", "other", "exact"),
    (r"ifeval|instruct|format|constraint", "instruction", None),
    (r"hh|harmless|helpful|dialog|chat|llmbar|alpaca|sharegpt|oasst|conversation|preference", "dialogue", None),
)

_TEST_KEYS = ("tests", "test_list", "test_cases", "unit_tests", "test")
_I = re.IGNORECASE

_CODE = (
    re.compile(r"```|\bdef \w+\s*\(|\bclass \w+\s*[:(]|\bimport \w+"),
    re.compile(r"\b(?:write|implement|create|complete|fix|define|code)\b[^.\n]{0,60}\b(?:function|program|"
               r"script|class|method|snippet|algorithm|one-liner)\b", _I),
    re.compile(r"\b(?:python|javascript|typescript|java|c\+\+|rust|golang|sql|bash)\b[^.\n]{0,40}\b(?:function|"
               r"program|script|code|query)\b", _I),
)
# The code cues precise enough to override the router: a fenced block, or a definition / import that
# starts a line (prose such as "the import tax" or "a class schedule (Mondays)" does not).
_CODE_BLOCK = re.compile(r"```|^\s*(?:def \w+\s*\(|class \w+\s*[:(]|(?:from \w[\w.]* )?import \w+)", re.MULTILINE)
_TRANSLATE = re.compile(r"\btranslat(?:e|ion|ing)\b", _I)
_TARGET = re.compile(rf"\b(?:into|to)\s+({_LANG})\b", _I)
_TARGET_IN = re.compile(rf"\bin\s+({_LANG})\b", _I)  # weaker cue ("say it in French"), used only as a fallback
_SOURCE = re.compile(rf"\bfrom\s+({_LANG})\b|\b({_LANG})\s+(?:text|sentence|passage|source|phrase)\b", _I)
_LATEX = re.compile(r"\\(?:frac|sqrt|cdot|times|int|sum|pi|le|ge|left|right|begin|binom|log)\b|\$[^$\n]+\$|"
                    r"\\\(|\\\[")
_MATH_WORDS = re.compile(r"\b(?:solve|compute|calculate|evaluate|simplify|how many|how much|how far|how long|"
                         r"how old|what is the (?:sum|product|value|remainder|area|probability|number|total|"
                         r"average)|find the|integral|derivative|equation|percent|remainder)\b", _I)
_ARITH = re.compile(r"\d\s*[-+*/×÷^=]\s*\d")
_OPTION_LINE = re.compile(r"^\s*\(?([A-E])[\).:]\s+\S", re.MULTILINE)
_OPTION_INLINE = re.compile(r"\(([A-E])\)\s*\w")
_TURNS = re.compile(r"^\s*(?:Human|User|Assistant)\s*:", re.MULTILINE)


def _tests_in(meta: Mapping[str, Any]) -> bool:
    return any(meta.get(k) for k in _TEST_KEYS)


def _lang_pair(query: str, task: str | None, meta: Mapping[str, Any]) -> str | None:
    for key in ("lang_pair", "language_pair", "langs"):
        if isinstance(meta.get(key), str) and meta[key].strip():
            return meta[key].strip().lower().replace("_", "-")
    for s, t in (("src_lang", "tgt_lang"), ("source_lang", "target_lang")):
        if meta.get(s) and meta.get(t):
            return f"{str(meta[s]).lower()}-{str(meta[t]).lower()}"
    if task:
        m = re.search(r"([a-z]{2,3})[-_]([a-z]{2,3})$", task)
        if m:
            return f"{m.group(1)}-{m.group(2)}"
    tgt = _TARGET.search(query) or _TARGET_IN.search(query)
    if not tgt:
        return None
    src = _SOURCE.search(query)
    src_code = LANGUAGES[(src.group(1) or src.group(2)).lower()] if src else "xx"
    return f"{src_code}-{LANGUAGES[tgt.group(1).lower()]}"


def _is_multiple_choice(query: str, meta: Mapping[str, Any]) -> bool:
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return True
    letters = set(_OPTION_LINE.findall(query)) or set(_OPTION_INLINE.findall(query))
    return len(letters) >= 3 and {"A", "B"} <= letters


def _detect_family(query: str, meta: Mapping[str, Any]) -> str | None:
    if _tests_in(meta) or any(p.search(query) for p in _CODE):
        return "code"
    if _TRANSLATE.search(query) and (_TARGET.search(query) or _TARGET_IN.search(query)):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    if _LATEX.search(query) or (re.search(r"\d", query) and (_MATH_WORDS.search(query) or _ARITH.search(query))):
        return "math"
    if _TURNS.search(query):
        return "dialogue"
    return None


def _strong_family(query: str, meta: Mapping[str, Any]) -> str | None:
    """The rules precise enough to override the router: tests or answer options in meta, a code block or
    definition, an explicit request to translate into a named language, three or more lettered options."""
    if _tests_in(meta) or _CODE_BLOCK.search(query):
        return "code"
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return "other"
    if _TRANSLATE.search(query) and _TARGET.search(query):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    return None
