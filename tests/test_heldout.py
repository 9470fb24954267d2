"""Held-out scores in the trainer: per-task metrics, the periodic slice, batching and the gain report."""

import math

import numpy as np
import pytest

from rlar_jax.datasets.examples import Example, chat
from rlar_jax.heldout import HeldOutScores, eval_slice, format_report, gain_report, score_prompts


def _examples(tasks):
    return [Example(chat(f"q{i}"), "", t, uid=f"src:{i}") for i, t in enumerate(tasks)]


def test_metrics_count_failures_as_zero_overall_and_per_task():
    s = HeldOutScores(["a", "b", "c", "d"], ["math", "math", "code", "code"], np.array([1.0, np.nan, 0.5, 1.0]))
    m = s.metrics()
    assert m == {"eval/reward_mean": 2.5 / 4, "eval/accuracy": 0.5, "eval/n": 4, "eval/failed": 1,
                 "eval/task/math/reward_mean": 0.5, "eval/task/math/accuracy": 0.5, "eval/task/math/n": 2,
                 "eval/task/math/failed": 1,
                 "eval/task/code/reward_mean": 0.75, "eval/task/code/accuracy": 0.5, "eval/task/code/n": 2,
                 "eval/task/code/failed": 0}


def test_scores_round_trip_through_json_with_failures_as_null():
    s = HeldOutScores(["a", "b"], ["math", "code"], np.array([0.25, np.nan]))
    d = s.to_json()
    assert d == {"uid": ["a", "b"], "task": ["math", "code"], "score": [0.25, None]}
    back = HeldOutScores.from_json(d)
    assert back.uids == s.uids and back.tasks == s.tasks and back.scores[0] == 0.25 and math.isnan(back.scores[1])
    assert back.matches([Example(chat("x"), "", "math", uid="a"), Example(chat("y"), "", "code", uid="b")])
    assert not back.matches([Example(chat("x"), "", "math", uid="a")])


def test_eval_slice_takes_the_first_prompts_of_each_task():
    tasks = ["math"] * 5 + ["code"] * 5 + ["dialogue"] * 2
    assert eval_slice(tasks, 6) == [0, 1, 5, 6, 10, 11]
    # 7 = 3 + 2 + 2: the first task takes the remainder
    assert eval_slice(tasks, 7) == [0, 1, 2, 5, 6, 10, 11]
    # a short task gives what it has
    assert eval_slice(tasks, 9) == [0, 1, 2, 5, 6, 7, 10, 11]
    assert eval_slice(tasks, 0) == list(range(12)) and eval_slice(tasks, 50) == list(range(12))


def test_score_prompts_keeps_example_order_across_padded_batches():
    examples = _examples(["math"] * 5 + ["code"] * 2)
    calls = []

    def respond(chunk):
        calls.append([e.uid for e in chunk])
        return [e.query for e in chunk]

    def score(chunk, texts):
        assert [e.query for e in chunk] == texts
        return np.array([np.nan if e.uid == "src:3" else int(e.uid.split(":")[1]) / 10 for e in chunk])

    s = score_prompts(examples, respond, score, batch=3, length=None)
    assert calls == [["src:0", "src:1", "src:2"], ["src:3", "src:4", "src:5"], ["src:6"]]
    assert s.uids == [e.uid for e in examples] and s.tasks == ["math"] * 5 + ["code"] * 2
    np.testing.assert_allclose(s.scores, [0.0, 0.1, 0.2, np.nan, 0.4, 0.5, 0.6], rtol=1e-6)


def test_score_prompts_batches_by_length_and_returns_example_order():
    lengths = [30, 5, 18, 2, 40, 11, 7]
    examples = [Example(messages=({"role": "user", "content": "x" * n},), reference="", task="t", uid=f"src:{i}")
                for i, n in enumerate(lengths)]
    calls = []

    def respond(chunk):
        calls.append([len(e.query) for e in chunk])
        return [e.query for e in chunk]

    s = score_prompts(examples, respond, lambda chunk, texts: np.array([len(t) for t in texts], float), batch=3)
    assert calls == [[2, 5, 7], [11, 18, 30], [40]]  # shortest first
    assert s.uids == [e.uid for e in examples]
    np.testing.assert_array_equal(s.scores, lengths)


def test_gain_report_needs_the_same_prompts():
    before = HeldOutScores(["a", "b", "c"], ["math", "math", "code"], np.array([0.0, 1.0, 0.5]))
    after = HeldOutScores(["a", "b", "c"], ["math", "math", "code"], np.array([1.0, 1.0, np.nan]))
    r = gain_report(before, after, seed=1)
    assert (r["confidence"], r["resamples"], r["seed"]) == (0.95, 10000, 1)
    assert list(r["rows"]) == ["math", "code", "overall", "macro"]
    assert r["rows"]["math"]["gain"] == 0.5 and r["rows"]["code"]["gain"] == -0.5
    # pooled: (2 - 1.5) / 3; macro: the mean of +0.5 and -0.5
    assert r["rows"]["overall"]["gain"] == pytest.approx(1 / 6) and r["rows"]["overall"]["n"] == 3
    assert r["rows"]["macro"]["gain"] == pytest.approx(0.0)
    assert format_report(r).splitlines()[2].split()[:5] == ["math", "2", "0.5000", "1.0000", "+0.5000"]
    with pytest.raises(ValueError, match="different prompts"):
        gain_report(before, HeldOutScores(["a", "b", "x"], before.tasks, after.scores))
