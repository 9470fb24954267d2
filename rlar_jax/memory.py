"""Per-device memory plan of an experiment, from model shapes alone (no weights are read).

Every number is bytes on one device of the config's mesh:
- parameters, gradients and AdamW state: each parameter's shard under the mesh rules (fsdp and tensor
  split it), times its dtype;
- activations: the residuals JAX keeps for the backward pass, measured by tracing the real loss
  (`grpo._micro_loss` over the real model) with abstract inputs of one micro-batch's per-device rows,
  plus the working set of one layer's backward (recomputed under remat) or of one log-prob chunk;
- the rollout: the KV cache (rows x (prompt bucket + max_new_tokens) x layers x KV heads x head_dim x 2
  in the compute dtype, rows split over data x fsdp, KV heads over tensor), the compute-dtype weight
  copy the sampler reads when it differs from the parameter dtype, and the decode workspace.

The optimizer state and the gradients cover the trainable parameters: all of them, or under LoRA only
the float32 adapters, the frozen base counted in `params` (and no reference copy for the KL term).
`rlar_jax.memory_xla` checks these numbers against XLA's compiled memory analysis and a measured step.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from rlar_jax.config import ConfigError, ExperimentConfig
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.lora import LoraSpec, add_lora, trainable_filter
from rlar_jax.models.transformer import CausalLM, _layer, dense
from rlar_jax.policy import lora_spec, mesh_rules
from rlar_jax.sharding import logical_to_spec

TRAIN, ROLLOUT, HELDOUT = "train step", "rollout", "held-out generation"
GiB = 1 << 30


@dataclasses.dataclass(frozen=True)
class Shapes:
    """What the plan assumes: the mesh (devices resolved) and the per-step batch shapes."""

    data: int
    fsdp: int
    tensor: int
    rows: int  # completions per step: prompts_per_step x group_size (all devices)
    micro_rows: int  # completions per gradient micro-batch (all devices)
    prompt_len: int  # prompt bucket
    new_tokens: int  # sampling.max_new_tokens
    eval_rows: int  # held-out generation batch, padded to the batch shards
    prompts: int  # prompts per step (prefill rows)

    @property
    def devices(self) -> int:
        """Devices of the mesh."""
        return self.data * self.fsdp * self.tensor

    @property
    def batch_shards(self) -> int:
        """Devices a batch's rows are split over (data x fsdp)."""
        return self.data * self.fsdp

    @property
    def num_micro(self) -> int:
        """Gradient micro-batches per update."""
        return self.rows // self.micro_rows

    def per_device(self, rows: int) -> int:
        """Rows one device holds of a batch of `rows` (split over data x fsdp)."""
        return math.ceil(rows / self.batch_shards)


@dataclasses.dataclass
class Phase:
    """Bytes per device live at the peak of one phase, by part (insertion order = table order)."""

    name: str
    parts: dict[str, int]

    @property
    def peak(self) -> int:
        """Sum of the parts."""
        return sum(self.parts.values())

    def largest(self) -> tuple[str, int]:
        """The biggest part and its bytes."""
        return max(self.parts.items(), key=lambda kv: kv[1])


@dataclasses.dataclass
class MemoryPlan:
    """The plan of one experiment: model, shapes and the phases' per-device bytes."""

    model: ModelConfig
    model_source: str
    param_count: int
    shapes: Shapes
    phases: list[Phase]
    notes: list[str] = dataclasses.field(default_factory=list)

    def peak(self) -> Phase:
        """The phase with the highest peak."""
        return max(self.phases, key=lambda p: p.peak)


