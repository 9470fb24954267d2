"""Generative judge: exact p(yes)/(p(yes)+p(no)) under left padding; behaviour on the real SmolLM2."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from rlar_jax.rewards.models.judge import GenerativeJudge

EASY = [("What is 2+2?", "4", "7"), ("What is the capital of France?", "Paris", "Berlin"),
        ("What color is the sky on a clear day?", "Blue", "Green"),
        ("How many legs does a dog have?", "Four", "Eleven"),
        ("What is 10 minus 3?", "7", "12"), ("Is water wet?", "Yes, water is wet.", "No, water is made of fire."),
        ("Translate 'hello' to French.", "Bonjour", "Gracias"), ("What is the opposite of hot?", "Cold", "Purple")]


def _unpadded_score(judge: GenerativeJudge, text: str) -> float:
    ids = judge.loaded.tokenizer.encode(text)
    logits, _ = judge.loaded.model(jnp.asarray([ids], jnp.int32))
    p = np.asarray(jax.nn.softmax(logits[0, -1]), np.float64)
    py, pn = p[judge.yes_ids].sum(), p[judge.no_ids].sum()
    return py / (py + pn)


def test_judge_matches_unpadded_forward(tiny_lm):
    judge = GenerativeJudge(tiny_lm, batch_size=4)
    tok = tiny_lm.tokenizer
    assert sorted(judge.yes_ids) == sorted({tok.encode("yes")[0], tok.encode("Yes")[0]})
    prompts = ["w5", "w6 w7 w8 w9 w10 w11 w12", "w13 w14", "w15 " * 30, "w16 w17 w18"]
    responses = ["w20 w21", "w22", "w23 w24 w25 w26", "w27", "w28 " * 12]
    refs = ["", "w30 w31", "", "", ""]
    scores = judge(prompts, responses, refs, [{}] * 5)  # 5 rows: two batches, mixed widths, filler rows
    expected = [_unpadded_score(judge, judge.prompt_text(p, r, x)) for p, r, x in zip(prompts, responses, refs)]
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert len(set(np.round(scores, 4))) == 5  # the inputs do change the answer
    assert "w30 w31" in judge.prompt_text(prompts[1], responses[1], refs[1])


def test_judge_input_checks(tiny_lm):
    judge = GenerativeJudge(tiny_lm)
    with pytest.raises(ValueError, match="prompts: got 1 items for 2 responses"):
        judge(["a"], ["a", "b"], ["", ""], [{}, {}])
    out = judge(["w5", None], ["w6", "w7"], ["", ""], [{}, {}])
    assert 0.0 <= out[0] <= 1.0 and np.isnan(out[1])
    with pytest.raises(TypeError, match="causal LM"):
        from rlar_jax.models.loader import LoadedModel

        GenerativeJudge(LoadedModel(object(), tiny_lm.config, tiny_lm.tokenizer, tiny_lm.source))


@pytest.mark.slow
def test_smollm2_judge(smol):
    judge = GenerativeJudge(smol, batch_size=8)
    prompts = [q for q, _, _ in EASY] * 2
    responses = [good for _, good, _ in EASY] + [bad for _, _, bad in EASY]
    scores = np.array(judge(prompts, responses, [""] * len(prompts), [{}] * len(prompts)))
    n = len(EASY)
    wins = int(np.sum(scores[:n] > scores[n:]))
    # Measured: 4 of the 8 easy pairs, chance. This is why the catalog's evidence keeps the 135M judge
    # out of instruction plans; a change here means the judge's numerics changed, so re-measure that.
    assert wins == 4, (wins, np.round(scores[:n], 3), np.round(scores[n:], 3))
    assert np.all((scores >= 0) & (scores <= 1))
    # Batching and left padding change nothing: one row alone gives the same score.
    alone = judge([prompts[5]], [responses[5]], [""], [{}])[0]
    assert alone == pytest.approx(scores[5], abs=1e-4)
    # The rubric does make the model answer yes/no: most next-token mass is on those words for some rows.
    ly, ln = judge.log_probs([judge.prompt_text(p, r) for p, r in zip(prompts, responses)])
    mass = np.exp(np.logaddexp(ly, ln))
    assert mass.mean() == pytest.approx(0.282, abs=0.01)  # measured 0.282
