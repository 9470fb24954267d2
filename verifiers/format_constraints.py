"""Format compliance of a response with the constraints listed in meta: share met (or all-or-nothing).

Each constraint present in meta counts once. With `think`, the response must be exactly one
<think>...</think> block (non-empty) at the start followed by a non-empty answer, and every other
constraint is checked on that answer (the text after </think>).

meta keys read (at least one constraint is required):
  regex            pattern or list of patterns that must each match (re.search)
  forbidden_regex  pattern or list of patterns that must not match
  json             true: the answer (or its ```json fenced block) parses as JSON
  json_keys        list of keys the answer's JSON object must have (implies json)
  min_words, max_words, min_chars, max_chars   length bounds (words = whitespace-separated)
  required_words   words/phrases that must appear (whole words, case-insensitive)
  forbidden_words  words/phrases that must not appear (whole words, case-insensitive)
  think            true: <think>...</think> structure as above
  checks           list of [name, "match" | "forbid", pattern]: each one constraint of its own, met when
                   the pattern is found (match) or not found (forbid)
  mode             "fraction" (default) or "all"
"""

import json
import re

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = "*"
DEFAULT_FOR = ("instruction",)
EVAL_FOR = ("instruction",)

_THINK = re.compile(r"^\s*<think>(.*?)</think>(.*)$", re.DOTALL)
_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_KEYS = ("regex", "forbidden_regex", "json", "json_keys", "min_words", "max_words", "min_chars", "max_chars",
         "required_words", "forbidden_words", "think", "checks")


def _patterns(meta, key):
    value = meta[key]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise ValueError("meta[%r] must be a pattern string or a non-empty list of them" % key)
    try:
        return [re.compile(v) for v in values]
    except re.error as exc:
        raise ValueError("meta[%r] has an invalid regular expression: %s" % (key, exc))


def _words(meta, key):
    values = meta[key]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError("meta[%r] must be a non-empty list of non-empty strings" % key)
    return [re.compile(r"(?<!\w)" + re.escape(v.strip()) + r"(?!\w)", re.IGNORECASE) for v in values]


def _bound(meta, key):
    value = meta[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("meta[%r] must be a non-negative int, got %r" % (key, value))
    return value


def _parse_json(text):
    m = _FENCED_JSON.search(text)
    candidate = m.group(1) if m else text
    try:
        return True, json.loads(candidate.strip())
    except ValueError:
        return False, None


def check(response, meta):
    """List of (constraint name, met) for every constraint meta asks for."""
    results = []
    answer = response
    if meta.get("think"):
        m = _THINK.match(response)
        ok = bool(m) and bool(m.group(1).strip()) and bool(m.group(2).strip()) and "<think>" not in m.group(2)
        results.append(("think", ok))
        answer = m.group(2).strip() if m else response
    if "regex" in meta:
        results.append(("regex", all(p.search(answer) for p in _patterns(meta, "regex"))))
    if "forbidden_regex" in meta:
        results.append(("forbidden_regex", not any(p.search(answer) for p in _patterns(meta, "forbidden_regex"))))
    if meta.get("json") or "json_keys" in meta:
        parsed_ok, value = _parse_json(answer)
        if "json_keys" in meta:
            keys = meta["json_keys"]
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValueError("meta['json_keys'] must be a list of strings")
            results.append(("json_keys", parsed_ok and isinstance(value, dict) and all(k in value for k in keys)))
        else:
            results.append(("json", parsed_ok))
    n_words = len(answer.split())
    n_chars = len(answer)
    for key, value, is_min in (("min_words", n_words, True), ("max_words", n_words, False),
                               ("min_chars", n_chars, True), ("max_chars", n_chars, False)):
        if key in meta:
            limit = _bound(meta, key)
            results.append((key, value >= limit if is_min else value <= limit))
    if "required_words" in meta:
        results.append(("required_words", all(p.search(answer) for p in _words(meta, "required_words"))))
    if "forbidden_words" in meta:
        results.append(("forbidden_words", not any(p.search(answer) for p in _words(meta, "forbidden_words"))))
    for item in meta.get("checks", ()):
        if (not isinstance(item, (list, tuple)) or len(item) != 3 or item[1] not in ("match", "forbid")
                or not all(isinstance(x, str) for x in item)):
            raise ValueError("meta['checks'] items must be [name, 'match' | 'forbid', pattern], got %r" % (item,))
        try:
            found = re.search(item[2], answer) is not None
        except re.error as exc:
            raise ValueError("meta['checks'] %r has an invalid regular expression: %s" % (item[0], exc))
        results.append((item[0], found if item[1] == "match" else not found))
    return results


def score(prompt, response, reference, meta):
    if not any(k in meta for k in _KEYS):
        raise ValueError("meta lists no format constraint; expected any of " + ", ".join(_KEYS))
    mode = meta.get("mode", "fraction")
    if mode not in ("fraction", "all"):
        raise ValueError("meta['mode'] must be 'fraction' or 'all', got %r" % (mode,))
    results = check(response, meta)
    met = sum(1 for _, ok in results if ok)
    if mode == "all":
        return 1.0 if met == len(results) else 0.0
    return met / len(results)


CASES = [
    ("", "Hello world", "", {"regex": r"^Hello"}, 1.0),
    ("", "Hello world", "", {"regex": [r"^Hello", r"planet$"]}, 0.0),
    ("", "Hello world", "", {"forbidden_regex": r"\d"}, 1.0),
    ('', '{"name": "x", "age": 3}', "", {"json_keys": ["name", "age"]}, 1.0),
    ('', 'Sure! ```json\n{"name": "x"}\n```', "", {"json_keys": ["name", "age"]}, 0.0),
    ('', 'Here:\n```json\n{"name": "x", "age": 3}\n```', "", {"json": True}, 1.0),
    ('', '{"name": "x",}', "", {"json": True}, 0.0),
    ("", "one two three", "", {"min_words": 3, "max_words": 3, "max_chars": 5}, 2 / 3),
    ("", "one two three", "", {"min_words": 3, "max_words": 3, "max_chars": 5, "mode": "all"}, 0.0),
    # whole-word, case-insensitive word constraints
    ("", "I love Python and rust.", "", {"required_words": ["python", "Rust"], "forbidden_words": ["java"]}, 1.0),
    ("", "JavaScript is fine", "", {"forbidden_words": ["java"]}, 1.0),
    ("", "I use Java daily", "", {"forbidden_words": ["java"]}, 0.0),
    # <think> structure; other constraints apply to the answer after </think>
    ("", "<think>2 + 2 = 4</think>\nThe answer is 4.", "", {"think": True, "max_words": 4}, 1.0),
    ("", "<think>long reasoning here</think>The answer is 4.", "", {"think": True, "max_words": 3}, 0.5),
    ("", "<think></think>4", "", {"think": True}, 0.0),
    ("", "The answer is 4. <think>late</think>", "", {"think": True}, 0.0),
    ("", "<think>a</think>b<think>c</think>d", "", {"think": True}, 0.0),
    ("", "<think>only thinking</think>", "", {"think": True}, 0.0),
    # named checks count one constraint each
    ("", "hello, world", "", {"checks": [["lowercase", "forbid", "[A-Z]"], ["no_commas", "forbid", ","]]}, 0.5),
    ("", "* a\n* b", "", {"checks": [["bullets", "match", "(?m)^\\* "]], "max_words": 4}, 1.0),
]
