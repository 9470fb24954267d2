"""A byte-level tokenizer (256 byte tokens + ChatML specials) for randomly initialised test models."""

from __future__ import annotations

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers

from rlar_jax.models.tokenizer import Tokenizer

SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")


def byte_level_tokenizer() -> Tokenizer:
    """Every byte is one token (ids 0-255 in GPT-2 byte order); ChatML specials follow.

    Real BPE with an empty merge list, so any text round-trips and no vocabulary file is needed.
    """
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    backend = HFTokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(list(SPECIALS))
    ids = {s: backend.token_to_id(s) for s in SPECIALS}
    return Tokenizer(backend, eos_ids=(ids["<|im_end|>"], ids["<|endoftext|>"]), pad_id=ids["<|endoftext|>"])
