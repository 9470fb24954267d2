"""Hugging Face safetensors checkpoints: memory-mapped reading (single file or sharded index) and export."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import ml_dtypes  # noqa: F401  (registers bfloat16 with numpy: safetensors' numpy reader then handles BF16)
import numpy as np
from flax import nnx
from jax.experimental import multihost_utils
from safetensors import safe_open
from safetensors.numpy import save_file

from rlar_jax.models import params as P
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.tokenizer import Tokenizer
from rlar_jax.models.transformer import SequenceClassifier

INDEX_FILE = "model.safetensors.index.json"


class SafetensorsSource:
    """Tensors of an HF checkpoint directory, read lazily through memory-mapped `safe_open` handles."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        index = self.path / INDEX_FILE
        if index.is_file():
            weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
            files = sorted(set(weight_map.values()))
        else:
            files = sorted(p.name for p in self.path.glob("*.safetensors"))
            if not files:
                raise FileNotFoundError(f"no checkpoint found: {self.path / 'model.safetensors'} (nor {index.name})")
            weight_map = {}
        self._handles = {}
        for name in files:
            file = self.path / name
            if not file.is_file():
                raise FileNotFoundError(f"checkpoint shard not found: {file} (listed in {index})")
            self._handles[name] = safe_open(str(file), framework="numpy")
        if not weight_map:
            weight_map = {k: name for name, h in self._handles.items() for k in h.keys()}
        self._where = weight_map

    def keys(self) -> list[str]:
        """Every tensor name in the checkpoint."""
        return list(self._where)

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape from the file header (no data read)."""
        return tuple(self._handles[self._where[key]].get_slice(key).get_shape())

    def get(self, key: str) -> np.ndarray:
        """One tensor (a numpy array backed by the memory map where possible)."""
        return self._handles[self._where[key]].get_tensor(key)

    def describe(self) -> str:
        """The checkpoint directory."""
        return str(self.path)


def _host(x: jax.Array) -> np.ndarray:
    """A full copy of a (possibly sharded, possibly multi-host) array on this host."""
    if not x.is_fully_addressable:
        x = multihost_utils.process_allgather(x, tiled=True)
    return np.asarray(jax.device_get(x))


def hf_state_dict(model: nnx.Module, cfg: ModelConfig) -> dict[str, np.ndarray]:
    """Our parameters as HF-named arrays in the HF layout, through the key map in `params.py`."""
    out: dict[str, np.ndarray] = {}
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        name = ".".join(str(k) for k in path)
        rule = P.rule_for(name)
        value = _host(var.get_value())
        if rule.stacked:
            for i in range(cfg.num_layers):
                out[rule.hf_key.format(i=i)] = P.to_hf(rule.kind, value[i])
        else:
            out[rule.hf_key] = P.to_hf(rule.kind, value)
    return out


def export_hf(model: nnx.Module, cfg: ModelConfig, tokenizer: Tokenizer | None, out_dir: str | Path) -> Path:
    """Write an HF checkpoint directory (`config.json`, `model.safetensors`, tokenizer files).

    The result loads with transformers' `AutoModelFor*.from_pretrained` and with our `load_model`.
    Tensors keep the parameter dtype.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    head = "ForSequenceClassification" if isinstance(model, SequenceClassifier) else "ForCausalLM"
    tensors = hf_state_dict(model, cfg)
    if jax.process_index() == 0:
        save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
        hf_cfg = cfg.to_hf_dict(head)
        (out / "config.json").write_text(json.dumps(hf_cfg, indent=2))
        if cfg.eos_token_ids or cfg.bos_token_id is not None:
            gen = {"bos_token_id": cfg.bos_token_id, "eos_token_id": hf_cfg.get("eos_token_id"),
                   "pad_token_id": cfg.pad_token_id}
            (out / "generation_config.json").write_text(json.dumps(gen, indent=2))
        if tokenizer is not None:
            tokenizer.save(out)
    return out
