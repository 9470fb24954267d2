"""Device mesh (data, fsdp, tensor), logical-axis rules, and multi-host initialisation.

Parameters carry `logical_axes` metadata (e.g. ("layers", "embed", "heads", None)); rules map each
logical name to a mesh axis (or None = replicated). Batch arrays shard their leading axis over
(data, fsdp).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence

import jax
import numpy as np
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

MESH_AXES = ("data", "fsdp", "tensor")
BATCH_AXES = ("data", "fsdp")

# Small models have few KV heads, so by default weights are split over fsdp on the embedding axis and
# over tensor on heads/mlp; the layer axis stays whole so the scan slices locally.
DEFAULT_RULES: dict[str, str | tuple[str, ...] | None] = {
    "layers": None,
    "embed": "fsdp",
    "vocab": "tensor",
    "heads": "tensor",
    "kv_heads": "tensor",
    "mlp": "tensor",
}


@dataclasses.dataclass(frozen=True)
class MeshConfig:
    """Mesh shape over all devices of all processes; -1 in one axis takes the remaining devices."""

    data: int = -1  # data-parallel replicas
    fsdp: int = 1  # parameter/optimizer-state sharding
    tensor: int = 1  # tensor (head/mlp) parallelism
    rules: Mapping[str, str | tuple[str, ...] | None] = dataclasses.field(default_factory=lambda: dict(DEFAULT_RULES))


def make_mesh(cfg: MeshConfig | Sequence[int] = MeshConfig(), devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A (data, fsdp, tensor) mesh over `devices` (default: all global devices)."""
    shape = [cfg.data, cfg.fsdp, cfg.tensor] if isinstance(cfg, MeshConfig) else list(cfg)
    if len(shape) != 3:
        raise ValueError(f"mesh shape must have 3 axes {MESH_AXES}, got {shape}")
    devices = list(devices if devices is not None else jax.devices())
    n = len(devices)
    if shape.count(-1) > 1:
        raise ValueError(f"mesh shape {shape}: at most one axis may be -1")
    if -1 in shape:
        known = int(np.prod([s for s in shape if s != -1]))
        if n % known:
            raise ValueError(f"mesh shape {shape}: {n} devices are not divisible by {known}")
        shape[shape.index(-1)] = n // known
    if int(np.prod(shape)) != n:
        raise ValueError(f"mesh shape {dict(zip(MESH_AXES, shape))} needs {int(np.prod(shape))} devices, have {n}")
    return Mesh(np.asarray(devices).reshape(shape), MESH_AXES)


def logical_to_spec(axes: Sequence[str | None], rules: Mapping[str, str | tuple[str, ...] | None],
                    shape: Sequence[int] | None = None, mesh: Mesh | None = None) -> P:
    """PartitionSpec for logical `axes`; an axis whose size the mesh axis does not divide stays whole."""
    spec, used = [], set()
    for i, name in enumerate(axes):
        target = rules.get(name) if name is not None else None
        names = (target,) if isinstance(target, str) else tuple(target or ())
        names = tuple(a for a in names if a not in used)
        if shape is not None and mesh is not None and names:
            size = int(np.prod([mesh.shape[a] for a in names]))
            if shape[i] % size:
                names = ()
        used.update(names)
        spec.append(names[0] if len(names) == 1 else (names or None))
    return P(*spec)


def param_shardings(model: nnx.Module, mesh: Mesh, rules: Mapping[str, str | tuple[str, ...] | None]) -> nnx.State:
    """NamedSharding for every nnx.Param of `model` (works on abstract models from nnx.eval_shape)."""
    state = nnx.state(model, nnx.Param)

    def one(var: nnx.Variable) -> NamedSharding:
        shape = var.get_value().shape
        axes = var.get_metadata().get("logical_axes") or (None,) * len(shape)
        return NamedSharding(mesh, logical_to_spec(axes, rules, shape, mesh))

    return jax.tree_util.tree_map(one, state, is_leaf=lambda x: isinstance(x, nnx.Variable))