# ------------------------------------------------------------------------------------------- shapes
def resolve_mesh(cfg: ExperimentConfig, devices: int | None) -> tuple[tuple[int, int, int], list[str]]:
    """(data, fsdp, tensor) for `devices` devices, as `sharding.make_mesh` resolves a -1 axis. Without
    `devices` a -1 axis counts as 1 (the product of the fixed axes is the device count)."""
    shape, notes = [cfg.mesh.data, cfg.mesh.fsdp, cfg.mesh.tensor], []
    names = ("mesh.data", "mesh.fsdp", "mesh.tensor")
    if shape.count(-1) > 1:
        raise ConfigError(f"mesh {dict(zip(names, shape))}: at most one axis may be -1")
    if any(s == 0 or s < -1 for s in shape):
        raise ConfigError(f"mesh {dict(zip(names, shape))}: each axis must be >= 1 or -1")
    known = math.prod(s for s in shape if s != -1)
    if -1 in shape:
        axis = names[shape.index(-1)]
        if devices is None:
            devices = known
            notes.append(f"{axis}=-1 takes the remaining devices; assumed {devices} device(s) in all "
                         "(pass --devices N for the machine you plan for)")
        if devices % known:
            raise ConfigError(f"--devices {devices} is not divisible by the fixed mesh axes ({known})")
        shape[shape.index(-1)] = devices // known
    elif devices is not None and devices != known:
        raise ConfigError(f"--devices {devices}: the mesh {dict(zip(names, shape))} needs {known} devices")
    return (shape[0], shape[1], shape[2]), notes


def plan_shapes(cfg: ExperimentConfig, devices: int | None = None,
                prompt_len: int | None = None) -> tuple[Shapes, list[str]]:
    """Batch shapes of one step on the resolved mesh. The prompt bucket defaults to the largest of
    sampling.prompt_buckets (the longest prompts the run can meet)."""
    (d, f, t), notes = resolve_mesh(cfg, devices)
    s, tr = cfg.sampling, cfg.trainer
    rows = tr.prompts_per_step * s.group_size
    micro = tr.micro_batch_size or rows
    if rows % micro:
        raise ConfigError(f"trainer.micro_batch_size ({micro}) must divide trainer.prompts_per_step x "
                          f"sampling.group_size ({rows})")
    if rows % (d * f):
        raise ConfigError(f"trainer.prompts_per_step x sampling.group_size = {rows} rows must divide by the "
                          f"mesh's data x fsdp = {d * f}")
    if prompt_len is None:
        prompt_len = max(s.prompt_buckets)
        notes.append(f"prompt bucket {prompt_len}: the largest of sampling.prompt_buckets "
                     "(--prompt-len to plan for shorter prompts)")
    if micro % (d * f):
        notes.append(f"a micro-batch of {micro} rows does not split evenly over data x fsdp = {d * f}")
    eval_rows = math.ceil(tr.eval_batch_size / (d * f)) * d * f
    return Shapes(d, f, t, rows, micro, prompt_len, s.max_new_tokens, eval_rows, tr.prompts_per_step), notes


def local_model_config(mc: ModelConfig, tensor: int) -> ModelConfig:
    """One device's slice of the activations under tensor parallelism: heads, KV heads, MLP width and
    vocabulary divided by `tensor` where they divide (as the default mesh rules shard them)."""
    div = lambda n: n // tensor if n % tensor == 0 else n  # noqa: E731
    heads, kv = div(mc.num_heads), div(mc.num_kv_heads)
    if heads % kv:  # GQA groups must stay whole
        heads, kv = mc.num_heads, mc.num_kv_heads
    return mc.replace(num_heads=heads, num_kv_heads=kv, intermediate_size=div(mc.intermediate_size),
                      vocab_size=div(mc.vocab_size))


def abstract_model(mc: ModelConfig, lora: LoraSpec | None = None) -> CausalLM:
    """The causal LM (with `lora` adapters when given) with shapes only (nothing allocated)."""
    def build() -> CausalLM:
        model = CausalLM(mc, rngs=nnx.Rngs(0))
        return add_lora(model, lora) if lora is not None else model

    return nnx.eval_shape(build)


