"""Build a model from named checkpoint tensors, putting each weight straight into its sharding.

The model is created abstractly (`nnx.eval_shape`), so no random weights are ever materialised. Every
parameter is then filled once from the checkpoint through the key map in `params.py`: stacked weights
are assembled layer by layer inside `jax.make_array_from_callback`, so a device only reads the layers
and slices its shard needs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import jax
import ml_dtypes  # noqa: F401  (registers bfloat16 with numpy, so checkpoints in bf16 can be read)
import numpy as np
from flax import nnx
from jax.sharding import Mesh, Sharding, SingleDeviceSharding

from rlar_jax.models import params as P
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.transformer import CausalLM, SequenceClassifier
from rlar_jax.sharding import DEFAULT_RULES, param_shardings

HEADS: dict[str, type[nnx.Module]] = {"causal_lm": CausalLM, "seq_cls": SequenceClassifier}


class CheckpointError(ValueError):
    """The checkpoint's tensors do not match the model its config describes."""


class TensorSource(Protocol):
    """Named tensors of a checkpoint, in the Hugging Face naming and layout."""

    def keys(self) -> list[str]:
        """Every tensor name."""

    def shape(self, key: str) -> tuple[int, ...]:
        """Shape of one tensor, without reading it."""

    def get(self, key: str) -> np.ndarray:
        """One tensor as a numpy array (float32, float16 or bfloat16)."""

    def describe(self) -> str:
        """The checkpoint's location, for error messages."""


def model_class(head: str) -> type[nnx.Module]:
    """The model class for a head name ("causal_lm" or "seq_cls")."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {sorted(HEADS)}, got {head!r}")
    return HEADS[head]


def abstract_model(cfg: ModelConfig, head: str) -> nnx.Module:
    """The model with shapes only (no arrays allocated)."""
    cls = model_class(head)
    return nnx.eval_shape(lambda: cls(cfg, rngs=nnx.Rngs(0)))


def _path(keys: tuple) -> str:
    return ".".join(str(k) for k in keys)


def _format_keys(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''}]"


def check_keys(cfg: ModelConfig, head: str, source: TensorSource) -> None:
    """Raise CheckpointError listing missing/unexpected keys, or naming the first mis-shaped tensor."""
    abstract = abstract_model(cfg, head)
    expected: dict[str, tuple[int, ...]] = {}
    for path, var in nnx.to_flat_state(nnx.state(abstract, nnx.Param)):
        expected.update(P.expected_hf_shapes(_path(path), tuple(var.get_value().shape), cfg))
    present = set(source.keys())
    ignorable = {k for k in present if k.endswith(P.IGNORED_SUFFIXES)}
    if cfg.tie_word_embeddings and head == "causal_lm":
        ignorable.add(P.RULES["lm_head"].hf_key)
    missing = sorted(set(expected) - present)
    unexpected = sorted(present - set(expected) - ignorable)
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys {_format_keys(missing)}")
        if unexpected:
            parts.append(f"unexpected keys {_format_keys(unexpected)}")
        raise CheckpointError(f"{source.describe()}: checkpoint does not match the {cfg.arch} {head} model: "
                              + "; ".join(parts))
    for key, shape in expected.items():
        found = tuple(source.shape(key))
        if found != shape:
            raise CheckpointError(f"{source.describe()}: tensor {key!r} has shape {found}, but the config "
                                  f"expects {shape}")


def _filled(path: str, var: nnx.Variable, sharding: Sharding, source: TensorSource, cfg: ModelConfig,
            dtype: np.dtype) -> jax.Array:
    """One parameter as a global array in `sharding`, read from `source`."""
    rule = P.rule_for(path)
    shape = tuple(var.get_value().shape)
    layer_shape = shape[1:] if rule.stacked else shape
    done: dict[tuple, np.ndarray] = {}  # replicas ask for the same block; read it once

    def block(index: tuple[slice, ...]) -> np.ndarray:
        key = tuple((s.start, s.stop, s.step) for s in index)
        if key not in done:
            if rule.stacked:
                layers = range(*index[0].indices(shape[0]))
                parts = [P.from_hf(rule.kind, source.get(rule.hf_key.format(i=i)), layer_shape)[index[1:]]
                         for i in layers]
                out = np.stack(parts) if parts else np.zeros((0, *layer_shape), dtype)[(slice(None), *index[1:])]
            else:
                out = P.from_hf(rule.kind, source.get(rule.hf_key), layer_shape)[index]
            done[key] = np.ascontiguousarray(out, dtype=dtype)
        return done[key]

    return jax.make_array_from_callback(shape, sharding, block)


def build_model(cfg: ModelConfig, head: str, source: TensorSource, mesh: Mesh | None = None,
                rules: Mapping | None = None) -> nnx.Module:
    """The `head` model for `cfg` with every parameter read from `source` exactly once.

    With a mesh, each parameter lands in its `param_shardings` NamedSharding; without, on the default
    device. Parameters are stored in `cfg.param_dtype`.
    """
    check_keys(cfg, head, source)
    abstract = abstract_model(cfg, head)
    graphdef, state = nnx.split(abstract)
    if mesh is not None:
        shardings = dict(nnx.to_flat_state(param_shardings(abstract, mesh, DEFAULT_RULES if rules is None else rules)))
    else:
        shardings = {}
    default = SingleDeviceSharding(jax.devices()[0])
    dtype = np.dtype(cfg.weight_dtype)
    for path, var in nnx.to_flat_state(state):
        if not isinstance(var, nnx.Param):
            continue
        sharding = shardings.get(path, default)
        var.set_value(_filled(_path(path), var, sharding, source, cfg, dtype))
    return nnx.merge(graphdef, state)