def shard_model(model: nnx.Module, mesh: Mesh, rules: Mapping[str, str | tuple[str, ...] | None] | None = None) -> nnx.Module:
    """Move every parameter of `model` into its sharding on `mesh` (in place) and return the model."""
    rules = DEFAULT_RULES if rules is None else rules
    state = nnx.state(model, nnx.Param)
    shardings = param_shardings(model, mesh, rules)
    nnx.update(model, jax.device_put(state, shardings))
    return model


def batch_sharding(mesh: Mesh, ndim: int) -> NamedSharding:
    """Leading axis over (data, fsdp), the rest replicated."""
    return NamedSharding(mesh, P(BATCH_AXES, *([None] * (ndim - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
    """Fully replicated sharding."""
    return NamedSharding(mesh, P())


def initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                           process_id: int | None = None, local_device_ids: Sequence[int] | None = None) -> None:
    """Start `jax.distributed` for a multi-host run (no-op for one process).

    Arguments default to the environment (RLAR_JAX_COORDINATOR, RLAR_JAX_NUM_PROCESSES,
    RLAR_JAX_PROCESS_ID); on TPU pods and SLURM/GPU clusters JAX discovers them itself when all are None.
    On CPU, cross-process collectives need gloo, which is switched on here.
    """
    coordinator = coordinator or os.environ.get("RLAR_JAX_COORDINATOR")
    num_processes = num_processes or int(os.environ.get("RLAR_JAX_NUM_PROCESSES", "0")) or None
    if process_id is None and "RLAR_JAX_PROCESS_ID" in os.environ:
        process_id = int(os.environ["RLAR_JAX_PROCESS_ID"])
    if num_processes == 1:
        return
    if coordinator is None and num_processes is None:
        return
    if jax.config.jax_platforms in (None, "", "cpu") or os.environ.get("JAX_PLATFORMS", "cpu") == "cpu":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                               process_id=process_id, local_device_ids=local_device_ids)


def to_global(x: np.ndarray, mesh: Mesh) -> jax.Array:
    """Assemble each process's rows into one array whose leading axis is sharded over (data, fsdp).

    With one process this is a device_put; with several, every process passes its own rows.
    """
    return jax.make_array_from_process_local_data(batch_sharding(mesh, x.ndim), np.asarray(x))


def host_local(x: jax.Array, mesh: Mesh | None = None) -> np.ndarray:
    """This process's rows of a batch-sharded array (the whole array with one process)."""
    if jax.process_count() == 1 or mesh is None:
        return np.asarray(jax.device_get(x))
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.global_array_to_host_local_array(x, mesh, P(BATCH_AXES)))


def gather(x: np.ndarray) -> np.ndarray:
    """Concatenate a per-process host array across processes (identity with one process)."""
    if jax.process_count() == 1:
        return x
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def process_max(value: int) -> int:
    """The largest `value` over all processes (so every process picks the same static shape)."""
    if jax.process_count() == 1:
        return int(value)
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.asarray([value], np.int64))))


def gather_json(obj: object) -> list:
    """Every process's JSON-serialisable `obj`, in process order (`[obj]` with one process): host-side
    records such as per-row reward provenance, which exist only where the rows were scored."""
    if jax.process_count() == 1:
        return [obj]
    from jax.experimental import multihost_utils

    data = np.frombuffer(json.dumps(obj).encode(), np.uint8)
    sizes = np.asarray(multihost_utils.process_allgather(np.asarray([data.size], np.int64))).reshape(-1)
    padded = np.zeros(int(sizes.max()), np.uint8)
    padded[:data.size] = data
    rows = np.asarray(multihost_utils.process_allgather(padded)).reshape(len(sizes), -1)
    return [json.loads(row[:n].tobytes()) for row, n in zip(rows, sizes)]
