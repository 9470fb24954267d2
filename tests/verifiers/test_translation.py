"""translation_chrf / translation_bleu match sacrebleu (run on the host) on WMT22 lines to 1e-6 relative."""

from __future__ import annotations

import random

import pytest
import sacrebleu

from rlar_jax.sandbox import load_verifier

from rlar_jax.datasets.readers import read_text

from .conftest import DATA

PAIRS = {"en-de": "de", "de-en": "en", "en-zh": "zh"}


def _hypotheses(refs: list[str], rng: random.Random) -> list[str]:
    """Plausible system outputs: exact copies, word drops/swaps, a different line, empty, case changes."""
    hyps = []
    for i, ref in enumerate(refs):
        words = ref.split()
        kind = i % 5
        if kind == 0:
            hyps.append(ref)
        elif kind == 1 and len(words) > 3:
            drop = rng.randrange(len(words))
            hyps.append(" ".join(words[:drop] + words[drop + 1:]))
        elif kind == 2 and len(words) > 3:
            j = rng.randrange(len(words) - 1)
            words[j], words[j + 1] = words[j + 1], words[j]
            hyps.append(" ".join(words))
        elif kind == 3:
            hyps.append(refs[(i + 7) % len(refs)])
        else:
            hyps.append(ref.upper() if i % 2 else ref[: len(ref) // 2])
    return hyps


def _sample(pair: str, n: int = 40) -> tuple[list[str], list[str]]:
    src_lang, tgt = pair.split("-")
    lines = read_text(DATA / "wmt22" / f"generaltest2022.{pair}.ref.A.{tgt}.gz").splitlines()
    rng = random.Random(pair)
    refs = [line for line in rng.sample(lines, n)] + [""]
    return refs, _hypotheses(refs[:-1], rng) + ["something"]


def _close(ours: float, theirs: float) -> bool:
    return abs(ours - theirs) <= 1e-6 * max(abs(theirs), 1e-12) or abs(ours - theirs) <= 1e-12


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_chrf_matches_sacrebleu(sandbox, pair):
    refs, hyps = _sample(pair)
    results = sandbox.score_batch(load_verifier("translation_chrf"),
                                  [dict(prompt="", response=h, reference=r) for h, r in zip(hyps, refs)])
    for h, r, res in zip(hyps, refs, results):
        expected = sacrebleu.sentence_chrf(h, [r]).score / 100
        assert res.error_kind is None and _close(res.score, expected), (h, r, res.score, expected)


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_bleu_matches_sacrebleu(sandbox, pair):
    refs, hyps = _sample(pair)
    tokenize = "zh" if PAIRS[pair] == "zh" else "13a"
    results = sandbox.score_batch(load_verifier("translation_bleu"),
                                  [dict(prompt="", response=h, reference=r, meta={"tokenize": tokenize})
                                   for h, r in zip(hyps, refs)])
    for h, r, res in zip(hyps, refs, results):
        expected = min(sacrebleu.sentence_bleu(h, [r], tokenize=tokenize).score / 100, 1.0)
        assert res.error_kind is None and _close(res.score, expected), (h, r, res.score, expected)


def test_multiple_references_and_options_match_sacrebleu(sandbox):
    refs, hyps = _sample("en-de", 12)
    bleu = load_verifier("translation_bleu")
    chrf = load_verifier("translation_chrf")
    for i in range(10):
        others = [refs[(i + 1) % 10], refs[(i + 2) % 10]]
        meta = {"references": others, "lowercase": True, "smooth_method": "floor"}
        ours = sandbox.score(bleu, "", hyps[i], refs[i], meta).score
        theirs = sacrebleu.sentence_bleu(hyps[i], [refs[i]] + others, lowercase=True, smooth_method="floor").score / 100
        assert _close(ours, min(theirs, 1.0))
        ours = sandbox.score(chrf, "", hyps[i], refs[i], {"references": others}).score
        assert _close(ours, sacrebleu.sentence_chrf(hyps[i], [refs[i]] + others).score / 100)
