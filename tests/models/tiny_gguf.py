"""Write a tiny transformers model as a GGUF file the way llama.cpp's converter lays it out."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import torch
from transformers.convert_slow_tokenizer import bytes_to_unicode

from rlar_jax.models.gguf_io import _BLOCK, _TOP, permute_qk

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def tiny_vocab(size: int) -> tuple[list[str], list[str]]:
    """Byte-level tokens (3 specials, bytes, and "ab") and the one merge "a b"."""
    chars = list(bytes_to_unicode().values())
    tokens = SPECIALS + chars[: size - len(SPECIALS) - 1] + ["ab"]
    assert "a" in tokens and "b" in tokens
    return tokens, ["a b"]


def _gguf_names() -> dict[str, str]:
    inv = {hf: g for g, hf in _TOP.items()}
    for g, hf in _BLOCK.items():
        inv["model.layers.{i}." + hf] = "blk.{i}." + g
    return inv


def write_gguf(model: torch.nn.Module, path: Path, *, quant: gguf.GGMLQuantizationType | None = None,
               arch: str | None = None) -> Path:
    """`model` (a tiny *ForCausalLM) as GGUF; 2-D weights quantized to `quant` when given, norms in F32."""
    cfg = model.config
    arch = arch or cfg.model_type
    w = gguf.GGUFWriter(path, arch)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    w.add_key_length(head_dim)
    w.add_value_length(head_dim)
    w.add_rope_freq_base(float(cfg.rope_parameters["rope_theta"]))
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    tokens, merges = tiny_vocab(cfg.vocab_size)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("smollm")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL] * len(SPECIALS) + [gguf.TokenType.NORMAL] * (len(tokens) - 3))
    w.add_token_merges(merges)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_pad_token_id(0)
    w.add_chat_template("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
                        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    names = _gguf_names()
    for key, t in model.state_dict().items():
        if key == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        layer = key.split(".")[2] if key.startswith("model.layers.") else None
        template = key.replace(f".{layer}.", ".{i}.", 1) if layer is not None else key
        name = names[template].format(i=layer)
        x = t.detach().float().numpy()
        if arch == "llama" and name.endswith(("attn_q.weight", "attn_k.weight")):
            heads = cfg.num_attention_heads if "attn_q" in name else cfg.num_key_value_heads
            x = permute_qk(x, heads)
        if quant is not None and x.ndim == 2:
            w.add_tensor(name, gguf.quants.quantize(x, quant), raw_dtype=quant)
        else:
            w.add_tensor(name, np.ascontiguousarray(x))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
