"""Bradley-Terry heads: data parsing, training, `rlar-jax train-rm` on a tiny backbone, HH-harmless on SmolLM2."""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import math
import random

import numpy as np
import pytest

from rlar_jax import cli as rlar_cli
from rlar_jax.datasets.text import PreferencePair
from rlar_jax.rewards.catalog import Catalog
from rlar_jax.rewards.models.bt import (FeatureExtractor, chat_messages, load_head, pairs_from_spec,
                                        pairwise_accuracy, train_bt)
from rlar_jax.rewards.models.cli import register, train_reward_model
from rlar_jax.rewards.models.registry import load_reward_model
from tests.rewards.models.conftest import FEATURE_CACHE, HH_HARMLESS, WORDS

HH_ROW = {"chosen": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to pick a lock?\n\nAssistant: I can't help.",
          "rejected": "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to pick a lock?\n\nAssistant: Use a pin."}


def test_pairs_from_spec_hh(tmp_path):
    f = tmp_path / "hh.jsonl.gz"
    other = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: c\n\nAssistant: d"}  # prompts differ
    with gzip.open(f, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in (HH_ROW, other)) + "\n\n")
    [pair] = pairs_from_spec(f"hh:{f}")
    assert isinstance(pair, PreferencePair) and pair.query == "how to pick a lock?"  # the datasets reader's pairs
    assert pair.prompt == "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to pick a lock?"
    assert (pair.chosen, pair.rejected) == ("I can't help.", "Use a pin.")
    assert chat_messages(pair.prompt, pair.chosen) == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how to pick a lock?"}, {"role": "assistant", "content": "I can't help."}]
    assert chat_messages("plain question", "ans") == [{"role": "user", "content": "plain question"},
                                                       {"role": "assistant", "content": "ans"}]


def test_pairs_from_spec_llmbar_and_errors(tmp_path):
    f = tmp_path / "bar.json"
    f.write_text(json.dumps([{"input": "q1", "output_1": "a", "output_2": "b", "label": 2},
                             {"input": "q2", "output_1": "c", "output_2": "d", "label": 1}]))
    pairs = pairs_from_spec(f"llmbar:{tmp_path}")  # a directory of LLMBar files
    assert [(p.prompt, p.chosen, p.rejected) for p in pairs] == [("q1", "b", "a"), ("q2", "c", "d")]
    f.write_text(json.dumps([{"input": "q", "output_1": "a", "output_2": "b", "label": 3}]))
    with pytest.raises(ValueError, match=r"bar.json:1: field 'label' must be 1 or 2"):
        pairs_from_spec(f"llmbar:{f}")
    with pytest.raises(ValueError, match="expected hh:PATH or llmbar:PATH"):
        pairs_from_spec(f"csv:{f}")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        pairs_from_spec(f"llmbar:{tmp_path / 'nope.json'}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"chosen": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: field 'chosen' is not a 'Human: ... Assistant: ...'"):
        pairs_from_spec(f"hh:{bad}")


def test_train_bt_on_separable_features():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=32)
    base = rng.normal(size=(200, 32))
    chosen = base + 0.3 * direction + 0.1 * rng.normal(size=(200, 32))
    rejected = base + 0.1 * rng.normal(size=(200, 32))
    head, losses = train_bt(chosen[:150], rejected[:150], steps=200, l2=1e-3)
    assert losses[-1] < 0.25 * losses[0]
    assert pairwise_accuracy(head, chosen[150:], rejected[150:]) == 1.0
    r = head.reward(np.concatenate([chosen[:150], rejected[:150]]))
    assert abs(float(r.mean())) < 1e-4  # centred: the mean training reward is 0, sigmoid 0.5
    with pytest.raises(ValueError, match="expected two equal"):
        train_bt(chosen[:3], rejected[:4])
    with pytest.raises(ValueError, match="l2: expected >= 0"):
        train_bt(chosen, rejected, l2=-1)


def _synthetic_llmbar(path, n: int, seed: int = 0) -> None:
    """Chosen responses use words from one half of the vocabulary, rejected ones from the other."""
    rng = random.Random(seed)
    good, bad = WORDS[:20], WORDS[20:40]
    rows = []
    for i in range(n):
        q = " ".join(rng.choices(WORDS[40:], k=rng.randint(1, 6)))
        g, b = " ".join(rng.choices(good, k=rng.randint(1, 8))), " ".join(rng.choices(bad, k=rng.randint(1, 8)))
        label = 1 + i % 2
        rows.append({"input": q, "output_1": g if label == 1 else b, "output_2": b if label == 1 else g,
                     "label": label})
    path.write_text(json.dumps(rows))


def test_train_rm_cli_learns_synthetic_preference(tiny_backbone_dir, tmp_path, isolated_home):
    data = tmp_path / "syn.json"
    _synthetic_llmbar(data, 140)
    assert "rlar_jax.rewards.models.cli" in rlar_cli._COMMAND_MODULES
    parser = argparse.ArgumentParser(prog="rlar-jax")  # only this command group: others may be mid-change
    register(parser.add_subparsers(dest="command", required=True))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        args = parser.parse_args(["train-rm", "--data", f"llmbar:{data}", "--backbone", str(tiny_backbone_dir),
                                  "--pairs", "100", "--eval-pairs", "40", "--steps", "200", "--max-len", "64",
                                  "--l2", "0.01", "--name", "syn-rm"])  # separable: little ridge needed
        assert args.func(args) == 0
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (report["train_pairs"], report["eval_pairs"]) == (100, 40)
    assert report["eval_accuracy"] == 1.0 and report["train_accuracy"] == 1.0
    head_dir = isolated_home / "reward_models" / "syn-rm"
    head, meta = load_head(head_dir)
    assert meta["backbone"] == str(tiny_backbone_dir) and head.w.shape == (64,)
    assert any((isolated_home / "features").rglob("*.npy"))  # features were cached
    entry = Catalog().get("syn-rm")  # registered as a JSON file the catalog loads
    assert (entry.kind, entry.tasks, entry.normalisation, entry.source) == (
        "bt_head", ("dialogue",), {"type": "sigmoid"}, str(head_dir))
    fn = load_reward_model("syn-rm")
    scores = fn(["w45 w50", "w41"] * 2, ["w4 w9 w11", "w15", "w30 w25", "w33 w38 w24"], [""] * 4, [{}] * 4)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert min(scores[:2]) > 0.5 > max(scores[2:])
    assert math.isnan(fn(["w45"], [None], [""], [{}])[0])  # a non-string response cannot be scored


