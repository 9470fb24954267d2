"""Build the policy for an experiment: load (or randomly initialise) the model and its tokenizer, sharded."""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
from flax import nnx
from jax.sharding import Mesh

from rlar_jax.config import LoraSection, ModelSection
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.lora import LoraSpec, add_lora, resolve_targets
from rlar_jax.models.transformer import CausalLM
from rlar_jax.sharding import DEFAULT_RULES, shard_model


@dataclasses.dataclass
class Policy:
    """A causal LM with its config and tokenizer."""

    model: CausalLM
    config: ModelConfig
    tokenizer: Any  # rlar_jax.models.tokenizer.Tokenizer


def mesh_rules(overrides: dict[str, Any]) -> dict[str, Any]:
    """Default logical-axis rules updated by a config's `mesh.rules`."""
    rules = dict(DEFAULT_RULES)
    for k, v in overrides.items():
        rules[k] = tuple(v) if isinstance(v, list) else v
    return rules


def build_policy(section: ModelSection, mesh: Mesh | None, rules: dict[str, Any] | None = None) -> Policy:
    """Load `section.name` (known name, path or hub id) or, for "random", initialise a model from
    `section.random_config` (Hugging Face config keys) with a byte-level tokenizer. Parameters are held
    in `section.param_dtype`, activations computed in `section.dtype`. With `section.lora` the model gets
    fresh adapters (float32) on top of the loaded weights."""
    rules = rules or dict(DEFAULT_RULES)
    if section.name == "random":
        from rlar_jax.models.byte_tokenizer import byte_level_tokenizer

        tokenizer = byte_level_tokenizer()
        hf = {"model_type": "llama", "vocab_size": tokenizer.vocab_size, **section.random_config}
        if hf["vocab_size"] < tokenizer.vocab_size:
            raise ValueError(f"model.random_config.vocab_size must be >= {tokenizer.vocab_size} "
                             f"(byte-level tokenizer), got {hf['vocab_size']}")
        cfg = ModelConfig.from_hf_dict(hf, source="model.random_config", dtype=section.dtype,
                                       param_dtype=section.param_dtype, remat=section.remat,
                                       frozen_layers=section.frozen_layers,
                                       eos_token_ids=tuple(tokenizer.eos_ids))
        model = CausalLM(cfg, rngs=nnx.Rngs(section.random_seed))
        policy = Policy(model, cfg, tokenizer)
    else:
        from rlar_jax.models import load_model

        lm = load_model(section.name, dtype=section.dtype, param_dtype=section.param_dtype, mesh=mesh, rules=rules)
        if section.remat or section.frozen_layers:
            lm.model.cfg = lm.config = lm.config.replace(remat=section.remat, frozen_layers=section.frozen_layers)
            lm.model.model.cfg = lm.config
        policy = Policy(lm.model, lm.config, lm.tokenizer)
    if section.frozen_layers > policy.config.num_layers:
        raise ValueError(f"model.frozen_layers ({section.frozen_layers}) exceeds the model's "
                         f"{policy.config.num_layers} layers")
    spec = lora_spec(section.lora)
    if spec is not None:
        add_lora(policy.model, spec, section.lora.seed)
    if mesh is not None and (spec is not None or section.name == "random"):
        shard_model(policy.model, mesh, rules)  # the random model's weights, the adapters (loaded ones are)
    return policy


def lora_spec(section: LoraSection) -> LoraSpec | None:
    """The adapters a `model.lora` section asks for (None: a full fine-tune)."""
    if not section.enabled:
        return None
    return LoraSpec(section.rank, float(section.alpha), resolve_targets(section.targets))


def param_count(model: nnx.Module, filter: Any = nnx.Param) -> int:
    """Number of parameters (of those `filter` selects, e.g. `lora.trainable_filter(model)`)."""
    return sum(x.size for x in jax.tree_util.tree_leaves(nnx.state(model, filter)))
