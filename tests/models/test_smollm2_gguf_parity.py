"""Our GGUF reader vs transformers' GGUF reader on the real SmolLM2-135M-Instruct file.

Slow: transformers takes ~35 s to dequantize the file on this machine.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from rlar_jax.models import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(smollm2_gguf):
    ours = load_model(str(smollm2_gguf))
    ref = transformers.AutoModelForCausalLM.from_pretrained(
        smollm2_gguf.parent, gguf_file=smollm2_gguf.name, dtype=torch.float32, attn_implementation="eager").eval()
    return ours, ref


def test_dequantized_weights_equal_transformers(pair):
    ours, ref = pair
    blocks = ours.model.model.blocks
    for layer in (0, 17, 29):
        hf = ref.model.layers[layer]
        # q/k are where llama.cpp permutes rows; an error in undoing it shows here first.
        for mine, theirs in ((blocks.wq, hf.self_attn.q_proj), (blocks.wk, hf.self_attn.k_proj),
                             (blocks.wo, hf.self_attn.o_proj), (blocks.w_down, hf.mlp.down_proj)):
            w = np.asarray(mine[...][layer])
            w = w.reshape(-1, w.shape[-1]).T if mine is blocks.wo else w.reshape(w.shape[0], -1).T
            np.testing.assert_array_equal(w, theirs.weight.detach().numpy())
    np.testing.assert_array_equal(np.asarray(ours.model.model.embed[...]),
                                  ref.model.embed_tokens.weight.detach().numpy())


def test_logits_match_transformers_gguf(pair):
    ours, ref = pair
    text = ours.tokenizer.apply_chat_template([{"role": "user", "content": "Name three colours of the rainbow."}])
    ids = ours.tokenizer.encode(text)
    with torch.no_grad():
        expected = ref(torch.tensor([ids])).logits.numpy()
    got = np.asarray(ours.model(jnp.asarray([ids]))[0])
    # The weights are bit-identical (test above), so only float32 summation order differs over 30 layers;
    # measured max |diff| ~1e-4 against |logits| up to ~40 (relative ~3e-6).
    diff = np.abs(got - expected).max()
    assert diff < 1e-3, diff
    assert diff / np.abs(expected).max() < 3e-5
    assert (got.argmax(-1) == expected.argmax(-1)).all()
