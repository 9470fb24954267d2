"""Embedding-similarity reward: mapping, NaN without a reference, semantic ordering; normalisation specs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlar_jax.rewards.models.embedding import EmbeddingSimilarity, normalise


def test_embedding_similarity_scores(minilm):
    fn = EmbeddingSimilarity(minilm)
    ref = "The cat sat on the mat."
    responses = [ref, "A cat is sitting on a mat.", "Stock markets fell sharply today.", "anything", "x"]
    refs = [ref, ref, ref, "", "   "]
    s = fn(["q"] * 5, responses, refs, [{}] * 5)
    assert s[0] == pytest.approx(1.0, abs=1e-5)
    assert s[1] > s[2] + 0.2  # a paraphrase is much closer than an unrelated sentence
    assert math.isnan(s[3]) and math.isnan(s[4])  # no reference, nothing to compare with
    a, b, c = minilm.encode([responses[1], ref, responses[2]])
    assert s[1] == pytest.approx((float(a @ b) + 1) / 2, abs=1e-6)
    assert s[2] == pytest.approx((float(c @ b) + 1) / 2, abs=1e-6)
    assert all(0.0 <= x <= 1.0 for x in s[:3])


def test_embedding_similarity_checks_lengths(minilm):
    with pytest.raises(ValueError, match="references: got 1 items for 2 responses"):
        EmbeddingSimilarity(minilm)(["a", "b"], ["a", "b"], ["a"], [{}, {}])
    assert EmbeddingSimilarity(minilm)([], [], [], []) == []
    assert math.isnan(EmbeddingSimilarity(minilm)(["q"], [None], ["ref"], [{}])[0])


def test_normalise_specs():
    x = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.nan])
    np.testing.assert_allclose(normalise(x, {"type": "sigmoid"})[:6], 1 / (1 + np.exp(-x[:6])))
    np.testing.assert_allclose(normalise(x, {"type": "minmax", "min": -1, "max": 1})[:6],
                               [0.0, 0.0, 0.5, 0.75, 1.0, 1.0])
    np.testing.assert_allclose(normalise(x, {"type": "clip"})[:6], [0, 0, 0, 0.5, 1, 1])
    np.testing.assert_allclose(normalise(np.array([2.0]), {"type": "sigmoid", "scale": 2, "shift": 1}),
                               [1 / (1 + np.exp(-2.0))])
    assert np.isnan(normalise(x, {"type": "sigmoid"})[6])
    with pytest.raises(ValueError, match="normalisation.type"):
        normalise(x, {"type": "softmax"})
    with pytest.raises(ValueError, match="max > min"):
        normalise(x, {"type": "minmax", "min": 1, "max": 1})
