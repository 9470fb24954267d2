"""Sentence chrF2 of a translation against its reference(s), in [0, 1] (sacrebleu's chrF / 100).

chrF as sacrebleu 2.x computes it by default: character n-grams of orders 1..6 with whitespace
removed, no word n-grams, beta = 2, effective-order averaging of precision and recall (no epsilon
smoothing); with several references the best-scoring one counts.

meta keys read:
  references  list of extra reference strings (besides `reference`), optional
  lowercase   bool, compare case-insensitively (default False)
"""

# The task families this verifier scores ("*": all), those it is the seed verifier of (DEFAULT_FOR) and
# those whose held-out metric it is (EVAL_FOR); the host reads them with ast, never running this file.
FAMILIES = ("translation",)
DEFAULT_FOR = ("translation",)
EVAL_FOR = ("translation",)

CHAR_ORDER = 6
BETA = 2


def _char_ngrams(text, order):
    line = "".join(text.split())
    counters = []
    for n in range(1, order + 1):
        counts = {}
        for i in range(len(line) - n + 1):
            gram = line[i:i + n]
            counts[gram] = counts.get(gram, 0) + 1
        counters.append(counts)
    return counters


def _stats(hyp_grams, ref_grams):
    stats = []
    for hyp, ref in zip(hyp_grams, ref_grams):
        match = 0
        total = 0
        for gram, count in hyp.items():
            total += count
            other = ref.get(gram)
            if other:
                match += count if count < other else other
        stats.append((total if ref else 0, sum(ref.values()), match))
    return stats


def _f_score(stats):
    factor = BETA ** 2
    avg_prec = avg_rec = 0.0
    effective = 0
    for n_hyp, n_ref, n_match in stats:
        if n_hyp > 0 and n_ref > 0:
            avg_prec += n_match / n_hyp
            avg_rec += n_match / n_ref
            effective += 1
    if effective == 0:
        return 0.0
    avg_prec /= effective
    avg_rec /= effective
    if avg_prec + avg_rec == 0:
        return 0.0
    return (1 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec)


def chrf(hypothesis, references, lowercase=False):
    """Sentence chrF in [0, 1] of `hypothesis` against the best of `references`."""
    if lowercase:
        hypothesis = hypothesis.lower()
        references = [r.lower() for r in references]
    hyp_grams = _char_ngrams(hypothesis, CHAR_ORDER)
    best = -1.0
    for ref in references:
        score = _f_score(_stats(hyp_grams, _char_ngrams(ref, CHAR_ORDER)))
        if score > best:
            best = score
    return max(best, 0.0)


def score(prompt, response, reference, meta):
    refs = [reference]
    extra = meta.get("references", [])
    if not isinstance(extra, list) or not all(isinstance(r, str) for r in extra):
        raise ValueError("meta['references'] must be a list of strings")
    refs.extend(extra)
    return chrf(response, refs, bool(meta.get("lowercase", False)))


CASES = [
    ("Translate to German: The cat sits on the mat.", "Die Katze sitzt auf der Matte.",
     "Die Katze sitzt auf der Matte.", {}, 1.0),
    ("Translate to German: The cat sits on the mat.", "Der Hund schläft im Haus.",
     "Die Katze sitzt auf der Matte.", {}, 0.09012550174405355),
    ("Translate to German: The cat sits on the mat.", "Die Katze sitzt auf dem Teppich.",
     "Die Katze sitzt auf der Matte.", {}, 0.6881690690461397),
    # empty hypothesis and whitespace-only differences
    ("", "", "Die Katze sitzt auf der Matte.", {}, 0.0),
    ("", "Die  Katze sitzt\tauf der Matte .", "Die Katze sitzt auf der Matte.", {}, 1.0),
    # case matters unless lowercase is set
    ("", "DIE KATZE SITZT AUF DER MATTE.", "Die Katze sitzt auf der Matte.", {}, 0.02666666666666667),
    ("", "DIE KATZE SITZT AUF DER MATTE.", "Die Katze sitzt auf der Matte.", {"lowercase": True}, 1.0),
    # several references: the best one counts
    ("", "Die Katze liegt auf dem Teppich.", "Die Katze sitzt auf der Matte.",
     {"references": ["Die Katze liegt auf dem Teppich."]}, 1.0),
    # CJK text: characters are the n-gram units
    ("", "猫坐在垫子上。", "猫坐在垫子上面。", {}, 0.6390588459237505),
    # a hypothesis shorter than the highest order
    ("", "Ja", "Ja, natürlich.", {}, 0.14396887159533073),
]
