"""Logits/score parity with transformers' PyTorch models on tiny random checkpoints loaded by our loader."""

from __future__ import annotations

import json

import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import torch
import transformers

from rlar_jax.models import CausalLM, SequenceClassifier, load_hf_dir, load_model
from tests.models.conftest import LLAMA3_ROPE, VOCAB, hf_config, randomize, save_tiny

TOL = 1e-4
CAUSAL = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM,
          "qwen3": transformers.Qwen3ForCausalLM}
SEQ_CLS = {"llama": transformers.LlamaForSequenceClassification,
           "qwen2": transformers.Qwen2ForSequenceClassification,
           "qwen3": transformers.Qwen3ForSequenceClassification}


def _tokens(batch: int = 2, length: int = 24, seed: int = 1) -> np.ndarray:
    # ids >= 3: no pad/bos/eos, so HF's pad-based last-token search and ours agree
    return np.random.default_rng(seed).integers(3, VOCAB, size=(batch, length)).astype(np.int32)


def _hf_logits(model: torch.nn.Module, tokens: np.ndarray, **kw) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(tokens, dtype=torch.long), **kw).logits.float().numpy()


CASES = {
    "llama-llama3-rope": ("llama", dict(rope_scaling=LLAMA3_ROPE, rope_theta=500000.0)),
    "llama-tied": ("llama", dict(tie_word_embeddings=True)),
    "qwen2-bias": ("qwen2", dict()),
    "qwen3-qknorm": ("qwen3", dict()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_causal_lm_logits_match_transformers(case, tmp_path):
    arch, kw = CASES[case]
    hf = randomize(CAUSAL[arch](hf_config(arch, **kw)), seed=len(case))
    path = save_tiny(hf, tmp_path / case)
    loaded = load_hf_dir(path)
    assert isinstance(loaded.model, CausalLM)
    assert loaded.config.arch == arch
    assert loaded.config.tie_word_embeddings == kw.get("tie_word_embeddings", False)
    if "rope_scaling" in kw:
        assert loaded.config.rope_scaling_dict["rope_type"] == "llama3"
        assert loaded.config.rope_theta == 500000.0
    tokens = _tokens(length=40)  # past original_max_position_embeddings=16, so llama3 scaling matters
    ours, _ = loaded.model(jnp.asarray(tokens))
    diff = np.abs(np.asarray(ours) - _hf_logits(hf, tokens)).max()
    assert diff < TOL, f"{case}: max abs logits diff {diff}"
    assert np.abs(np.asarray(ours)).max() > 0.5  # logits are not trivially small


def test_left_padded_batch_matches_transformers(tmp_path):
    hf = randomize(CAUSAL["qwen2"](hf_config("qwen2")), seed=3)
    loaded = load_hf_dir(save_tiny(hf, tmp_path / "ckpt"))
    tokens = _tokens(length=16)
    mask = np.ones_like(tokens)
    mask[0, :5] = 0  # row 0 left-padded by 5
    tokens[0, :5] = 0
    positions = np.maximum(np.cumsum(mask, axis=1) - 1, 0).astype(np.int32)
    ref = _hf_logits(hf, tokens, attention_mask=torch.as_tensor(mask), position_ids=torch.as_tensor(positions,
                                                                                                    dtype=torch.long))
    ours, _ = loaded.model(jnp.asarray(tokens), jnp.asarray(positions), jnp.asarray(mask.astype(bool)))
    real = mask.astype(bool)
    diff = np.abs(np.asarray(ours)[real] - ref[real]).max()
    assert diff < TOL, diff


@pytest.mark.parametrize("arch", sorted(SEQ_CLS))
def test_sequence_classification_scores_match_transformers(arch, tmp_path):
    hf = randomize(SEQ_CLS[arch](hf_config(arch, num_labels=3)), seed=7)
    loaded = load_hf_dir(save_tiny(hf, tmp_path / arch), head="seq_cls")
    assert isinstance(loaded.model, SequenceClassifier)
    assert loaded.config.num_labels == 3
    tokens = _tokens(batch=3, length=12)
    ref = _hf_logits(hf, tokens)
    ours = np.asarray(loaded.model(jnp.asarray(tokens)))
    assert ours.shape == (3, 3)
    diff = np.abs(ours - ref).max()
    assert diff < TOL, f"{arch}: max abs score diff {diff}"
    # Right padding: HF reads the last non-pad token; we read the last slot set in kv_mask.
    padded = tokens.copy()
    padded[1, 8:] = 0
    kv_mask = padded != 0
    ref_pad = _hf_logits(hf, padded)
    ours_pad = np.asarray(loaded.model(jnp.asarray(padded), kv_mask=jnp.asarray(kv_mask)))
    assert np.abs(ours_pad - ref_pad).max() < TOL


def test_sharded_index_checkpoint_loads(tmp_path):
    hf = randomize(CAUSAL["llama"](hf_config("llama")), seed=11)
    path = save_tiny(hf, tmp_path / "sharded", max_shard_size="40KB")
    index = json.loads((path / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 2  # really split over several files
    loaded = load_model(str(path))  # the general entry point dispatches on the directory
    tokens = _tokens()
    diff = np.abs(np.asarray(loaded.model(jnp.asarray(tokens))[0]) - _hf_logits(hf, tokens)).max()
    assert diff < TOL, diff


def test_bfloat16_checkpoint_loads(tmp_path):
    hf = randomize(CAUSAL["qwen3"](hf_config("qwen3")), seed=5).to(torch.bfloat16)
    path = save_tiny(hf, tmp_path / "bf16")
    ref_weight = hf.model.embed_tokens.weight.detach().float().numpy()
    # The reference: the bf16 checkpoint read back in float32 (a fresh model, so the RoPE buffer is float32 too).
    hf = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    tokens = _tokens()
    f32 = load_hf_dir(path, dtype="float32")
    assert f32.model.model.embed[...].dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(f32.model.model.embed[...]), ref_weight)  # bf16 -> f32 is exact
    diff = np.abs(np.asarray(f32.model(jnp.asarray(tokens))[0]) - _hf_logits(hf, tokens)).max()
    assert diff < TOL, diff
    bf16 = load_hf_dir(path, dtype="bfloat16")
    assert bf16.model.model.blocks.wq[...].dtype == jnp.bfloat16
    assert bf16.config.compute_dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(bf16.model.model.embed[...]), ref_weight.astype(ml_dtypes.bfloat16))
