"""Flax NNX policy/reward models and their checkpoints (GGUF, HF safetensors), tokenizers and sources."""

from __future__ import annotations

from collections.abc import Mapping

from jax.sharding import Mesh

from rlar_jax.models.assemble import CheckpointError
from rlar_jax.models.config import ModelConfig, UnsupportedModelError
from rlar_jax.models.loader import LoadedModel, load_gguf, load_hf_dir, load_path
from rlar_jax.models.safetensors_io import export_hf
from rlar_jax.models.tokenizer import Tokenizer
from rlar_jax.models.transformer import CausalLM, KVCache, SequenceClassifier, init_cache

__all__ = [
    "CausalLM", "CheckpointError", "KVCache", "LoadedModel", "ModelConfig", "SequenceClassifier", "Tokenizer",
    "UnsupportedModelError", "export_hf", "init_cache", "load_gguf", "load_hf_dir", "load_model",
]


def load_model(name_or_path: str, *, head: str = "causal_lm", dtype: str = "float32", mesh: Mesh | None = None,
               rules: Mapping | None = None, param_dtype: str | None = None) -> LoadedModel:
    """Load a model by known name (e.g. "smollm2-135m-instruct", pulled into the cache if needed), local
    path (GGUF file, directory with one .gguf, HF safetensors directory) or HF hub repo id.

    head: "causal_lm" or "seq_cls"; dtype: activation (compute) dtype; param_dtype: parameter dtype
    (default: `dtype`); mesh/rules: place each parameter in its sharding (default rules:
    `rlar_jax.sharding.DEFAULT_RULES`).
    """
    from rlar_jax.models.sources import resolve_model

    return load_path(resolve_model(name_or_path), head=head, dtype=dtype, mesh=mesh, rules=rules,
                     param_dtype=param_dtype)
