"""Bad checkpoints fail with errors that name the file, key, and what was expected."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import transformers
from safetensors.numpy import load_file, save_file

from rlar_jax.models import CheckpointError, UnsupportedModelError, load_hf_dir, load_model
from tests.models.conftest import hf_config, randomize, save_tiny


@pytest.fixture
def ckpt(tmp_path):
    return save_tiny(randomize(transformers.LlamaForCausalLM(hf_config("llama"))), tmp_path / "ckpt")


def test_missing_path():
    with pytest.raises(FileNotFoundError, match=re.escape("/nonexistent/model.gguf")):
        load_model("/nonexistent/model.gguf")


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json", "model.safetensors"])
def test_missing_file_is_named(ckpt, name):
    (ckpt / name).unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(ckpt / name))):
        load_hf_dir(ckpt)


def test_missing_shard_is_named(tmp_path):
    path = save_tiny(randomize(transformers.LlamaForCausalLM(hf_config("llama"))), tmp_path / "s",
                     max_shard_size="40KB")
    shard = sorted(path.glob("*.safetensors"))[1]
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(shard))):
        load_hf_dir(path)


def test_unsupported_architecture(ckpt):
    cfg = transformers.GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=128).to_dict()
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedModelError, match=r"model_type 'gpt2' is not supported; expected one of"):
        load_hf_dir(ckpt)


def test_unsupported_rope_scaling(ckpt):
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0}
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UnsupportedModelError, match=r"rope_scaling type 'yarn' is not supported"):
        load_hf_dir(ckpt)


def test_shape_mismatch_names_key_and_shapes(ckpt):
    cfg = json.loads((ckpt / "config.json").read_text())
    cfg["intermediate_size"] = 80  # the checkpoint has 96
    (ckpt / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError) as err:
        load_hf_dir(ckpt)
    msg = str(err.value)
    assert re.search(r"tensor 'model\.layers\.0\.mlp\.(gate|up|down)_proj\.weight' has shape \((96, 64|64, 96)\), "
                     r"but the config expects \((80, 64|64, 80)\)", msg), msg


def test_missing_and_unexpected_keys_are_listed(ckpt):
    file = ckpt / "model.safetensors"
    tensors = load_file(file)
    del tensors["model.layers.1.mlp.up_proj.weight"]
    tensors["model.layers.1.mlp.extra_proj.weight"] = np.zeros((4, 4), np.float32)
    save_file(tensors, file, metadata={"format": "pt"})
    with pytest.raises(CheckpointError) as err:
        load_hf_dir(ckpt)
    msg = str(err.value)
    assert "missing keys [model.layers.1.mlp.up_proj.weight]" in msg, msg
    assert "unexpected keys [model.layers.1.mlp.extra_proj.weight]" in msg, msg
    assert str(ckpt) in msg


def test_wrong_head_for_checkpoint(ckpt):
    with pytest.raises(CheckpointError, match=r"missing keys \[score\.weight\]; unexpected keys \[lm_head\.weight\]"):
        load_hf_dir(ckpt, head="seq_cls")
    with pytest.raises(ValueError, match=r"head must be one of \['causal_lm', 'seq_cls'\], got 'reward'"):
        load_hf_dir(ckpt, head="reward")


def test_bad_dtype(ckpt):
    with pytest.raises(ValueError, match=r"dtype must be one of .* got 'int8'"):
        load_hf_dir(ckpt, dtype="int8")


def test_unknown_name_and_offline_hub():
    with pytest.raises(FileNotFoundError, match=r"'no-such-model' is neither an existing path, a known model"):
        load_model("no-such-model")
    with pytest.raises(RuntimeError, match=r"Hugging Face hub cannot be reached"):
        load_model("no-such-org/no-such-model-xyz")
