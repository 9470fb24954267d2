"""XLA's side of the memory plan: the real train step compiled ahead of time on a simulated mesh, and
one real step measured.

`compiled_train_step` lowers and compiles the trainer's own jitted step (`grpo.make_train_step`) from
abstract inputs with the config's shardings, on as many devices as the mesh needs, and returns XLA's
memory analysis per device. `measure_train_step` loads the model, runs one step and measures the
process's resident memory around it. Both need the device count fixed before jax starts, so
`run_subprocess` runs them in a fresh interpreter (`python -m rlar_jax.memory_xla`) with
`--xla_force_host_platform_device_count` set.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from rlar_jax.config import ExperimentConfig, load_config
from rlar_jax.host_memory import release_freed_memory
from rlar_jax.memory import Shapes, abstract_model, batch_spec, plan_shapes
from rlar_jax.models.config import ModelConfig
from rlar_jax.models.lora import trainable_filter
from rlar_jax.policy import lora_spec, mesh_rules
from rlar_jax.sharding import MeshConfig, batch_sharding, make_mesh, param_shardings, replicated


def _with_shardings(abstract: Any, shardings: Any) -> Any:
    """`abstract` (a tree of shapes) with each leaf carrying the sharding at the same place in `shardings`."""
    leaves, treedef = jax.tree.flatten(abstract)
    return jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s)
                                        for x, s in zip(leaves, jax.tree.leaves(shardings))])


def _opt_shardings(opt_abs: Any, params_abs: Any, mesh: jax.sharding.Mesh) -> Any:
    """Optimizer-state leaves sharded like the parameter they mirror (matched by the path ending and
    shape: AdamW's m and v), everything else (step counters, hyper-parameters) replicated."""
    by_path = {tuple(map(str, path)): x for path, x in jax.tree_util.tree_flatten_with_path(params_abs)[0]}

    def one(path: tuple, x: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
        keys = tuple(map(str, path))
        for n in range(len(keys)):
            param = by_path.get(keys[n:])
            if param is not None and param.shape == x.shape:
                return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=param.sharding)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=replicated(mesh))

    return jax.tree_util.tree_map_with_path(one, opt_abs)


def train_step_inputs(cfg: ExperimentConfig, mc: ModelConfig, shapes: Shapes, mesh: jax.sharding.Mesh
                      ) -> tuple[Any, tuple]:
    """(the trainer's jitted train step, its abstract arguments) for one update on `mesh`."""
    from rlar_jax.grpo import make_train_step
    from rlar_jax.trainer import build_optimizer, grpo_config, make_logprob_fn

    model = abstract_model(mc, lora_spec(cfg.model.lora))
    every = nnx.state(model, nnx.Param)
    nnx.update(model, _with_shardings(every, param_shardings(model, mesh, mesh_rules(cfg.mesh.rules))))
    graphdef, params, rest = nnx.split(model, trainable_filter(model), ...)  # LoRA: the base is in `rest`
    tx = build_optimizer(cfg)
    opt_state = _opt_shardings(jax.eval_shape(tx.init, params), params, mesh)
    batch = {k: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=batch_sharding(mesh, len(s.shape)))
             for k, s in batch_spec(shapes.rows, shapes.prompt_len, shapes.new_tokens, cfg).items()}
    step = make_train_step(graphdef, grpo_config(cfg), tx, make_logprob_fn(cfg.sampling.temperature),
                           shapes.num_micro)
    offset = jax.ShapeDtypeStruct((), jnp.float32, sharding=replicated(mesh))
    return step.jitted(params, opt_state), (params, rest, opt_state, batch, offset)


def analysis(compiled: Any) -> dict[str, int]:
    """XLA's memory analysis of a compiled program (bytes per device); `peak` = arguments + outputs
    not aliased to a donated argument + temporaries."""
    ma = compiled.memory_analysis()
    out = {k: int(getattr(ma, f"{k}_size_in_bytes", 0)) for k in ("argument", "output", "alias", "temp",
                                                                   "generated_code")}
    out["peak"] = out["argument"] + out["output"] - out["alias"] + out["temp"]
    return out


def _mesh(shapes: Shapes) -> jax.sharding.Mesh:
    devices = jax.devices()
    if len(devices) < shapes.devices:
        raise RuntimeError(f"the plan needs {shapes.devices} devices, this process has {len(devices)} "
                           "(run it through run_subprocess)")
    return make_mesh(MeshConfig(shapes.data, shapes.fsdp, shapes.tensor), devices[:shapes.devices])


def compiled_train_step(cfg: ExperimentConfig, mc: ModelConfig, shapes: Shapes) -> dict[str, int]:
    """XLA's memory analysis of the train step compiled for the plan's mesh (no arrays allocated)."""
    step, args = train_step_inputs(cfg, mc, shapes, _mesh(shapes))
    return analysis(step.lower(*args).compile())


# --------------------------------------------------------------------------------------- measuring
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _trim() -> None:
    """Collect garbage and return freed heap to the OS, so the resident size counts live memory."""
    gc.collect()
    release_freed_memory()