def shard_elements(model: nnx.Module, shapes: Shapes, rules: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """Per parameter path: (elements in all, elements on one device) under the mesh rules."""
    mesh = types.SimpleNamespace(shape={"data": shapes.data, "fsdp": shapes.fsdp, "tensor": shapes.tensor})
    out = {}
    for path, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        shape = tuple(var.get_value().shape)
        axes = var.get_metadata().get("logical_axes") or (None,) * len(shape)
        spec = logical_to_spec(axes, rules, shape, mesh)
        local = 1
        for n, entry in zip(shape, tuple(spec) + (None,) * (len(shape) - len(spec))):
            names = (entry,) if isinstance(entry, str) else tuple(entry or ())
            local *= n // math.prod(mesh.shape[a] for a in names)
        out[".".join(map(str, path))] = (math.prod(shape), local)
    return out


# ------------------------------------------------------------------------------------- activations
def saved_bytes(f: Callable[..., Any], primals: tuple, consts: tuple = (), skip_primals: int = 0) -> int:
    """Bytes of the residuals `jax.vjp(f)` keeps from the forward pass for the backward pass, traced
    with abstract inputs (no compute). Residuals that are inputs themselves cost nothing extra and are
    left out: the `consts` and the first `skip_primals` primals (weights read from their own arrays)."""
    n_primals = len(primals)

    def with_vjp(*args: Any) -> Any:
        return jax.vjp(lambda *p: f(*p, *args[n_primals:]), *args[:n_primals])

    closed, out_shape = jax.make_jaxpr(with_vjp, return_shape=True)(*primals, *consts)
    jaxpr = closed.jaxpr
    n_res = len(jax.tree.leaves(out_shape[1]))
    skip = len(jax.tree.leaves(primals[:skip_primals]))
    inputs = {id(v) for v in jaxpr.invars[:skip]} | {id(v) for v in jaxpr.invars[len(jax.tree.leaves(primals)):]}
    total, seen = 0, set()
    for v in jaxpr.outvars[len(jaxpr.outvars) - n_res:]:
        if hasattr(v, "val") or id(v) in inputs or id(v) in seen:  # literals, inputs, repeats
            continue
        seen.add(id(v))
        total += math.prod(v.aval.shape) * jnp.dtype(v.aval.dtype).itemsize
    return total


def batch_spec(rows: int, prompt_len: int, new_tokens: int, cfg: ExperimentConfig) -> dict[str, jax.ShapeDtypeStruct]:
    """Shapes of the train step's batch for `rows` completions (as `Trainer._train_batch` builds it)."""
    T, P = new_tokens, prompt_len
    f32, b = jnp.float32, jnp.bool_
    spec = {"tokens": ((rows, P + T), jnp.int32), "attn_mask": ((rows, P + T), b), "completion_mask": ((rows, T), b),
            "sampler_logp": ((rows, T), f32), "advantages": ((rows,), f32), "valid": ((rows,), b),
            "truncated": ((rows,), b)}
    if cfg.loss.rollout_is == "none" or cfg.loss.num_iterations > 1:
        spec["old_logp"] = ((rows, T), f32)
    if cfg.loss.beta > 0:
        spec["ref_logp"] = ((rows, T), f32)
    return {k: jax.ShapeDtypeStruct(shape, dt) for k, (shape, dt) in spec.items()}


def _nbytes(tree: Any) -> int:
    return sum(math.prod(x.shape) * jnp.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree))


