"""The real SmolLM2-135M-Instruct GGUF: generation, tokenizer parity, export round trips."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import transformers
from flax import nnx

from rlar_jax.models import LoadedModel, export_hf, load_hf_dir, load_model

PROMPT = [{"role": "user", "content": "What is the capital of France?"}]
TEXTS = ["Hello world!", "  leading spaces and\ttabs\nnew line", "Zürich, 東京 and emoji 🎉",
         "<|im_start|>user\nhi<|im_end|>", "def f(x):\n    return x ** 2  # 1234567"]


@pytest.fixture(scope="module")
def smol(smollm2_gguf) -> LoadedModel:
    return load_model(str(smollm2_gguf))


@pytest.fixture(scope="module")
def prompt_ids(smol) -> list[int]:
    return smol.tokenizer.encode(smol.tokenizer.apply_chat_template(PROMPT))


@pytest.fixture(scope="module")
def exported(smol, tmp_path_factory):
    return export_hf(smol.model, smol.config, smol.tokenizer, tmp_path_factory.mktemp("smollm2_hf"))


def greedy(loaded: LoadedModel, ids: list[int], max_new: int = 24, width: int = 64) -> list[int]:
    """Argmax decoding with the full forward on a fixed-width buffer (one compilation)."""
    graphdef, state = nnx.split(loaded.model)

    @jax.jit
    def next_logits(state, tokens, last):
        logits, _ = nnx.merge(graphdef, state)(tokens)  # causal: slots after `last` do not matter
        return logits[0, last]

    buf = np.full((1, width), loaded.tokenizer.pad_id, np.int32)
    buf[0, :len(ids)] = ids
    n = len(ids)
    while n < min(width, len(ids) + max_new):
        tok = int(jnp.argmax(next_logits(state, jnp.asarray(buf), n - 1)))
        buf[0, n] = tok
        n += 1
        if tok in loaded.tokenizer.eos_ids:
            break
    return buf[0, len(ids):n].tolist()


def test_config_from_gguf_metadata(smol):
    c = smol.config
    assert (c.arch, c.num_layers, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim) == ("llama", 30, 576, 9, 3, 64)
    assert (c.vocab_size, c.intermediate_size, c.rope_theta, c.max_position_embeddings) == (49152, 1536, 100000.0, 8192)
    assert c.tie_word_embeddings and not hasattr(smol.model, "lm_head")
    assert smol.tokenizer.eos_ids == (2,) and smol.tokenizer.pad_id == 2 and smol.tokenizer.bos_id == 1
    assert smol.tokenizer.vocab_size == 49152


def test_greedy_answer_mentions_paris(smol, prompt_ids):
    prompt = smol.tokenizer.apply_chat_template(PROMPT)
    assert prompt.endswith("<|im_start|>assistant\n")
    answer = smol.tokenizer.decode(greedy(smol, prompt_ids))
    assert "Paris" in answer, answer


def test_tokenizer_matches_transformers_gguf_tokenizer(smol, smollm2_gguf):
    ref = transformers.AutoTokenizer.from_pretrained(smollm2_gguf.parent, gguf_file=smollm2_gguf.name)
    for text in TEXTS:
        ids = smol.tokenizer.encode(text)
        assert ids == ref.encode(text, add_special_tokens=False), text
        assert smol.tokenizer.decode(ids, skip_special_tokens=False) == text
    assert smol.tokenizer.encode(TEXTS[3])[0] == 1  # <|im_start|> stays one special token
    messages = PROMPT + [{"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And Spain?"}]
    for gen in (True, False):
        assert smol.tokenizer.apply_chat_template(messages, add_generation_prompt=gen) == \
            ref.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)


def test_export_then_reload_gives_same_logits(smol, exported, prompt_ids):
    assert {p.name for p in exported.iterdir()} >= {"config.json", "model.safetensors", "tokenizer.json",
                                                    "tokenizer_config.json"}
    back = load_hf_dir(exported)
    assert back.config == smol.config
    tokens = jnp.asarray([prompt_ids])
    diff = np.abs(np.asarray(smol.model(tokens)[0]) - np.asarray(back.model(tokens)[0])).max()
    assert diff < 1e-5, diff
    assert back.tokenizer.encode(TEXTS[2]) == smol.tokenizer.encode(TEXTS[2])
    assert back.tokenizer.apply_chat_template(PROMPT) == smol.tokenizer.apply_chat_template(PROMPT)
    assert back.tokenizer.eos_ids == smol.tokenizer.eos_ids


def test_transformers_loads_export(smol, exported, prompt_ids):
    hf = transformers.AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32,
                                                           attn_implementation="eager").eval()
    assert type(hf).__name__ == "LlamaForCausalLM" and hf.config.tie_word_embeddings
    with torch.no_grad():
        ref = hf(torch.tensor([prompt_ids])).logits.numpy()
    ours = np.asarray(smol.model(jnp.asarray([prompt_ids]))[0])
    # Same float32 weights; only summation order differs over 30 layers (|logits| up to ~40).
    diff = np.abs(ours - ref).max()
    assert diff < 1e-3, diff
    assert (ours.argmax(-1) == ref.argmax(-1)).all()
    tok = transformers.AutoTokenizer.from_pretrained(exported)
    assert tok.encode(TEXTS[0], add_special_tokens=False) == smol.tokenizer.encode(TEXTS[0])
    assert tok.eos_token == "<|im_end|>"
