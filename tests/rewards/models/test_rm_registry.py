"""`load_reward_model` for each catalog kind; hf_seq_cls parity with transformers on a tiny Qwen3 reward model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlar_jax.rewards.catalog import CatalogEntry
from rlar_jax.rewards.models.embedding import EmbeddingSimilarity
from rlar_jax.rewards.models.judge import GenerativeJudge
from rlar_jax.rewards.models.registry import load_reward_model
from tests.rewards.models.conftest import save_tiny


def test_hf_seq_cls_matches_transformers(tmp_path):
    import torch
    import transformers

    ckpt = save_tiny("qwen3_seq_cls", tmp_path / "rm")
    entry = CatalogEntry(id="tiny-rm", kind="hf_seq_cls", architecture="qwen3", source=str(ckpt),
                         normalisation={"type": "sigmoid"})
    fn = load_reward_model(entry)
    prompts = ["w5 w6", "w7", "w8 w9 w10 w11 w12 w13", "w14"]
    responses = ["w20", "w21 w22 w23", "w24", "w25 " * 20]
    scores = fn(prompts, responses, [""] * 4, [{}] * 4)
    ref_model = transformers.Qwen3ForSequenceClassification.from_pretrained(ckpt).eval()
    tok = fn.loaded.tokenizer
    expected = []
    for p, r in zip(prompts, responses):
        text = tok.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                       add_generation_prompt=False)
        with torch.no_grad():
            logit = ref_model(torch.tensor([tok.encode(text)])).logits[0, 0].item()
        expected.append(1 / (1 + math.exp(-logit)))
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert np.ptp(scores) > 0.01 and all(0 < s < 1 for s in scores)
    assert math.isnan(fn(["w5", None], ["w6", "w7"], ["", ""], [{}, {}])[1])


def test_hf_seq_cls_needs_one_label(tmp_path):
    import json

    ckpt = save_tiny("qwen3_seq_cls", tmp_path / "rm", num_labels=2)
    # transformers 5 leaves the default 2 labels out of config.json; name them so the config says 2.
    cfg = json.loads((ckpt / "config.json").read_text())
    (ckpt / "config.json").write_text(json.dumps({**cfg, "id2label": {"0": "bad", "1": "good"}}))
    entry = CatalogEntry(id="two", kind="hf_seq_cls", architecture="qwen3", source=str(ckpt))
    with pytest.raises(ValueError, match="num_labels must be 1 for a scalar reward model, got 2"):
        load_reward_model(entry)


def test_builtin_entries_by_id(tiny_lm):
    emb = load_reward_model("minilm-embed-sim")
    assert isinstance(emb, EmbeddingSimilarity)
    s = emb(["q", "q"], ["Paris is the capital of France.", "x"], ["The capital of France is Paris.", ""], [{}, {}])
    assert s[0] > 0.9 and math.isnan(s[1])
    judge = load_reward_model("judge-policy", policy=tiny_lm)
    assert isinstance(judge, GenerativeJudge) and judge.loaded is tiny_lm
    out = judge(["w5"], ["w6"], [""], [{}])
    assert 0.0 <= out[0] <= 1.0


def test_registry_errors(tiny_lm):
    with pytest.raises(KeyError, match="'no-such-rm' is not in the catalog; known: .*minilm-embed-sim"):
        load_reward_model("no-such-rm")
    with pytest.raises(TypeError, match="entry_or_id"):
        load_reward_model(42)
    bad = CatalogEntry(id="j", kind="judge", architecture="decoder", source="policy", normalisation={"type": "exp"})
    with pytest.raises(ValueError, match="normalisation.type"):
        load_reward_model(bad, policy=tiny_lm)
    with pytest.raises(FileNotFoundError, match="BT head file not found"):
        load_reward_model(CatalogEntry(id="b", kind="bt_head", architecture="llama", source="/nonexistent/head"))
