"""GGUF loading on tiny random models written in llama.cpp's layout (F32 and Q8_0), checked against the
original torch model and against transformers reading the same file."""

from __future__ import annotations

import gguf
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers

from rlar_jax.models import UnsupportedModelError, load_gguf, load_model
from tests.models.conftest import hf_config, randomize
from tests.models.tiny_gguf import write_gguf

CLASSES = {"llama": transformers.LlamaForCausalLM, "qwen2": transformers.Qwen2ForCausalLM,
           "qwen3": transformers.Qwen3ForCausalLM}
TOKENS = np.random.default_rng(0).integers(3, 128, size=(2, 20)).astype(np.int32)


def _logits(model: torch.nn.Module) -> np.ndarray:
    with torch.no_grad():
        return model(torch.as_tensor(TOKENS, dtype=torch.long)).logits.numpy()


@pytest.mark.parametrize("arch", sorted(CLASSES))
def test_f32_gguf_matches_original_model(arch, tmp_path):
    hf = randomize(CLASSES[arch](hf_config(arch, tie_word_embeddings=arch == "llama")), seed=2)
    path = write_gguf(hf, tmp_path / f"{arch}.gguf")
    loaded = load_gguf(path)
    cfg = loaded.config
    head_dim = 32 if arch == "qwen3" else 16  # qwen3: head_dim != hidden/heads, read from key_length
    assert (cfg.arch, cfg.num_layers, cfg.num_heads, cfg.num_kv_heads, cfg.head_dim) == (arch, 2, 4, 2, head_dim)
    assert cfg.tie_word_embeddings == (arch == "llama")
    assert cfg.attention_bias == (arch == "qwen2") and cfg.qk_norm == (arch == "qwen3")
    assert cfg.rms_norm_eps == pytest.approx(1e-5)
    ours = np.asarray(loaded.model(jnp.asarray(TOKENS))[0])
    diff = np.abs(ours - _logits(hf)).max()
    assert diff < 1e-4, diff
    if arch == "qwen3":
        return  # transformers' GGUF reader ignores qwen3.attention.key_length (assumes head_dim 128)
    # The file layout (names, q/k permutation) is what transformers' own GGUF reader expects too.
    ref = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32)
    assert np.abs(ours - _logits(ref.eval())).max() < 1e-4


def test_q8_0_gguf_matches_transformers_gguf(tmp_path):
    hf = randomize(CLASSES["llama"](hf_config("llama")), seed=4)
    path = write_gguf(hf, tmp_path / "q8.gguf", quant=gguf.GGMLQuantizationType.Q8_0)
    assert {t.tensor_type.name for t in gguf.GGUFReader(path).tensors} == {"Q8_0", "F32"}
    ours = np.asarray(load_model(str(tmp_path)).model(jnp.asarray(TOKENS))[0])  # a directory with one .gguf
    ref = transformers.AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file=path.name, dtype=torch.float32)
    diff = np.abs(ours - _logits(ref.eval())).max()
    assert diff < 1e-4, diff
    # Quantisation error is real but bounded: far from the torch model's logits would mean a mapping bug.
    err = np.abs(ours - _logits(hf)).max()
    assert 1e-4 < err < 0.5, err


def test_tokenizer_from_gguf_metadata(tmp_path):
    hf = randomize(CLASSES["llama"](hf_config("llama")))
    tok = load_gguf(write_gguf(hf, tmp_path / "t.gguf")).tokenizer
    assert tok.encode("ab") == [127]  # the one merge
    assert tok.encode("<|im_end|>a") == [2, tok.encode("a")[0]]
    assert tok.eos_ids == (2,) and tok.bos_id == 1 and tok.pad_id == 0 and tok.vocab_size == 128
    assert tok.apply_chat_template([{"role": "user", "content": "ab"}]) == \
        "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n"
    assert tok.decode(tok.encode("<|im_start|>ab"), skip_special_tokens=True) == "ab"


def test_unsupported_gguf_architecture(tmp_path):
    hf = randomize(CLASSES["llama"](hf_config("llama")))
    path = write_gguf(hf, tmp_path / "gpt2.gguf", arch="gpt2")
    with pytest.raises(UnsupportedModelError, match=r"GGUF architecture 'gpt2' is not supported"):
        load_gguf(path)


def test_gguf_has_no_classifier_head(tmp_path):
    path = write_gguf(randomize(CLASSES["llama"](hf_config("llama"))), tmp_path / "m.gguf")
    with pytest.raises(ValueError, match="head must be 'causal_lm'"):
        load_gguf(path, head="seq_cls")


def test_gguf_tensors_do_not_alias_the_file_mapping(tmp_path):
    # F32 tensors come out of the reader as views of the memory-mapped file. JAX on CPU may adopt such a
    # buffer without copying, and then the model pins the whole mapping (resident once read) for its life.
    from rlar_jax.models.gguf_io import GGUFSource, config_from_gguf

    path = write_gguf(randomize(CLASSES["llama"](hf_config("llama")), seed=5), tmp_path / "pin.gguf")
    reader = gguf.GGUFReader(path)
    src = GGUFSource(path, config_from_gguf(reader, str(path)), reader)
    f32 = [k for k in src.keys() if src.tensors[k].tensor_type == gguf.GGMLQuantizationType.F32]
    assert f32, "the tiny file should hold float32 tensors"
    shared = [k for k in src.keys() if np.may_share_memory(src.get(k), reader.data)]
    assert shared == [], f"tensors still backed by the file mapping: {shared}"
