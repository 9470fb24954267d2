"""Paired bootstrap gain statistics of held-out scores, against a direct loop and known cases."""

import math

import numpy as np
import pytest

from rlar_jax import stats


def _loop_bootstrap(before, after, n_resamples, rng, confidence=0.95):
    """One resample at a time: the textbook paired bootstrap percentile interval."""
    diff = np.nan_to_num(np.asarray(after, float)) - np.nan_to_num(np.asarray(before, float))
    means = []
    for _ in range(n_resamples):
        idx = rng.integers(0, diff.size, size=diff.size)
        total = 0.0
        for i in idx:
            total += diff[i]
        means.append(total / diff.size)
    a = (1 - confidence) / 2
    return np.quantile(np.asarray(means), [a, 1 - a]), np.asarray(means)


def test_matches_a_direct_loop_with_the_same_seed():
    rng = np.random.default_rng(7)
    before = (rng.random(37) < 0.3).astype(float)
    after = (rng.random(37) < 0.5).astype(float)
    g = stats.paired_bootstrap(before, after, n_resamples=2000, seed=11)
    (low, high), _ = _loop_bootstrap(before, after, 2000, np.random.default_rng(11))
    assert g.n == 37
    assert g.before == pytest.approx(before.mean()) and g.after == pytest.approx(after.mean())
    assert g.gain == pytest.approx(after.mean() - before.mean())
    assert g.relative_gain == pytest.approx((after.mean() - before.mean()) / before.mean())
    assert g.ci_low == pytest.approx(low, abs=1e-12) and g.ci_high == pytest.approx(high, abs=1e-12)
    assert g.ci_low < g.gain < g.ci_high


def test_chunked_draws_are_the_same_stream_as_one_resample_at_a_time(monkeypatch):
    diff = np.random.default_rng(0).normal(size=13)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", 13 * 3)  # 3 resamples per chunk, 100 = 33 chunks + 1
    chunked = stats.bootstrap_means(diff, 100, np.random.default_rng(5))
    _, looped = _loop_bootstrap(np.zeros(13), diff, 100, np.random.default_rng(5))
    np.testing.assert_allclose(chunked, looped, rtol=0, atol=1e-12)


def test_identical_scores_give_zero_gain_and_a_zero_interval():
    scores = np.array([0.0, 1.0, 0.5, 1.0, np.nan])
    g = stats.paired_bootstrap(scores, scores.copy(), n_resamples=500)
    assert (g.gain, g.ci_low, g.ci_high) == (0.0, 0.0, 0.0)
    assert g.before == g.after == pytest.approx(2.5 / 5)  # the NaN counts as 0


def test_a_constant_shift_gives_an_interval_equal_to_the_shift():
    before = np.linspace(0.0, 0.6, 25)
    g = stats.paired_bootstrap(before, before + 0.25, n_resamples=1000, seed=3)
    assert g.gain == pytest.approx(0.25)
    assert g.ci_low == pytest.approx(0.25) and g.ci_high == pytest.approx(0.25)


def test_failed_scores_count_as_zero():
    g = stats.paired_bootstrap([np.nan, 1.0, np.nan, 0.0], [1.0, 1.0, np.nan, np.nan], n_resamples=200)
    assert (g.before, g.after, g.gain) == (0.25, 0.5, 0.25)
    ref = stats.paired_bootstrap([0.0, 1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], n_resamples=200)
    assert (g.ci_low, g.ci_high) == (ref.ci_low, ref.ci_high)


def test_relative_gain_over_a_zero_score_is_nan_and_null_in_json():
    g = stats.paired_bootstrap([0.0, 0.0], [1.0, 0.0], n_resamples=100)
    assert g.gain == 0.5 and math.isnan(g.relative_gain)
    d = g.to_dict()
    assert d["relative_gain"] is None and d["gain"] == 0.5 and d["n"] == 2


def test_unpaired_lengths_are_an_error():
    with pytest.raises(ValueError, match="3 before, 2 after"):
        stats.paired_bootstrap([1, 2, 3], [1, 2])


def test_gain_table_per_task_pooled_overall_and_macro():
    before = np.array([0, 0, 1, 1, 0.2, 0.4, 0.6, 0.8, 0.2, 0.4])
    after = np.array([1, 0, 1, 1, 0.2, 0.4, 0.6, 0.8, 0.2, 0.4]) + np.r_[np.zeros(4), np.full(6, 0.1)]
    tasks = ["math"] * 4 + ["translation"] * 6
    t = stats.gain_table(before, after, tasks, n_resamples=3000, seed=2)
    assert list(t) == ["math", "translation", "overall", "macro"]
    assert t["math"].n == 4 and t["translation"].n == 6 and t["overall"].n == 10
    assert t["math"].gain == pytest.approx(0.25) and t["translation"].gain == pytest.approx(0.1)
    assert t["translation"].ci_low == pytest.approx(0.1) and t["translation"].ci_high == pytest.approx(0.1)
    # overall pools prompts (a task weighs by its size); macro averages the tasks
    assert t["overall"].gain == pytest.approx((0.25 * 4 + 0.1 * 6) / 10)
    assert t["macro"].gain == pytest.approx((0.25 + 0.1) / 2)
    assert t["macro"].before == pytest.approx((before[:4].mean() + before[4:].mean()) / 2)
    # math: one of 4 prompts gains 1, so resampled means are multiples of 1/4 in [0, 1]
    assert t["math"].ci_low == 0.0 and t["math"].ci_high in (0.75, 1.0)
    # the same seed reproduces the draws: per task in task order, then pooled
    rng = np.random.default_rng(2)
    (m_low, m_high), m_means = _loop_bootstrap(before[:4], after[:4], 3000, rng)
    _, t_means = _loop_bootstrap(before[4:], after[4:], 3000, rng)
    (o_low, o_high), _ = _loop_bootstrap(before, after, 3000, rng)
    assert (t["math"].ci_low, t["math"].ci_high) == pytest.approx((m_low, m_high))
    assert (t["overall"].ci_low, t["overall"].ci_high) == pytest.approx((o_low, o_high))
    macro = np.quantile((m_means + t_means) / 2, [0.025, 0.975])
    assert (t["macro"].ci_low, t["macro"].ci_high) == pytest.approx(tuple(macro))


def test_one_task_has_no_macro_row_and_the_table_prints_aligned():
    t = stats.gain_table([0.0, 0.5], [0.5, 0.5], ["code", "code"], n_resamples=50)
    assert list(t) == ["code", "overall"]
    text = stats.format_gain_table(stats.table_to_dict(t))
    lines = text.splitlines()
    assert lines[0].split() == ["task", "n", "before", "after", "gain", "rel.gain", "ci_low", "ci_high"]
    assert lines[2].split()[:6] == ["code", "2", "0.2500", "0.5000", "+0.2500", "+100.0%"]
    assert len({len(line) for line in lines[:4]}) == 1  # header, rule and rows share one width
    zero = stats.format_gain_table({"x": stats.paired_bootstrap([0.0], [1.0], n_resamples=10)})
    assert zero.splitlines()[2].split()[5] == "n/a"
