"""export_hf writes checkpoints that transformers and our loader read back unchanged."""

from __future__ import annotations

import json

import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers
from safetensors import safe_open

from rlar_jax.models import export_hf, load_hf_dir
from rlar_jax.models.params import RULES
from tests.models.conftest import LLAMA3_ROPE, hf_config, randomize, save_tiny

TOKENS = np.random.default_rng(3).integers(3, 128, size=(2, 30)).astype(np.int32)
CASES = {
    "llama": (transformers.LlamaForCausalLM, dict(rope_scaling=LLAMA3_ROPE)),
    "qwen2": (transformers.Qwen2ForCausalLM, dict(tie_word_embeddings=True)),
    "qwen3": (transformers.Qwen3ForCausalLM, dict()),
}


def _hf(model, tokens=TOKENS) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(tokens, dtype=torch.long)).logits.float().numpy()


@pytest.mark.parametrize("arch", sorted(CASES))
def test_causal_lm_round_trip_through_transformers(arch, tmp_path):
    cls, kw = CASES[arch]
    original = randomize(cls(hf_config(arch, **kw)), seed=9)
    loaded = load_hf_dir(save_tiny(original, tmp_path / "in"))
    out = export_hf(loaded.model, loaded.config, loaded.tokenizer, tmp_path / "out")
    with safe_open(str(out / "model.safetensors"), framework="numpy") as f:
        keys = set(f.keys())
    assert keys == set(original.state_dict()) - ({"lm_head.weight"} if kw.get("tie_word_embeddings") else set())
    again = cls.from_pretrained(out, dtype=torch.float32).eval()
    for name, tensor in original.state_dict().items():  # every weight back bit for bit
        np.testing.assert_array_equal(again.state_dict()[name].numpy(), tensor.numpy(), err_msg=name)
    assert np.abs(_hf(again) - _hf(original)).max() == 0.0  # config (RoPE scaling, tying) read back the same
    reloaded = load_hf_dir(out)
    assert reloaded.config == loaded.config
    diff = np.abs(np.asarray(reloaded.model(jnp.asarray(TOKENS))[0]) - np.asarray(loaded.model(jnp.asarray(TOKENS))[0]))
    assert diff.max() == 0.0
    assert reloaded.tokenizer.encode("w5 w6 w7") == [5, 6, 7] and reloaded.tokenizer.eos_ids == (2,)


def test_sequence_classifier_round_trip(tmp_path):
    original = randomize(transformers.Qwen2ForSequenceClassification(hf_config("qwen2", num_labels=1)), seed=4)
    loaded = load_hf_dir(save_tiny(original, tmp_path / "in"), head="seq_cls")
    out = export_hf(loaded.model, loaded.config, loaded.tokenizer, tmp_path / "out")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["architectures"] == ["Qwen2ForSequenceClassification"] and cfg["num_labels"] == 1
    again = transformers.AutoModelForSequenceClassification.from_pretrained(out, dtype=torch.float32).eval()
    assert np.abs(_hf(again) - _hf(original)).max() == 0.0
    ours = np.asarray(load_hf_dir(out, head="seq_cls").model(jnp.asarray(TOKENS)))
    assert np.abs(ours - _hf(original)).max() < 1e-4


def test_bfloat16_export_stays_bfloat16(tmp_path):
    original = randomize(transformers.LlamaForCausalLM(hf_config("llama")), seed=6)
    loaded = load_hf_dir(save_tiny(original, tmp_path / "in"), dtype="bfloat16")
    out = export_hf(loaded.model, loaded.config, loaded.tokenizer, tmp_path / "out")
    with safe_open(str(out / "model.safetensors"), framework="numpy") as f:
        assert str(f.get_tensor("model.layers.0.self_attn.q_proj.weight").dtype) == "bfloat16"
    again = transformers.LlamaForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
    want = original.model.layers[0].self_attn.q_proj.weight.detach().to(torch.bfloat16)
    assert torch.equal(again.model.layers[0].self_attn.q_proj.weight, want)  # same rounding (nearest even)


def test_key_map_covers_every_parameter():
    # Over every model variant, each of our parameters has exactly one rule, every rule is used, and no
    # two rules share an HF key (so load and export are inverse bijections).
    from flax import nnx

    from rlar_jax.models.assemble import abstract_model
    from rlar_jax.models.config import ModelConfig

    used = set()
    for arch in ("llama", "qwen2", "qwen3"):
        cfg = ModelConfig.from_hf_dict(hf_config(arch).to_dict())
        for head in ("causal_lm", "seq_cls"):
            for path, _ in nnx.to_flat_state(nnx.state(abstract_model(cfg, head), nnx.Param)):
                used.add(".".join(map(str, path)))
    assert used == set(RULES)
    templates = [r.hf_key for r in RULES.values()]
    assert len(templates) == len(set(templates))
