"""The transformer's training-time options (rlar_jax/models/transformer.py): `model.frozen_layers` keeps
the forward pass, gives the lowest layers no gradient (the others the full model's), leaves them unchanged
through an optimizer update, and rejects settings it cannot honour."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"
TOKENS = jnp.asarray(np.random.default_rng(3).integers(0, 259, size=(2, 12)).astype(np.int32))


def _model(overrides: list[str] = ()):
    from rlar_jax.config import load_config
    from rlar_jax.policy import build_policy

    return build_policy(load_config(TINY, list(overrides)).model, None).model


def _loss_and_grads(model):
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def loss(p):
        logits, _ = nnx.merge(graphdef, p, rest)(TOKENS)
        return jnp.mean(jax.nn.log_softmax(logits)[..., 5])

    return jax.value_and_grad(loss)(params)


def test_frozen_layers_keep_the_forward_pass_and_the_upper_gradients():
    full = _model()
    frozen = _model(["model.frozen_layers=1"])
    assert frozen.cfg.frozen_layers == 1 and frozen.cfg.num_layers == 2
    l_full, g_full = _loss_and_grads(full)
    l_frozen, g_frozen = _loss_and_grads(frozen)
    np.testing.assert_allclose(float(l_frozen), float(l_full), rtol=1e-6)
    blocks_full, blocks_frozen = g_full["model"]["blocks"], g_frozen["model"]["blocks"]
    for name in ("wq", "wk", "wv", "wo", "w_gate", "w_up", "w_down", "attn_norm", "mlp_norm"):
        gf, gz = np.asarray(blocks_full[name][...]), np.asarray(blocks_frozen[name][...])
        assert np.abs(gf[0]).max() > 0, name  # the lowest layer does learn in a full fine-tune...
        np.testing.assert_array_equal(gz[0], 0.0, err_msg=name)  # ...and gets nothing when frozen
        np.testing.assert_allclose(gz[1], gf[1], rtol=2e-5, atol=1e-8, err_msg=name)
    # The tied embedding still learns through the output projection, not through the frozen input path.
    emb_full = np.asarray(g_full["model"]["embed"][...])
    emb_frozen = np.asarray(g_frozen["model"]["embed"][...])
    assert np.abs(emb_frozen).max() > 0
    rows = np.unique(np.asarray(TOKENS))
    assert not np.allclose(emb_frozen[rows], emb_full[rows])


def test_an_update_leaves_the_frozen_layers_unchanged():
    from rlar_jax.grpo import make_optimizer

    model = _model(["model.frozen_layers=1"])
    _, grads = _loss_and_grads(model)
    params = nnx.state(model, nnx.Param)
    tx = make_optimizer(1e-2, 0, 10)
    updates, _ = tx.update(grads, tx.init(params), params)
    new = jax.tree.map(lambda p, u: p + u, params, updates)
    before, after = params["model"]["blocks"]["w_up"][...], new["model"]["blocks"]["w_up"][...]
    np.testing.assert_array_equal(np.asarray(after[0]), np.asarray(before[0]))
    assert np.abs(np.asarray(after[1]) - np.asarray(before[1])).max() > 1e-4


def test_frozen_layers_settings_that_cannot_work_are_refused():
    from rlar_jax.config import load_config
    from rlar_jax.policy import build_policy

    with pytest.raises(ValueError, match=r"frozen_layers must be an int >= 0, got -1"):
        load_config(TINY, ["model.frozen_layers=-1"])
    with pytest.raises(ValueError, match=r"model\.frozen_layers \(1\) needs optim\.weight_decay 0, got 0\.1"):
        load_config(TINY, ["model.frozen_layers=1", "optim.weight_decay=0.1"])
    with pytest.raises(ValueError, match=r"model\.frozen_layers \(3\) exceeds the model's 2 layers"):
        build_policy(load_config(TINY, ["model.frozen_layers=3"]).model, None)
