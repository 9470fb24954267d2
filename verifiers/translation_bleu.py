"""Sentence BLEU of a translation against its reference(s), in [0, 1] (sacrebleu's sentence_bleu / 100).

BLEU as sacrebleu 2.x `sentence_bleu` computes it: word n-grams 1..4 after the chosen tokenizer,
effective order, brevity penalty against the closest reference length, smoothing "exp" by default.

meta keys read:
  references     list of extra reference strings (besides `reference`), optional
  tokenize       "13a" (default, mteval-v13a), "zh" (Chinese characters split) or "none"
  lowercase      bool (default False)
  smooth_method  "exp" (default), "floor", "add-k" or "none"
  smooth_value   float for floor (default 0.1) / add-k (default 1)
"""

import math
import re

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("translation",)

MAX_ORDER = 4
_SMOOTH_DEFAULTS = {"none": None, "floor": 0.1, "add-k": 1, "exp": None}

_RE_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]

# Ranges (and their quirks, e.g. the 5-character bounds) exactly as sacrebleu's zh tokenizer has them.
_ZH_RANGES = [
    ("\u3400", "\u4db5"), ("\u4e00", "\u9fa5"), ("\u9fa6", "\u9fbb"), ("\uf900", "\ufa2d"),
    ("\ufa30", "\ufa6a"), ("\ufa70", "\ufad9"), ("\u20000", "\u2a6d6"), ("\u2f800", "\u2fa1d"),
    ("\uff00", "\uffef"), ("\u2e80", "\u2eff"), ("\u3000", "\u303f"), ("\u31c0", "\u31ef"),
    ("\u2f00", "\u2fdf"), ("\u2ff0", "\u2fff"), ("\u3100", "\u312f"), ("\u31a0", "\u31bf"),
    ("\ufe10", "\ufe1f"), ("\ufe30", "\ufe4f"), ("\u2600", "\u26ff"), ("\u2700", "\u27bf"),
    ("\u3200", "\u32ff"), ("\u3300", "\u33ff"),
]


def _post_tokenize(line):
    for pattern, repl in _RE_13A:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def tokenize_13a(line):
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return _post_tokenize(" " + line + " ")


def _is_chinese(ch):
    for start, end in _ZH_RANGES:
        if start <= ch <= end:
            return True
    return False


def tokenize_zh(line):
    out = []
    for ch in line.strip():
        out.append(" " + ch + " " if _is_chinese(ch) else ch)
    return _post_tokenize("".join(out))


_TOKENIZERS = {"13a": tokenize_13a, "zh": tokenize_zh, "none": lambda line: line}


def _ngrams(tokens):
    counts = {}
    for n in range(1, MAX_ORDER + 1):
        for i in range(len(tokens) - n + 1):
            gram = tuple(tokens[i:i + n])
            counts[gram] = counts.get(gram, 0) + 1
    return counts


def _my_log(x):
    return -9999999999 if x == 0.0 else math.log(x)


