"""Flax BERT / all-MiniLM-L6-v2: parity with sentence-transformers and transformers, checkpoint errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from rlar_jax.models.assemble import CheckpointError
from rlar_jax.rewards.models.bert import load_bert, minilm_dir

SENTENCES = [
    "The cat sat on the mat.", "A man is playing a guitar on stage.", "What is 2+2?", "4", "",
    "Quantum entanglement links the states of two particles.", "I love pizza!!!",
    "Zürich, 東京 and emoji 🎉 in one line", "def f(x):\n    return x ** 2  # square",
    "Bonjour, comment allez-vous ?", "The stock market fell sharply on Monday after the report.",
    "   leading spaces\tand tabs\n\nand blank lines   ", "UPPERCASE TEXT SHOULD BE LOWERCASED BY THE TOKENIZER",
    "1234567890 3.14159 -42 1e10", "The quick brown fox jumps over the lazy dog. " * 60,  # > 256 word pieces
    "Photosynthesis converts light energy into chemical energy.", "Refund my order #A-1932, it arrived broken.",
    "¿Dónde está la biblioteca?", "a", "Thanks, that answers my question about sorting algorithms.",
]


def test_minilm_matches_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(minilm_dir()), device="cpu")
    assert st.max_seq_length == minilm.max_seq_length == 256
    ref = st.encode(SENTENCES, batch_size=8, convert_to_numpy=True)
    ours = minilm.encode(SENTENCES)
    cos = np.sum(ours * ref, -1) / (np.linalg.norm(ours, axis=-1) * np.linalg.norm(ref, axis=-1))
    max_abs = float(np.abs(ours - ref).max())
    print(f"MiniLM parity: min cosine {cos.min():.7f}, max abs diff {max_abs:.2e} over {len(SENTENCES)} sentences")
    assert cos.min() > 0.999
    assert max_abs < 1e-4
    np.testing.assert_allclose(np.linalg.norm(ours, axis=-1), 1.0, atol=1e-5)


def test_encoding_independent_of_batch_and_padding(minilm):
    batched = minilm.encode(SENTENCES)
    single = np.stack([minilm.encode([s])[0] for s in SENTENCES[:6]])
    np.testing.assert_allclose(single, batched[:6], atol=1e-5)


def test_truncation_to_max_seq_length(minilm):
    head = "word " * 400
    a, b = minilm.encode([head + "cats and dogs", head + "completely different ending"])
    assert minilm.tokenizer.encode(head).ids.__len__() == 256  # [CLS] + 254 pieces + [SEP]
    np.testing.assert_allclose(a, b, atol=1e-6)  # the differing tails lie beyond the 256-token window


def _tiny_bert(tmp_path):
    import torch
    import transformers

    cfg = transformers.BertConfig(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=48, max_position_embeddings=64)
    torch.manual_seed(0)
    model = transformers.BertModel(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1.0 + 0.1 * torch.randn_like(p) if "LayerNorm.weight" in name else 0.3 * torch.randn_like(p))
    model.eval().save_pretrained(tmp_path, safe_serialization=True)
    return model


def test_tiny_bert_matches_transformers(tmp_path):
    import jax.numpy as jnp
    import torch

    ref_model = _tiny_bert(tmp_path)
    ours = load_bert(tmp_path)
    ids = np.array([[2, 7, 9, 11, 3, 0, 0], [2, 5, 6, 8, 10, 12, 3]], np.int32)
    mask = (np.arange(7)[None] < np.array([[5], [7]])).astype(np.int32)
    tt = np.array([[0, 0, 0, 1, 1, 0, 0], [0] * 7], np.int32)
    with torch.no_grad():
        ref = ref_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                        token_type_ids=torch.tensor(tt, dtype=torch.long))
    h = ours(jnp.asarray(ids), jnp.asarray(mask), jnp.asarray(tt))
    real = mask.astype(bool)
    np.testing.assert_allclose(np.asarray(h)[real], ref.last_hidden_state.numpy()[real], atol=2e-5)
    np.testing.assert_allclose(np.asarray(ours.pooled(h)), ref.pooler_output.numpy(), atol=2e-5)


def test_checkpoint_key_errors_list_missing_and_unexpected(tmp_path):
    _tiny_bert(tmp_path)
    f = tmp_path / "model.safetensors"
    tensors = load_file(str(f))
    del tensors["encoder.layer.1.output.dense.bias"]
    tensors["encoder.layer.1.extra.weight"] = np.zeros(3, np.float32)
    save_file(tensors, str(f))
    with pytest.raises(CheckpointError) as e:
        load_bert(tmp_path)
    assert "missing keys ['encoder.layer.1.output.dense.bias']" in str(e.value)
    assert "unexpected keys ['encoder.layer.1.extra.weight']" in str(e.value)


def test_checkpoint_shape_and_config_errors(tmp_path):
    _tiny_bert(tmp_path)
    f = tmp_path / "model.safetensors"
    tensors = load_file(str(f))
    tensors["encoder.layer.0.intermediate.dense.weight"] = np.zeros((47, 32), np.float32)
    save_file(tensors, str(f))
    with pytest.raises(CheckpointError, match=r"encoder.layer.0.intermediate.dense.weight.*\(47, 32\).*\(48, 32\)"):
        load_bert(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "model_type": "roberta"}))
    with pytest.raises(ValueError, match="model_type must be 'bert'"):
        load_bert(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_bert(tmp_path / "nowhere")
