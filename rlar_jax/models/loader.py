"""Load a model + config + tokenizer from a GGUF file or an HF safetensors directory."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import gguf
from jax.sharding import Mesh

from rlar_jax.models.assemble import build_model
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.gguf_io import GGUFSource, config_from_gguf
from rlar_jax.models.safetensors_io import SafetensorsSource
from rlar_jax.models.tokenizer import Tokenizer
from rlar_jax.models.transformer import CausalLM, SequenceClassifier

_DTYPES = ("float32", "bfloat16", "float16")


@dataclasses.dataclass
class LoadedModel:
    """A model with the config and tokenizer it was loaded with, and where it came from."""

    model: CausalLM | SequenceClassifier
    config: ModelConfig
    tokenizer: Tokenizer
    source: Path


def _dtypes(dtype: str, param_dtype: str | None) -> tuple[str, str]:
    """(compute dtype, parameter dtype), the latter defaulting to the former."""
    param_dtype = dtype if param_dtype is None else param_dtype
    for name, value in (("dtype", dtype), ("param_dtype", param_dtype)):
        if value not in _DTYPES:
            raise ValueError(f"{name} must be one of {_DTYPES}, got {value!r}")
    return dtype, param_dtype


def load_hf_dir(path: str | Path, *, head: str = "causal_lm", dtype: str = "float32", mesh: Mesh | None = None,
                rules: Mapping | None = None, param_dtype: str | None = None) -> LoadedModel:
    """Load an HF checkpoint directory (`config.json`, `*.safetensors` or a sharded index, `tokenizer.json`).

    Activations use `dtype`, parameters `param_dtype` (default: `dtype`); with `mesh`, each parameter is
    placed in its sharding.
    """
    dtype, param_dtype = _dtypes(dtype, param_dtype)
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint directory not found: {path}")
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise FileNotFoundError(f"model config not found: {cfg_file}")
    hf_cfg = json.loads(cfg_file.read_text())
    cfg = ModelConfig.from_hf_dict(hf_cfg, source=str(cfg_file), dtype=dtype, param_dtype=param_dtype)
    tokenizer = Tokenizer.from_hf_dir(path, hf_cfg)
    source = SafetensorsSource(path)
    model = build_model(cfg, head, source, mesh, rules)
    return LoadedModel(model, cfg, tokenizer, path)


def load_gguf(path: str | Path, *, head: str = "causal_lm", dtype: str = "float32", mesh: Mesh | None = None,
              rules: Mapping | None = None, param_dtype: str | None = None) -> LoadedModel:
    """Load a GGUF file: config and tokenizer from its metadata, tensors dequantized to `param_dtype`
    (default: `dtype`, the activation dtype)."""
    dtype, param_dtype = _dtypes(dtype, param_dtype)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {path}")
    if head != "causal_lm":
        raise ValueError(f"{path}: a GGUF file holds a language model; head must be 'causal_lm', got {head!r}")
    reader = gguf.GGUFReader(path)
    cfg = config_from_gguf(reader, str(path), dtype=dtype, param_dtype=param_dtype)
    tokenizer = Tokenizer.from_gguf(path, reader)
    model = build_model(cfg, head, GGUFSource(path, cfg, reader), mesh, rules)
    return LoadedModel(model, cfg, tokenizer, path)


def load_path(path: str | Path, *, head: str = "causal_lm", dtype: str = "float32", mesh: Mesh | None = None,
              rules: Mapping | None = None, param_dtype: str | None = None) -> LoadedModel:
    """Load a local GGUF file, a directory holding one `.gguf`, or an HF safetensors directory
    (activations in `dtype`, parameters in `param_dtype`, default `dtype`)."""
    path = Path(path)
    kw = dict(head=head, dtype=dtype, mesh=mesh, rules=rules, param_dtype=param_dtype)
    if path.is_file():
        if path.suffix != ".gguf":
            raise ValueError(f"{path}: expected a .gguf file or a checkpoint directory")
        return load_gguf(path, **kw)
    if not path.is_dir():
        raise FileNotFoundError(f"model path not found: {path}")
    if (path / "config.json").is_file():
        return load_hf_dir(path, **kw)
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return load_gguf(ggufs[0], **kw)
    if ggufs:
        raise ValueError(f"{path}: several .gguf files {[p.name for p in ggufs]}; pass one of them")
    raise FileNotFoundError(f"{path}: neither config.json nor a .gguf file found")
