"""Parameter dtype apart from compute dtype on every loading path: HF safetensors, GGUF, a load into a
mesh, `load_model` and the policy built from `model.dtype` / `model.param_dtype`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import transformers
from flax import nnx
from jax.sharding import NamedSharding

from rlar_jax.config import ModelSection
from rlar_jax.models import load_gguf, load_hf_dir, load_model
from rlar_jax.policy import build_policy
from rlar_jax.sharding import make_mesh
from tests.models.conftest import hf_config, randomize, save_tiny
from tests.models.tiny_gguf import write_gguf

TOKENS = jnp.asarray(np.random.default_rng(0).integers(3, 128, size=(2, 12)), jnp.int32)


def param_dtypes(model) -> set[str]:
    return {x.dtype.name for x in jax.tree.leaves(nnx.state(model, nnx.Param))}


def logits(model) -> np.ndarray:
    return np.asarray(model(TOKENS)[0])


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    return save_tiny(randomize(transformers.Qwen2ForCausalLM(hf_config("qwen2")), seed=3),
                     tmp_path_factory.mktemp("qwen2"))


def test_safetensors_float32_params_with_bf16_compute(ckpt):
    mixed = load_hf_dir(ckpt, dtype="bfloat16", param_dtype="float32")
    assert param_dtypes(mixed.model) == {"float32"}
    assert (mixed.config.dtype, mixed.config.param_dtype) == ("bfloat16", "float32")
    pure = load_hf_dir(ckpt, dtype="bfloat16")  # param_dtype defaults to dtype, as before
    assert param_dtypes(pure.model) == {"bfloat16"}
    # Each float32 weight is cast to bf16 where it is used: the same numbers as bf16 weights.
    np.testing.assert_array_equal(logits(mixed.model), logits(pure.model))
    by_name = load_model(str(ckpt), dtype="bfloat16", param_dtype="float32")
    assert param_dtypes(by_name.model) == {"float32"} and by_name.config.dtype == "bfloat16"
    with pytest.raises(ValueError, match=r"param_dtype must be one of .* got 'int8'"):
        load_hf_dir(ckpt, dtype="bfloat16", param_dtype="int8")


def test_gguf_float32_params_with_bf16_compute(tmp_path):
    path = write_gguf(randomize(transformers.LlamaForCausalLM(hf_config("llama")), seed=4), tmp_path / "t.gguf")
    mixed = load_gguf(path, dtype="bfloat16", param_dtype="float32")
    assert param_dtypes(mixed.model) == {"float32"} and mixed.config.dtype == "bfloat16"
    pure = load_gguf(path, dtype="bfloat16")
    assert param_dtypes(pure.model) == {"bfloat16"}
    np.testing.assert_array_equal(logits(mixed.model), logits(pure.model))


def test_sharded_load_and_policy_keep_float32_params(ckpt):
    mesh = make_mesh((2, 2, 2))  # the 8 simulated CPU devices of tests/conftest.py
    policy = build_policy(ModelSection(name=str(ckpt), dtype="bfloat16"), mesh)  # param_dtype: float32
    leaves = jax.tree.leaves(nnx.state(policy.model, nnx.Param))
    assert param_dtypes(policy.model) == {"float32"} and policy.config.dtype == "bfloat16"
    assert all(isinstance(x.sharding, NamedSharding) and x.sharding.mesh == mesh for x in leaves)
    assert any(not x.sharding.is_fully_replicated for x in leaves)
    unsharded = load_hf_dir(ckpt, dtype="bfloat16", param_dtype="float32")
    for a, b in zip(leaves, jax.tree.leaves(nnx.state(unsharded.model, nnx.Param)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
