"""The one log-prob path next to the model: positions of left-padded rows, and completion log-probs and
entropy checked against a direct full-vocabulary softmax of the model's logits."""

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlar_jax.models.config import ModelConfig
from rlar_jax.models.logprobs import completion_logprobs, positions_from_mask
from rlar_jax.models.transformer import CausalLM


def test_positions_count_real_tokens_only():
    mask = jnp.asarray([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [0, 0, 0, 0, 1]])
    assert positions_from_mask(mask).tolist() == [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4], [0, 0, 0, 0, 0]]
    assert positions_from_mask(mask).dtype == jnp.int32


def test_completion_logprobs_match_a_direct_softmax_of_the_logits():
    cfg = ModelConfig(arch="llama", vocab_size=61, hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4,
                      num_kv_heads=2, head_dim=8)
    model = CausalLM(cfg, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    tokens = jnp.asarray(rng.integers(1, 61, (3, 11)), jnp.int32)
    mask = jnp.asarray([[1] * 11, [0, 0] + [1] * 9, [0] * 4 + [1] * 7], jnp.int32)
    n, t = 5, 0.7
    logp, ent = completion_logprobs(model, tokens, mask, n, t, chunk=2)  # chunk 2 does not divide 5

    positions = positions_from_mask(mask)
    logits = model(tokens, positions, mask.astype(bool))[0] / t  # full forward, every position at once
    full = jax.nn.log_softmax(logits[:, -n - 1:-1], axis=-1)
    want = np.take_along_axis(np.asarray(full), np.asarray(tokens[:, -n:])[..., None], axis=-1)[..., 0]
    want_ent = -np.sum(np.exp(full) * full, axis=-1)
    assert logp.shape == ent.shape == (3, n)
    np.testing.assert_allclose(np.asarray(logp), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ent), want_ent, rtol=1e-5, atol=1e-5)
    greedy, _ = completion_logprobs(model, tokens, mask, n, 0.0)  # temperature 0 reads as 1
    np.testing.assert_allclose(np.asarray(greedy), np.asarray(completion_logprobs(model, tokens, mask, n, 1.0)[0]))
