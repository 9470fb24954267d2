"""Format constraints stated in a query's own words, and the verifier meta that checks them.

`extract_constraints` reads the constraints a user wrote ("answer in all lowercase letters", "use exactly
3 bullet points", "the letter 'q' should appear at least 4 times") into a dictionary of constraint
kinds (the form `rlar_jax.datasets.constraints` declares). `constraints_to_meta` turns that dictionary
into the meta of the sandboxed `format_constraints` verifier, one named check per constraint, so its
fraction score counts each constraint once.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "nine": 9, "ten": 10}
_NUM = r"(\d+|" + "|".join(NUMBER_WORDS) + r")"
_I = re.IGNORECASE
# End of a word list: punctuation, or a following clause with its own instruction verb.
_LIST_END = (r"(.+?)(?=,?\s+(?:and|but|while|then)\s+(?:also\s+)?(?:include|use|mention|write|answer|respond|make|"
             r"end|keep|wrap|do|don't|never|give|reply)\b|[.;\n]|$)")
_QUOTED = r"[\"“']([^\"”']+)[\"”']"
_WORD = r"[\"“'‘]?([A-Za-z][\w-]*)[\"”'’]?"  # one word, quoted or not
_FLAGS = {  # flag kind -> pattern that states it
    "lowercase": r"\b(?:all|only|entirely|in)\s+(?:in\s+)?lower ?case\b|\blower ?case letters only\b",
    "uppercase": r"\b(?:all|only) capital letters\b|\ball caps\b|\b(?:all|only|entirely|in)\s+(?:in\s+)?upper ?case\b",
    "no_commas": (r"\b(?:do not|don't|without|never)\s+(?:use|using)\s+(?:any\s+)?commas\b|\bno commas\b|"
                  r"\brefrain from (?:the use of|using) (?:any )?commas\b"),
    "quotes": r"\b(?:wrap|put|enclose)\b[^.\n]{0,40}\bdouble quot(?:ation marks?|es)\b",
    "postscript": r"\bpostscript\b|\bP\.S\.",
    "title": r"\bdouble angular brackets\b",
    "think_tags": r"<think>|\bthink(?:ing)? tags?\b",
}
_COUNTS = {  # counted kind -> pattern whose group 1 is the count
    "max_sentences": rf"\b(?:at most|no more than|up to)\s+{_NUM}\s+sentences?\b",
    "paragraphs": rf"\bexactly\s+{_NUM}\s+paragraphs?\b",
    "bullets": rf"\bexactly\s+{_NUM}\s+bullet(?: points?|s)?\b",
    "highlights": rf"\bhighlight at least\s+{_NUM}\s+(?:sections?|parts?)\b",
    "placeholders": rf"\bat least\s+{_NUM}\s+placeholders?\b",
}


def _num(text: str) -> int:
    return int(text) if text.isdigit() else NUMBER_WORDS[text.lower()]


def _word_list(text: str) -> list[str]:
    """Words named in an instruction: quoted items if any, else a comma/and/or separated list."""
    quoted = re.findall(r"[\"“'‘]([^\"”'’]{1,40})[\"”'’]", text)
    items = quoted or re.split(r",\s*|\s+(?:and|or|nor)\s+", text)
    out = []
    for item in items:
        item = item.strip(" .;:!?\"'“”‘’").strip()
        if item and len(item.split()) <= 3 and item.lower() not in ("the", "a", "an"):
            out.append(item)
    return out[:10]


def extract_constraints(query: str) -> dict[str, Any]:
    """Explicit format constraints stated in `query`, as a dict of constraint kinds.

    Kinds: json, max_words, min_words, max_sentences, think_tags, forbidden_words, keywords, lowercase,
    uppercase, bullets, paragraphs, highlights, placeholders, start_with, end_with, no_commas, quotes,
    postscript, title, letter_frequency ({"letter", "min"}), forbidden_letters (letters the response must
    not contain: "do not use the letter 'e'").
    """
    q = query
    c: dict[str, Any] = {}
    if re.search(r"\b(?:in|as|using|into|valid|return|output|respond with|format(?:ted)?(?: as)?)\b[^.\n]{0,30}"
                 r"\bjson\b|\bjson\s+(?:format|object|only)\b", q, _I):
        c["json"] = True
    m = re.search(rf"\b(at most|no more than|fewer than|less than|under|a maximum of|not exceed(?:ing)?|up to)\s+"
                  rf"{_NUM}\s+words?\b", q, _I)
    if m:
        n = _num(m.group(2))
        c["max_words"] = n - 1 if m.group(1).lower() in ("fewer than", "less than") else n
    m = re.search(rf"\b(at least|no fewer than|no less than|(?<!no )more than|a minimum of)\s+{_NUM}\s+words?\b", q, _I)
    if m:
        n = _num(m.group(2))
        c["min_words"] = n + 1 if m.group(1).lower() == "more than" else n
    for kind, pattern in _COUNTS.items():
        m = re.search(pattern, q, _I)
        if m:
            c[kind] = _num(m.group(1))
    for kind, pattern in _FLAGS.items():
        if re.search(pattern, q, _I):
            c[kind] = True
    # Forbidden words first, then blank them out so "use the word X" is not also read as a keyword.
    rest = q
    m = re.search(r"\b(?:do not|don't|never|without|avoid)\s+(?:use|using|say|saying|mention|mentioning|include|"
                  r"including|the)?\s*(?:the\s+|any of the\s+)?(?:words?|terms?|phrases?)\s+" + _LIST_END, q, _I)
    if m:
        words = _word_list(m.group(1))
        if words:
            c["forbidden_words"] = words
        rest = q[:m.start()] + q[m.end():]
    m = re.search(r"\b(?:include|including|use|mention|contain|containing)\s+(?:the\s+|all of the\s+)?"
                  r"(?:key ?words?|words?|terms?|phrases?)\s+" + _LIST_END, rest, _I)
    if m:
        words = _word_list(m.group(1))
        if words:
            c["keywords"] = words
    m = re.search(r"\b(?:end|finish|close|conclude) (?:your|the) (?:response|answer|reply|text) with "
                  r"(?:(?:the|this) (?:exact )?phrase\s+)?" + _QUOTED, q, _I)
    if m:
        c["end_with"] = m.group(1)
    m = re.search(r"\b(?:start|begin|open) (?:your|the) (?:response|answer|reply|text) with "
                  r"(?:(?:the|this) (?:exact )?(?:phrase|words?)\s+)?" + _QUOTED, q, _I)
    if m:
        c["start_with"] = m.group(1)
    if "start_with" not in c:  # "the first word must be 'Plants'", "start your poem with the word Dawn"
        m = re.search(r"\b(?:the )?(?:first|opening) word (?:of (?:your|the) (?:response|answer|reply|text) )?"
                      r"(?:must|should|has to|needs to|will) be\s+" + _WORD, q, _I) or re.search(
            r"\b(?:start|begin|open)\b(?: (?:your|the|it)\b[^.\n]{0,40}?)? with the word\s+" + _WORD, q, _I)
        if m:
            c["start_with"] = m.group(1)
    m = re.search(r"\b(?:do not|don't|never|without|avoid|must not contain|no)\s+(?:ever\s+)?(?:(?:use|using|"
                  r"include|including|write|writing|contain|containing)\s+)?(?:the\s+|any\s+)?letters?\s+"
                  r"[\"'‘“]?([a-z])[\"'’”]?(?:\s*(?:,|or|and|nor)\s*[\"'‘“]?([a-z])[\"'’”]?)?(?![a-z])", q, _I)
    if m:
        c["forbidden_letters"] = sorted({g.lower() for g in m.groups() if g})
    m = re.search(rf"\bletter\s+[\"'‘]?([a-z])[\"'’]?\s+(?:should |must |has to )?appears?\s+at least\s+{_NUM}\s+"
                  r"times\b", q, _I)
    if m:
        c["letter_frequency"] = {"letter": m.group(1).lower(), "min": _num(m.group(2))}
    return c


_BULLET = r"^[ \t]*[-*•][ \t]"


def _checks(constraints: Mapping[str, Any]) -> list[list[str]]:
    """[name, "match" | "forbid", pattern] for the kinds the verifier checks by regular expression."""
    c = constraints
    out: list[list[str]] = []
    if "bullets" in c:  # exactly N lines starting with a bullet marker
        out.append(["bullets", "match", r"(?ms)\A(?:(?!%s).)*(?:%s(?:(?!%s).)*){%d}\Z"
                    % (_BULLET, _BULLET, _BULLET, c["bullets"])])
    if "paragraphs" in c:  # exactly N blocks separated by blank lines
        out.append(["paragraphs", "match", r"(?s)\A\s*\S(?:(?!\n[ \t]*\n).)*(?:\n[ \t]*\n\s*\S(?:(?!\n[ \t]*\n).)*)"
                    r"{%d}\s*\Z" % (c["paragraphs"] - 1)])
    if "max_sentences" in c:  # N-1 full sentences, then at most one more (final punctuation optional)
        out.append(["max_sentences", "match",
                    r"(?s)\A\s*(?:[^.!?]*[.!?]+\s*){0,%d}(?:[^.!?]*[.!?]*\s*)?\Z" % (c["max_sentences"] - 1)])
    if "highlights" in c:  # N spans of *text* on one line
        out.append(["highlights", "match", r"(?s)(?:.*?(?<!\*)\*[^\s*][^\n*]*\*(?!\*)){%d}" % c["highlights"]])
    if "placeholders" in c:
        out.append(["placeholders", "match", r"(?s)(?:.*?\[[^\[\]\n]+\]){%d}" % c["placeholders"]])
    if "start_with" in c:  # case-insensitive; a wrapping quote may come first
        out.append(["start_with", "match", r"(?i)\A\s*[\"“]?\s*" + re.escape(c["start_with"].strip())])
    if "end_with" in c:  # case-insensitive; a wrapping quote may come last
        out.append(["end_with", "match", r"(?i)" + re.escape(c["end_with"].strip()) + r"\s*[\"”]?\s*\Z"])
    if c.get("quotes"):
        out.append(["quotes", "match", r"\A\s*[\"“][\s\S]*[\"”]\s*\Z"])
    if c.get("postscript"):
        out.append(["postscript", "match", r"(?im)^\s*[\"“*]*\s*P\.\s?S\."])
    if c.get("title"):
        out.append(["title", "match", r"<<[^\n<>]+>>"])
    if "letter_frequency" in c:
        lf = c["letter_frequency"]
        out.append(["letter_frequency", "match", r"(?is)(?:.*?%s){%d}" % (re.escape(lf["letter"]), lf["min"])])
    if c.get("forbidden_letters"):
        out.append(["forbidden_letters", "forbid", "(?i)[%s]" % "".join(map(re.escape, c["forbidden_letters"]))])
    if c.get("lowercase"):
        out.append(["lowercase", "forbid", "[A-Z]"])
    if c.get("uppercase"):
        out.append(["uppercase", "forbid", "[a-z]"])
    if c.get("no_commas"):
        out.append(["no_commas", "forbid", ","])
    return out


def constraints_to_meta(constraints: Mapping[str, Any]) -> dict[str, Any]:
    """Constraints as the meta of the seed `format_constraints` verifier: its own keys where it has them
    (json, word bounds and lists, think), one named regular-expression check for every other kind."""
    meta: dict[str, Any] = {}
    for key in ("json", "max_words", "min_words", "forbidden_words"):
        if key in constraints:
            meta[key] = constraints[key]
    if constraints.get("think_tags"):
        meta["think"] = True
    if constraints.get("keywords"):
        meta["required_words"] = list(constraints["keywords"])
    checks = _checks(constraints)
    if checks:
        meta["checks"] = checks
    return meta