def layer_saved_bytes(mc: ModelConfig, rows: int, seq: int) -> int:
    """Residuals of one decoder layer's forward pass (what its backward needs) for [rows, seq] tokens;
    also the size of the layer's transient intermediates in a forward-only pass."""
    one = mc.replace(num_layers=1)
    blocks = nnx.eval_shape(lambda: CausalLM(one, rngs=nnx.Rngs(0))).model.blocks
    w = {n: jax.ShapeDtypeStruct(v.get_value().shape[1:], v.get_value().dtype)
         for n, v in vars(blocks).items() if isinstance(v, nnx.Param)}
    x = jax.ShapeDtypeStruct((rows, seq, mc.hidden_size), mc.compute_dtype)
    consts = (jax.ShapeDtypeStruct((rows, seq), jnp.int32), jax.ShapeDtypeStruct((rows, seq), jnp.bool_),
              jax.ShapeDtypeStruct((mc.head_dim // 2,), jnp.float32))

    def layer(w: dict, x: jax.Array, pos: jax.Array, mask: jax.Array, inv_freq: jax.Array) -> jax.Array:
        return _layer(one, w, x, pos, mask, inv_freq, None, None, jnp.int32(0))[0]

    return saved_bytes(layer, (w, x), consts, skip_primals=1)


def head_chunk_bytes(mc: ModelConfig, rows: int, chunk: int | None = None) -> int:
    """Residuals of one log-prob chunk (logits [rows, chunk, vocab] in float32 and what follows them),
    recomputed in the backward pass one chunk at a time."""
    from rlar_jax.models.logprobs import LOGPROB_CHUNK, chunk_logprobs

    chunk = LOGPROB_CHUNK if chunk is None else chunk
    tied = mc.tie_word_embeddings
    w_shape = (mc.vocab_size, mc.hidden_size) if tied else (mc.hidden_size, mc.vocab_size)
    w = jax.ShapeDtypeStruct(w_shape, mc.weight_dtype)
    h = jax.ShapeDtypeStruct((rows, chunk, mc.hidden_size), mc.compute_dtype)
    y = jax.ShapeDtypeStruct((rows, chunk), jnp.int32)

    def head(w: jax.Array, h: jax.Array, y: jax.Array) -> jax.Array:
        def lm(x: jax.Array) -> jax.Array:  # CausalLM.logits
            wc = w.astype(x.dtype)
            return dense(x, wc.T if tied else wc, 1).astype(jnp.float32)

        lp, ent = chunk_logprobs(lm, h, y)
        return jnp.sum(lp) + jnp.sum(ent)

    return saved_bytes(head, (w, h), (y,), skip_primals=1)


def train_activation_bytes(cfg: ExperimentConfig, mc: ModelConfig, rows: int, prompt_len: int,
                           new_tokens: int) -> int:
    """Activation bytes of one micro-batch of `rows` per-device rows at the peak of the backward pass:
    the residuals of the whole loss (traced through the real model and loss), plus the larger of one
    layer's backward working set and one log-prob chunk's."""
    from rlar_jax.grpo import _micro_loss
    from rlar_jax.trainer import grpo_config, make_logprob_fn

    model = abstract_model(mc, lora_spec(cfg.model.lora))
    graphdef, params, rest = nnx.split(model, trainable_filter(model), ...)
    batch = batch_spec(rows, prompt_len, new_tokens, cfg)
    grpo, logprob_fn = grpo_config(cfg), make_logprob_fn(cfg.sampling.temperature)

    def loss(params: Any, rest: Any, batch: dict) -> jax.Array:
        return _micro_loss(params, graphdef, rest, batch, grpo, logprob_fn)[0]

    saved = saved_bytes(loss, (params,), (rest, batch), skip_primals=1)
    layer = layer_saved_bytes(mc, rows, prompt_len + new_tokens - 1)
    # Working set of the backward pass on top of the saved residuals, fitted to XLA's buffer assignment
    # (tests/test_memory.py): under remat one layer's residuals are rebuilt, and freed as its backward
    # consumes them (~1x); without remat only the cotangents in flight (~0.5x of one layer). The
    # checkpointed log-prob chunk is always rebuilt (~1x of its residuals).
    working = layer if mc.remat else layer // 2
    return saved + max(working, head_chunk_bytes(mc, rows))


# ------------------------------------------------------------------------------------------- the plan
def build_plan(cfg: ExperimentConfig, mc: ModelConfig, model_source: str, devices: int | None = None,
               prompt_len: int | None = None) -> MemoryPlan:
    """The per-device memory plan of `cfg` for the model `mc` (its dtypes and remat already set)."""
    shapes, notes = plan_shapes(cfg, devices, prompt_len)
    rules = mesh_rules(cfg.mesh.rules)
    spec = lora_spec(cfg.model.lora)
    sizes = shard_elements(abstract_model(mc, spec), shapes, rules)
    p_size, c_size = mc.weight_dtype.itemsize, mc.compute_dtype.itemsize
    is_adapter = lambda k: ".lora." in f".{k}."  # noqa: E731
    local = sum(n for k, (_, n) in sizes.items() if not is_adapter(k))  # the model's own weights
    adapter_local = sum(n for k, (_, n) in sizes.items() if is_adapter(k))  # float32 LoRA factors
    params = local * p_size + adapter_local * 4
    # The optimizer's leaves: every parameter (a full fine-tune) or only the adapters (LoRA); under LoRA
    # the KL reference is the base itself (zero adapters), not a copy.
    trainable = adapter_local * 4 if spec is not None else params
    block_local = sum(n for k, (_, n) in sizes.items() if ".blocks." in f".{k}." and not is_adapter(k))
    t_size = 4 if spec is not None else p_size
    # AdamW's two moments, in the parameters' dtype unless optim.moment_dtype narrows them to bfloat16.
    moments = 2 * (trainable // t_size) * (2 if cfg.optim.moment_dtype == "bfloat16" else t_size)
    resident = {"params": params, "optimizer state": moments,
                "reference params": params if cfg.loss.beta > 0 and spec is None else 0}

    lmc = local_model_config(mc, shapes.tensor)
    T, P = shapes.new_tokens, shapes.prompt_len
    rows_dev = shapes.per_device(shapes.rows)
    micro_dev = shapes.per_device(shapes.micro_rows)
    batch = _nbytes(batch_spec(rows_dev, P, T, cfg))
    grads = trainable + (trainable // t_size * 4 if shapes.num_micro > 1 else 0)  # + float32 accumulator
    act = train_activation_bytes(cfg, lmc, micro_dev, P, T)
    update = trainable  # AdamW's update tree, after the activations are gone
    train = Phase(TRAIN, {**resident, "grads": grads, "batch": batch, "sampler weights": 0, "KV cache": 0,
                          "activations": max(act, update)})

    # The weights rollouts read: a compute-dtype copy when it differs from the parameter dtype; under LoRA
    # a merged copy of the adapted projections (of every weight when a cast is needed anyway).
    targets = spec.targets if spec is not None else ()
    merged_local = sum(n for k, (_, n) in sizes.items() if k.split(".")[-1] in targets and ".blocks." in f".{k}.")
    sampler = local * c_size if mc.compute_dtype != mc.weight_dtype else merged_local * c_size
    kv_local = lmc.num_kv_heads
    slots = P + T

    def generation(name: str, rows: int, prompts: int) -> Phase:
        r, b = shapes.per_device(rows), shapes.per_device(prompts)
        cache = r * slots * mc.num_layers * kv_local * mc.head_dim * 2 * c_size
        prefill = b * P * mc.num_layers * kv_local * mc.head_dim * 2 * c_size + layer_saved_bytes(
            lmc.replace(remat=False), b, P)
        # decode: the attention window copied out of the cache, per-layer weight slices, logits and sampling
        decode = cache + block_local * c_size + 3 * r * lmc.vocab_size * 4
        return Phase(name, {**resident, "grads": 0, "batch": 0, "sampler weights": sampler, "KV cache": cache,
                            "activations": max(prefill, decode)})

    phases = [train, generation(ROLLOUT, shapes.rows, shapes.prompts),
              generation(HELDOUT, shapes.eval_rows, shapes.eval_rows)]
    count = sum(n for k, (n, _) in sizes.items() if not is_adapter(k))
    if spec is not None:
        adapters_all = sum(n for k, (n, _) in sizes.items() if is_adapter(k))
        notes.append(f"LoRA rank {spec.rank} on {', '.join(spec.targets)}: {adapters_all / 1e6:.2f}M trainable "
                     "parameters (float32); the base is frozen and rollouts read a merged copy of the adapted weights")
    return MemoryPlan(mc, model_source, count, shapes, phases, notes)