def bleu(hypothesis, references, tokenize="13a", lowercase=False, smooth_method="exp", smooth_value=None):
    """Sentence BLEU in [0, 1] with sacrebleu's defaults for sentence-level scoring."""
    tok = _TOKENIZERS[tokenize]
    prep = (lambda s: tok(s.lower().rstrip())) if lowercase else (lambda s: tok(s.rstrip()))
    ref_counts = {}
    ref_lens = []
    for ref in references:
        tokens = prep(ref).split()
        ref_lens.append(len(tokens))
        for gram, count in _ngrams(tokens).items():
            if count > ref_counts.get(gram, 0):
                ref_counts[gram] = count
    hyp_tokens = prep(hypothesis).split()
    hyp_len = len(hyp_tokens)
    closest_diff, ref_len = -1, -1
    for length in ref_lens:
        diff = abs(hyp_len - length)
        if closest_diff == -1 or diff < closest_diff:
            closest_diff, ref_len = diff, length
        elif diff == closest_diff and length < ref_len:
            ref_len = length
    correct = [0] * MAX_ORDER
    total = [0] * MAX_ORDER
    for gram, count in _ngrams(hyp_tokens).items():
        n = len(gram) - 1
        total[n] += count
        if gram in ref_counts:
            correct[n] += min(count, ref_counts[gram])
    if smooth_value is None:
        smooth_value = _SMOOTH_DEFAULTS[smooth_method]
    bp = 1.0
    if hyp_len < ref_len:
        bp = math.exp(1 - ref_len / hyp_len) if hyp_len > 0 else 0.0
    if not any(correct):
        return 0.0
    precisions = [0.0] * MAX_ORDER
    smooth_mteval = 1.0
    eff_order = MAX_ORDER
    for n in range(1, MAX_ORDER + 1):
        if smooth_method == "add-k" and n > 1:
            correct[n - 1] += smooth_value
            total[n - 1] += smooth_value
        if total[n - 1] == 0:
            break
        eff_order = n
        if correct[n - 1] == 0:
            if smooth_method == "exp":
                smooth_mteval *= 2
                precisions[n - 1] = 100.0 / (smooth_mteval * total[n - 1])
            elif smooth_method == "floor":
                precisions[n - 1] = 100.0 * smooth_value / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    value = bp * math.exp(sum(_my_log(p) for p in precisions[:eff_order]) / eff_order) / 100.0
    return min(max(value, 0.0), 1.0)


def score(prompt, response, reference, meta):
    refs = [reference]
    extra = meta.get("references", [])
    if not isinstance(extra, list) or not all(isinstance(r, str) for r in extra):
        raise ValueError("meta['references'] must be a list of strings")
    refs.extend(extra)
    tokenize = meta.get("tokenize", "13a")
    if tokenize not in _TOKENIZERS:
        raise ValueError("meta['tokenize'] must be one of %s, got %r" % (sorted(_TOKENIZERS), tokenize))
    smooth = meta.get("smooth_method", "exp")
    if smooth not in _SMOOTH_DEFAULTS:
        raise ValueError("meta['smooth_method'] must be one of %s, got %r" % (sorted(_SMOOTH_DEFAULTS), smooth))
    return bleu(response, refs, tokenize, bool(meta.get("lowercase", False)), smooth, meta.get("smooth_value"))


CASES = [
    ("Translate: The cat sits on the mat.", "The cat sits on the mat.", "The cat sits on the mat.", {}, 1.0),
    ("", "The cat sat on the mat.", "The cat sits on the mat.", {}, 0.4889230224349009),
    ("", "The dog slept in the house.", "The cat sits on the mat.", {}, 0.08643019616048525),
    ("", "", "The cat sits on the mat.", {}, 0.0),
    # tokenisation: punctuation split off, numbers with separators kept together
    ("", "It costs $1,000.50 (approx.)!", "It costs $1,000.50 (approx.)!", {}, 1.0),
    ("", "It costs 1,000.50 dollars.", "It costs $1,000.50 (approx.)!", {}, 0.11415938068117505),
    # brevity penalty on a short but precise hypothesis
    ("", "The cat sits", "The cat sits on the mat.", {}, 0.2635971381157268),
    # several references: n-gram counts are clipped by the max over references
    ("", "A cat is sitting on the mat.", "The cat sits on the mat.", {"references": ["A cat is sitting on a rug."]}, 0.8408964152537145),
    ("", "THE CAT SITS ON THE MAT.", "The cat sits on the mat.", {"lowercase": True}, 1.0),
    ("", "猫坐在垫子上。", "猫坐在垫子上面。", {"tokenize": "zh"}, 0.7289545183625967),
    ("", "The cat sits on the mat.", "The cat sat on a mat.", {"smooth_method": "floor"}, 0.10445522730720383),
    ("", "The cat sits on the mat.", "The cat sat on a mat.", {"smooth_method": "add-k"}, 0.3178289704467185),
]
