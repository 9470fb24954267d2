"""Hand-written rules that read a query's task family and its salient features from the text alone.

Task tags, code and translation cues, answer options, math notation, format constraints stated in words
(`_states_format`, the "instruction" cue of `_strong_family`): the query analysis
(`rlar_jax.rewards.signature`) applies them, and the router's training data (`routing_data`) uses them to
filter its templates. The words of other languages they read are in `query_cues`; both import only the
language table.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from rlar_jax.languages import LANGUAGES
from rlar_jax.rewards.query_cues import (ANY_LANGUAGE, FACT_QUESTION, HOW_SAY, LANGUAGE_NAMES, MATH_WORDS, NOT_FACTUAL,
                                        PROGRAM_WORDS, TRANSLATE_VERB, WHICH_OF_FOLLOWING, states_format_in_other_language)

_LANG = LANGUAGE_NAMES

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
    re.compile(r"```|\bdef \w+\s*\(|\bclass \w+\s*[:({]|\bimport \w+"),
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
                         r"how old|eigenvalues?|determinant|"
                         r"what is the (?:sum|product|value|remainder|area|probability|number|total|"
                         r"average)|find the|integral|derivative|equation|percent|remainder)\b", _I)
_ARITH = re.compile(r"\d\s*[-+*/×÷^=]\s*\d++(?!\s*(?:words?|sentences?|paragraphs?|pages?|lines|bullet|items))")
_OPTION_LINE = re.compile(r"^\s*\(?([A-E])[\).:]\s+\S", re.MULTILINE)
_OPTION_INLINE = re.compile(r"\(([A-E])\)\s*\w")
_OPTION_CIRCLED = re.compile(r"([①-⑩])\s*\S")  # the options of Korean, Japanese and Chinese tests
_TURNS = re.compile(r"^\s*(?:Human|User|Assistant)\s*:", re.MULTILINE)


# Format constraints a request states in words (IFEval-style: counts of words / sentences / layout units,
# letters, case, start and end, JSON, markdown markers, repeating the request, the answer's language). Each
# pattern names the constraint's wording, not a topic, so a request stating one is an "instruction" query.
_N = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty)"
_UNITS = (r"(?:words?|sentences?|paragraphs?|bullet(?:\s*points?|s)?|numbered (?:items|points|steps|lines)|lines|"
          r"sections|highlighted (?:sections|parts|phrases)|placeholders|characters|stanzas|emojis|hashtags)")
_LAYOUT = _UNITS.replace("characters|", "")  # "a story with 3 characters" is no length constraint
_FORMAT = tuple(re.compile(p, _I) for p in (
    rf"\b(?:exactly|at most|at least|no more than|no fewer than|no less than|fewer than|less than|under|"
    rf"a maximum of|a minimum of|not exceeding|not exceed|between {_N} and)\s+{_N}\s+{_UNITS}",
    rf"\b{_N}\s*(?:-|–|to)\s*{_N}\s+{_UNITS}",
    rf"\b(?:in|with|using|into|of|as)\s+(?:just\s+|only\s+)?{_N}\s+(?:short\s+)?{_LAYOUT}(?:\s+or (?:less|fewer))?"
    rf"(?=\s*(?:[.,;:!?)]|$|and\b|or\b|each\b|separated\b|about\b|on\b|that\b|where\b|with\b))",
    r"\b(?:without|never|avoid|(?:do not|don't|must not|cannot|can't|should not|shouldn't)\s+(?:use|include|"
    r"contain|write))\s+(?:using\s+|including\s+|ever\s+)?(?:the|any)?\s*(?:letters?|characters?)\s+[\"'‘“]?[a-z]\b",
    r"\bthe letter\s+[\"'‘“]?[a-z][\"'’”]?\s+(?:should|must|has to|needs to)?\s*appears?\b",
    r"\b(?:in|using|with|use|only|entirely)\s+(?:all\s+|only\s+)?(?:(?:capital|small|block) letters|upper[- ]?case|"
    r"lower[- ]?case)\b(?!\s+(?:and|or)\b)|\bin all caps\b|\ball (?:capital letters|upper[- ]?case|lower[- ]?case)\b",
    r"\b(?:without|no|(?:do not|don't|never)\s+use)\s+(?:using\s+)?(?:any\s+)?commas\b",
    r"\b(?:start|begin|open|end|finish|close|conclude)(?:s|ing)?\s+(?:it|them|each \w+|every \w+|your \w+|the \w+)?"
    r"\s*with\s+(?:(?:the|this)\s+(?:exact\s+)?(?:word|words|phrase|sentence|line)\b|a (?:question|postscript|P\.S\.)|"
    r"[\"“'‘][^\"”'’]{2,60}[\"”'’])",
    r"\b(?:first|last|final|opening|closing) (?:word|sentence|line)\b[^.\n?]{0,40}\b(?:(?:must|should|has to|"
    r"needs to|will) be\b|is\s+[\"'‘“])",
    r"\b(?:each|every) (?:line|sentence|word|paragraph|item|bullet)\b[^.\n?]{0,30}\b(?:must|should|has to|needs to)"
    r"\s+(?:start|begin|end|contain|include|be)\b|\b(?:each|every) (?:line|sentence|word|paragraph)\s+(?:starts|begins|"
    r"ends) with the letter\b",
    r"\b(?:in|as)\s+(?:a\s+)?(?:valid\s+)?json(?:\s+(?:format|object|list|array))?\b|\bjson (?:format|only)\b|\bvalid json\b",
    r"\bsection\s+(?:x|\d)\b|\bpart\s+1\b.{0,30}\bpart\s+2\b|\*\*\*|\bsix asterisks\b|<<[^<>\n]+>>|"
    r"\bdouble angular brackets\b|\bplaceholders? in square brackets\b|\b(?:as|in) a markdown table\b|"
    r"\bhighlight(?:ed)?\b[^.\n]{0,40}\b(?:with|using|in) (?:markdown|\*?asterisks)\b",
    r"\b(?:add|include|end with)\s+a\s+(?:postscript|P\.P?\.S\.)|\b(?:as|in) a (?:numbered|bulleted) list\b",
    r"\brepeat (?:the|my|this|your) (?:request|question|prompt|instruction)s?\b[^.\n]{0,20}\b(?:word for word|"
    r"exactly|verbatim|without change)",
    r"\b(?:wrap|enclose|put)\b[^.\n]{0,40}\b(?:in|inside|within|with) (?:double )?quot(?:ation marks|es)\b",
    rf"\b(?:answer|respond|reply|write (?:your|the|the whole|the entire) (?:answer|response|reply))\s+(?:only\s+|"
    rf"entirely\s+|exclusively\s+)?in\s+(?:{_LANG})\s+only\b|\b(?:entire|whole) (?:response|answer|reply)\b[^.\n]"
    rf"{{0,30}}\bin\s+(?:{_LANG})\b|\bno other language\b|\b(?:response|answer|reply)\s+(?:must|should) be (?:written\s+)?"
    rf"(?:entirely\s+|only\s+)?in\s+(?:{_LANG})\b",
    rf"\b(?:words of one syllable|one-syllable words|monosyllabic words|words of {_N} letters or (?:fewer|less))\b",
    r"\b(?:do not|don't|never|avoid|without)\s+(?:use\s+|using\s+|include\s+|including\s+|mention\s+|mentioning\s+|"
    r"say\s+|saying\s+)?(?:the\s+|any of the\s+)?(?:key)?words?\s+[\"'‘“]",
    r"\b(?:include|use|mention)\s+(?:the\s+)?(?:key)?words?\s+[\"'‘“][^\"”'’]{1,30}[\"”'’]\s+(?:in (?:every|each|your)|"
    rf"at least|exactly|{_N} times)",
    rf"\b(?:longer|shorter) than {_N} words\b|\b(?:in|as) (?:one |a )?single (?:sentence|paragraph|line)\b|"
    r"\brefrain from (?:the use of|using) (?:any )?commas\b|\b(?:make sure|be sure|remember) to (?:include|use|mention) "
    r"(?:the )?(?:key)?words?\s+[\"'‘“]|"
    r"\b(?:answer|respond|reply) with (?:exactly )?one of(?: the following(?: options)?)?\b|\b(?:key ?words?|terms?|phrases?) in bold\b|"
    r"\bin bold\b",
    rf"\b(?:the word|the keyword|keywords?)\s+[\"'‘“][^\"”'’]{{1,30}}[\"”'’][^.\n]{{0,40}}\b{_N}\s+times\b",
))
# Layout units of prose: a count of them is a constraint on the answer even in a request about programming.
_PROSE_FORMAT = re.compile(rf"\b{_N}\s+(?:short\s+)?(?:bullet(?:\s*points?|s)?|paragraphs?|sentences?|stanzas?|"
                           rf"highlighted (?:sections|parts|phrases)|placeholders)\b|<<[^<>\n]*>>", re.IGNORECASE)
# Requests about programming or markup: there "lowercase", "JSON" or "under 10 lines" describe code, not
# the layout of the answer, so the format rule leaves them to the router.
_PROGRAMMING = re.compile(r"\b(?:python|javascript|typescript|java|c\+\+|c#|rust|golang|sql|bash|shell|regex|"
                          r"regular expression|function|variable|string|array|list comprehension|api|endpoint|"
                          r"html|css|excel|spreadsheet|column|parse|serial[iz]e|schema|database|code|script|"
                          r"program|command|library|class|method|git)\b", _I)


# Short translation requests that name the target language without the word "translate": "Say 'X' in
# Greek", "the Portuguese for 'X'", "Put this paragraph into Spanish: ...". The language must end the
# phrase, so "a letter to Chinese investors" or "a summary in French of ..." do not count.
_LANG_END = rf"\s+({_LANG})(?=\s*(?:[:?!.,\n]|please\b|for me\b|$))"
_TRANSLATE_SHORT = tuple(re.compile(p, _I) for p in (
    rf"\b(?:say|said|what(?:'s| is| are| does))\s+[\"“'‘][^\"”\n]{{1,160}}[\"”'’]\s+(?:mean\s+)?in{_LANG_END}",
    rf"\bthe ({_LANG}) (?:for|word for|words for|version of|equivalent of|translation of)\b",
    rf"\b(?:put|render|turn|convert|change|rewrite|give me|write|say)\s+(?:this|that|it|these|those|the following|"
    rf"my)\b(?:\s+[\w'-]+){{0,3}}?\s+(?:into|in|to){_LANG_END}",
))
_QUOTED = re.compile(r"\"[^\"\n]*\"|“[^”\n]*”|«[^»\n]*»|„[^“”\n]*[“”]|「[^」\n]*」|『[^』\n]*』|(?<!\w)'[^'\n]*'(?!\w)")
# Code no prose request contains: an SQL statement written out, or a regular expression asked for.
_CODE_STRONG = re.compile(r"\bSELECT\b[^;]{1,300}?\bFROM\b|\b(?:INSERT INTO|CREATE TABLE|DELETE FROM)\b|"
                          r"\bUPDATE \w+ SET\b|(?i:\b(?:regex(?:es|ps?)?|regular expressions?)\b)|"
                          # a regular expression named in 12 languages, an SQL query, a server's config file
                          r"(?i:expresi[oó]n regular|expression r[ée]guli[eè]re|regul[aä]re[rn]? ausdr[uü]ck|"
                          r"espressione regolare|express[aã]o regular|reguliere expressie|wyrażeni\w* regularn|"
                          r"регулярн\w* выражени|正则表达式|正規表現|정규\s?표현식|정규식|düzenli ifade|reguljärt uttryck|"
                          r"regulární výraz|reguláris kifejezés|expresie regulată|κανονική έκφραση|ביטוי רגולרי|"
                          r"नियमित अभिव्यक्ति|عبارة نمطية|عبارت منظم|biểu thức chính quy|ekspresi reguler|"
                          r"\b(?:sql|mysql|postgres\w*|sqlite)\b[^.?!\n]{0,30}\b(?:query|queries|consulta|requête|"
                          r"abfrage|запрос|zapytanie|sorgu|statement)|\b(?:query|consulta|requête|abfrage|запрос|"
                          r"zapytanie|sorgu)\s+(?:en\s+|in\s+|na\s+)?sql\b|\b(?:nginx|apache|caddy|traefik|haproxy|"
                          r"dockerfile|docker-compose|crontab|systemd)\b[^.?!\n]{0,25}\b(?:config\w*|conf|file|rules?|"
                          r"unit|entry|block|redirect\w*)\b)")


def _states_format(query: str) -> bool:
    """True when the query states a verifiable format constraint in words (`_FORMAT`, or in another language) and
    is not about programming, or counts layout units of prose (`_PROSE_FORMAT`) whatever its topic."""
    if _PROSE_FORMAT.search(query):
        return True
    return (any(p.search(query) for p in _FORMAT) or states_format_in_other_language(query)) \
        and not _PROGRAMMING.search(query)


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


_OPTION_NUMBERED = re.compile(r"(?:^|\s)\(?([1-5])[).]\s+\S")


def _is_multiple_choice(query: str, meta: Mapping[str, Any]) -> bool:
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return True
    letters = set(_OPTION_LINE.findall(query)) or set(_OPTION_INLINE.findall(query))
    circled = set(_OPTION_CIRCLED.findall(query))
    numbered = set(_OPTION_NUMBERED.findall(query)) if WHICH_OF_FOLLOWING.search(query) else set()
    return (len(letters) >= 3 and {"A", "B"} <= letters) or (len(circled) >= 3 and {"①", "②"} <= circled) \
        or (len(numbered) >= 3 and {"1", "2"} <= numbered)


_LANG_NAMES_CODE = re.compile(r"\b(?:python|javascript|typescript|java|php|sql|c\+\+|c#|rust|golang|kotlin|swift|"
                              r"ruby|bash|powershell|flask|django|react|node\.?js|laravel|spring|git|flutter|htaccess|docker|nginx|"
                              r"kubectl|npm|питон|پایتون|パイソン|파이썬)\b", _I)


def _detect_family(query: str, meta: Mapping[str, Any]) -> str | None:
    if _tests_in(meta) or any(p.search(query) for p in _CODE) or (
            _LANG_NAMES_CODE.search(query) and PROGRAM_WORDS.search(query)):
        return "code"
    if _TRANSLATE.search(query) and (_TARGET.search(query) or _TARGET_IN.search(query)):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    if _LATEX.search(query) or (re.search(r"\d", query) and (
            _MATH_WORDS.search(query) or _ARITH.search(query) or MATH_WORDS.search(query))):
        return "math"
    if _TURNS.search(query):
        return "dialogue"
    return None


_SHORT_WORDS = 30  # a factual question is short; a long text that mentions "who wrote" is something else
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")  # two or more numbers: "in what year will 5000 grow to 10000" is math


def _strong_family(query: str, meta: Mapping[str, Any]) -> str | None:
    """The rules precise enough to override the router: tests or answer options in meta, a code block or
    definition, an explicit request to translate into a named language, three or more lettered options, an
    SQL statement or a request for a regular expression, a short translation request naming the target
    language ("Say 'X' in Greek"), a verb of translating (or "how do you say") in any of 15 languages with a language
    name, a format constraint stated in words in a request the rules give no
    other family, a short factual question ("in which year", "who wrote") in 27 languages that asks for no
    opinion or writing and that the rules give no other family."""
    if _tests_in(meta) or _CODE_BLOCK.search(query):
        return "code"
    if isinstance(meta.get("choices") or meta.get("options"), (list, dict)):
        return "other"
    if _TRANSLATE.search(query) and _TARGET.search(query):
        return "translation"
    if _is_multiple_choice(query, meta):
        return "other"
    if _CODE_STRONG.search(query):
        return "code"
    request = _QUOTED.sub(" ", query)  # programming words inside the text to translate do not count
    if any(p.search(query) for p in _TRANSLATE_SHORT) and not _PROGRAMMING.search(request):
        return "translation"
    if (TRANSLATE_VERB.search(query) or HOW_SAY.search(query)) and ANY_LANGUAGE.search(query) \
            and not _PROGRAMMING.search(request):
        return "translation"
    if _states_format(query) and _detect_family(query, meta) is None:
        return "instruction"
    if FACT_QUESTION.search(request) and not NOT_FACTUAL.search(query) and len(query.split()) <= _SHORT_WORDS \
            and len(_NUMBER.findall(query)) < 2 and _detect_family(query, meta) is None:
        return "other"
    return None