def _concrete_batch(spec: dict[str, jax.ShapeDtypeStruct], vocab: int, mesh: jax.sharding.Mesh) -> dict:
    """A batch of the spec's shapes: random tokens, every completion token counted, advantages +-1 (so the
    update runs, not the all-zero-advantage skip)."""
    rng = np.random.default_rng(0)
    out = {}
    for k, s in spec.items():
        if k == "tokens":
            x = rng.integers(0, vocab, s.shape, dtype=np.int32)
        elif k == "advantages":
            x = np.where(np.arange(s.shape[0]) % 2 == 0, 1.0, -1.0).astype(np.float32)
        elif k == "truncated":
            x = np.zeros(s.shape, bool)
        elif s.dtype == jnp.bool_:
            x = np.ones(s.shape, bool)
        else:
            x = np.full(s.shape, -1.0, np.float32)
        out[k] = jax.device_put(x, batch_sharding(mesh, x.ndim))
    return out


def measure_train_step(cfg: ExperimentConfig, shapes: Shapes) -> dict[str, Any]:
    """Load the model, run one real train step and measure it: `measured_peak` = bytes of the live
    arguments (params, optimizer state, batch) + the growth of the resident set during the step
    (its high-water mark, reset just before the step, minus the resident size before it)."""
    from rlar_jax.grpo import init_opt_state, make_train_step
    from rlar_jax.policy import build_policy
    from rlar_jax.trainer import build_optimizer, grpo_config, make_logprob_fn

    mesh = _mesh(shapes)
    policy = build_policy(cfg.model, mesh, mesh_rules(cfg.mesh.rules))
    graphdef, params, rest = nnx.split(policy.model, trainable_filter(policy.model), ...)
    tx = build_optimizer(cfg)
    opt_state = init_opt_state(tx, params)
    batch = _concrete_batch(batch_spec(shapes.rows, shapes.prompt_len, shapes.new_tokens, cfg),
                            policy.config.vocab_size, mesh)
    step = make_train_step(graphdef, grpo_config(cfg), tx, make_logprob_fn(cfg.sampling.temperature),
                           shapes.num_micro)
    offset = jnp.float32(0.0)
    compiled = step.jitted(params, opt_state).lower(params, rest, opt_state, batch, offset).compile()
    live = sum(x.nbytes for x in jax.tree.leaves((params, rest, opt_state, batch)))  # rest: a LoRA base
    del policy
    _trim()
    before = _status_kib("VmRSS") * 1024
    Path("/proc/self/clear_refs").write_text("5")  # Linux: reset the high-water mark (VmHWM) to the current size
    out = compiled(params, rest, opt_state, batch, offset)
    jax.block_until_ready(out)
    hwm = _status_kib("VmHWM") * 1024
    stats = jax.devices()[0].memory_stats() or {}
    return {"live_arguments": live, "rss_before_step": before, "rss_peak_during_step": hwm,
            "growth": hwm - before, "measured_peak": live + hwm - before, "compiled": analysis(compiled),
            "device_peak_bytes_in_use": stats.get("peak_bytes_in_use")}


# ------------------------------------------------------------------------------------ subprocesses
def run_subprocess(mode: str, config: str | Path | None, overrides: list[str], devices: int,
                   prompt_len: int | None = None, model_config: str | None = None,
                   timeout: float = 3600) -> dict[str, Any]:
    """Run `mode` ("compiled" or "measure") in a fresh interpreter with `devices` simulated CPU devices;
    returns its JSON result. Raises RuntimeError with the child's last output when it fails."""
    package_root = str(Path(__file__).resolve().parents[1])  # the child imports this same rlar_jax
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": path,
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    cmd = [sys.executable, "-m", "rlar_jax.memory_xla", mode, "--devices", str(devices)]
    if config is not None:
        cmd += ["--config", str(config)]
    if prompt_len is not None:
        cmd += ["--prompt-len", str(prompt_len)]
    if model_config is not None:
        cmd += ["--model-config", str(model_config)]
    proc = subprocess.run([*cmd, *overrides], env=env, capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{mode} run failed (exit {proc.returncode}): {proc.stderr.strip()[-3000:]}")
    return json.loads(lines[-1])


def main(argv: list[str] | None = None) -> int:
    """Entry point of the subprocess: print the result of one mode as one JSON line."""
    p = argparse.ArgumentParser(prog="python -m rlar_jax.memory_xla")
    p.add_argument("mode", choices=["compiled", "measure"])
    p.add_argument("--config", default=None)
    p.add_argument("--devices", type=int, required=True)
    p.add_argument("--prompt-len", type=int, default=None)
    p.add_argument("--model-config", default=None)
    p.add_argument("overrides", nargs="*")
    args = p.parse_intermixed_args(argv)
    cfg = load_config(args.config, args.overrides)
    shapes, _ = plan_shapes(cfg, args.devices, args.prompt_len)
    if args.mode == "measure":
        result = measure_train_step(cfg, shapes)
    else:
        from rlar_jax.models.shapes import model_shapes

        m = cfg.model
        mc, _ = model_shapes(m.name, dtype=m.dtype, param_dtype=m.param_dtype, remat=m.remat,
                             frozen_layers=m.frozen_layers,
                             random_config=m.random_config, config_path=args.model_config)
        result = compiled_train_step(cfg, mc, shapes)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