def test_train_rm_input_errors(tiny_lm, tmp_path):
    data = tmp_path / "syn.json"
    _synthetic_llmbar(data, 10)
    with pytest.raises(ValueError, match="10 usable pairs; --pairs 8 \\+ --eval-pairs 4 needs 12"):
        train_reward_model([f"llmbar:{data}"], "x", pairs=8, eval_pairs=4, loaded=tiny_lm)
    with pytest.raises(ValueError, match="--name"):
        train_reward_model([f"llmbar:{data}"], "../escape", loaded=tiny_lm)


def test_feature_cache_reuses_features(tiny_lm, tmp_path):
    fx = FeatureExtractor(tiny_lm, max_len=16, cache_dir=tmp_path)
    a = fx(["w5 w6", "w7"], ["w8", "w9 " * 30])  # the second is cut to its last 16 tokens
    assert len(list(tmp_path.rglob("*.npy"))) == 2
    b = FeatureExtractor(tiny_lm, max_len=16, cache_dir=tmp_path)(["w5 w6", "w7"], ["w8", "w9 " * 30])
    np.testing.assert_array_equal(a, b)
    fresh = FeatureExtractor(tiny_lm, max_len=16)(["w5 w6", "w7"], ["w8", "w9 " * 30])
    np.testing.assert_allclose(a, fresh, atol=1e-6)
    assert not math.isclose(float(a[0, 0]), float(a[1, 0]))


@pytest.mark.slow
def test_hh_harmless_bt_head_beats_chance(smol, isolated_home):
    # 400 held-out pairs: under chance (p = 0.5) accuracy >= 0.56 has probability < 0.01 (z = 2.4).
    report = train_reward_model([f"hh:{HH_HARMLESS}"], "hh-harmless-135m", backbone="smollm2-135m-instruct",
                                pairs=300, eval_pairs=400, steps=300, max_len=128, loaded=smol,
                                feature_cache=FEATURE_CACHE)
    print(f"HH-harmless BT head: held-out accuracy {report['eval_accuracy']:.3f} on {report['eval_pairs']} pairs "
          f"(train {report['train_accuracy']:.3f}, features {report['feature_seconds']} s, "
          f"total {report['total_seconds']} s)")
    assert report["eval_accuracy"] >= 0.56


def _hidden(lm, text: str) -> np.ndarray:
    """Final hidden states [T, D] of one text, computed directly with the backbone."""
    import jax.numpy as jnp

    ids = jnp.asarray([lm.tokenizer.encode(text)], jnp.int32)
    pos = jnp.arange(ids.shape[1], dtype=jnp.int32)[None]
    h, _ = lm.model.model(ids, pos, jnp.ones(ids.shape, bool))
    return np.asarray(h[0], np.float32)


def test_feature_pooling_mean_over_response_tokens_and_last(tiny_lm):
    prompt, response = "\n\nHuman: w5 w6\n\nAssistant: w7\n\nHuman: w8 w9", "w10 w11 w12"
    mean_fx = FeatureExtractor(tiny_lm, max_len=256)
    text = mean_fx.render(prompt, response)
    n_reply = len(tiny_lm.tokenizer.encode(text)) - len(tiny_lm.tokenizer.encode(mean_fx._prefix(prompt)))
    assert n_reply >= 3  # the reply's tokens and its end-of-turn marker
    h = _hidden(tiny_lm, text)
    # padded to a batch with a longer row: pads and the other row must not leak into the pooled features
    got = mean_fx([prompt, prompt], [response, response + " w13" * 20])
    np.testing.assert_allclose(got[0], h[-n_reply:].mean(0), atol=2e-5)
    last = FeatureExtractor(tiny_lm, max_len=256, pooling="last")([prompt], [response])
    np.testing.assert_allclose(last[0], h[-1], atol=2e-5)
    assert not np.allclose(got[0], last[0], atol=1e-3)
    with pytest.raises(ValueError, match=r"pooling: expected one of \['mean', 'last'\], got 'max'"):
        FeatureExtractor(tiny_lm, pooling="max")


def test_load_head_pooling_default_and_error(tmp_path):
    from rlar_jax.rewards.models.bt import BTHead, save_head

    head = BTHead(np.ones(4, np.float32), 0.0, np.zeros(4, np.float32), np.ones(4, np.float32))
    save_head(tmp_path / "old", head, {"backbone": "b", "max_len": 8})  # saved before pooling was recorded
    assert load_head(tmp_path / "old")[1]["pooling"] == "last"
    save_head(tmp_path / "bad", head, {"backbone": "b", "max_len": 8, "pooling": "cls"})
    with pytest.raises(ValueError, match=r"bad/head.json: pooling: expected one of \['mean', 'last'\], got 'cls'"):
        load_head(tmp_path / "bad")
