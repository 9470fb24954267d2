"""`rlar-jax memory`: will a config fit? Per-device bytes of the train step, the rollout and held-out
generation on the config's mesh, from the model's shapes alone, and a verdict against a device's memory.
Exit code 0 when it fits (or no --device-memory is given), 1 when it does not."""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the planner imports jax and flax: only when the command runs
    from rlar_jax.memory import MemoryPlan

DOES_NOT_FIT = 1
GiB, MiB = 1 << 30, 1 << 20

_UNITS = {"": None, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([kmgt]?)(i?b)?)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """Bytes of a memory size such as "80GB", "80 GiB", "141G" or "512MiB". Accelerator memory is sold in
    binary units (an "80GB" GPU has 80 GiB), so GB and GiB both mean 2**30 bytes."""
    m = _SIZE.fullmatch(text or "")
    if not m or not (m.group(2) or m.group(3)):
        raise ValueError(f"--device-memory {text!r}: expected a size with a unit, e.g. 80GB, 16GiB or 512MB")
    value = float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    if value <= 0:
        raise ValueError(f"--device-memory {text!r}: must be > 0")
    return int(value)


def _advice(plan: MemoryPlan, phase: str, part: str) -> str:
    """What the largest part depends on, as the settings that change it."""
    from rlar_jax.memory import HELDOUT, TRAIN

    s, mc = plan.shapes, plan.model
    slots = s.prompt_len + s.new_tokens
    if part == "activations" and phase == TRAIN:
        remat = "" if mc.remat else "enable model.remat / "
        return (f"trainer.micro_batch_size={s.micro_rows} ({s.per_device(s.micro_rows)} rows per device) x "
                f"{slots - 1} tokens, model.remat={str(mc.remat).lower()}: reduce trainer.micro_batch_size / "
                f"{remat}more mesh.fsdp")
    if phase == HELDOUT and part in ("KV cache", "activations"):
        return (f"trainer.eval_batch_size={s.eval_rows} rows x {slots} slots: reduce trainer.eval_batch_size "
                "/ shorter sampling.max_new_tokens")
    if part in ("KV cache", "activations"):
        return (f"trainer.prompts_per_step x sampling.group_size = {s.rows} rows ({s.per_device(s.rows)} per "
                f"device) x {slots} slots (prompt bucket {s.prompt_len} + sampling.max_new_tokens "
                f"{s.new_tokens}): fewer prompts per step / shorter max_new_tokens / more mesh.data or mesh.fsdp")
    if part == "reference params":
        return "loss.beta > 0 keeps a reference copy of the weights: loss.beta=0 / more mesh.fsdp"
    if part == "sampler weights":
        return (f"model.dtype={mc.dtype} differs from model.param_dtype={mc.param_dtype}: rollouts read a "
                "compute-dtype copy; more mesh.fsdp")
    if part in ("optimizer state", "grads") and not any(n.startswith("LoRA") for n in plan.notes):
        return ("AdamW keeps two float32 moments per trained parameter: model.lora.rank=16 trains adapters "
                "only / more mesh.fsdp")
    if part == "batch":
        return "trainer.prompts_per_step x sampling.group_size rows: fewer prompts per step"
    return (f"{plan.param_count / 1e9:.2f}B parameters in model.param_dtype={mc.param_dtype} over mesh.fsdp x "
            f"mesh.tensor = {s.fsdp * s.tensor} shard(s): more mesh.fsdp")


def verdict(plan: MemoryPlan, device_bytes: int) -> tuple[bool, str]:
    """(fits, one-line verdict) of the plan's highest peak against `device_bytes` per device."""
    worst = plan.peak()
    part, size = worst.largest()
    cap = f"{device_bytes / GiB:.4g} GiB"
    if worst.peak <= device_bytes:
        return True, (f"fits: peak {worst.peak / GiB:.2f} GiB of {cap} ({worst.name}; largest part: {part} "
                      f"{size / GiB:.2f} GiB)")
    return False, (f"does not fit: peak {worst.peak / GiB:.2f} GiB > {cap} per device in the {worst.name}; "
                   f"largest part: {part} {size / GiB:.2f} GiB ({_advice(plan, worst.name, part)})")


def format_plan(plan: MemoryPlan, config: str | None) -> str:
    """The plan as text: what it assumes, then one row per part and one column per phase."""
    s, mc = plan.shapes, plan.model
    lines = [f"memory plan: {config or 'defaults'}",
             f"model   {mc.arch}, {plan.param_count / 1e6:.1f}M parameters, {mc.num_layers} layers, "
             f"{mc.num_kv_heads} KV heads x {mc.head_dim} (shapes from {plan.model_source})",
             f"mesh    data {s.data} x fsdp {s.fsdp} x tensor {s.tensor} = {s.devices} device(s)",
             f"dtypes  params {mc.param_dtype}, compute {mc.dtype} (activations, KV cache, sampler weights); "
             f"remat {'on' if mc.remat else 'off'}",
             f"batch   {s.rows} completions per step in {s.num_micro} micro-batch(es) of {s.micro_rows} "
             f"({s.per_device(s.micro_rows)} rows per device); prompt bucket {s.prompt_len} + "
             f"{s.new_tokens} new tokens; held-out batches of {s.eval_rows}"]
    lines += [f"note    {n}" for n in plan.notes]
    names = [p.name for p in plan.phases]
    width = max(len(n) for n in names) + 2
    unit, size = ("GiB", GiB) if plan.peak().peak >= GiB else ("MiB", MiB)  # small models read in MiB
    cell = lambda n: f"{n / size:.2f}" if n else "-"  # noqa: E731
    lines += ["", f"{unit + ' per device':<20}" + "".join(f"{n:>{width}}" for n in names)]
    for part in plan.phases[0].parts:
        lines.append(f"{part:<20}" + "".join(f"{cell(p.parts[part]):>{width}}" for p in plan.phases))
    lines.append(f"{'peak':<20}" + "".join(f"{cell(p.peak):>{width}}" for p in plan.phases))
    return "\n".join(lines)


def _memory(args: argparse.Namespace) -> int:
    from rlar_jax.config import load_config
    from rlar_jax.memory import build_plan
    from rlar_jax.models.shapes import model_shapes

    device_bytes = parse_size(args.device_memory) if args.device_memory is not None else None
    for flag, value in (("--devices", args.devices), ("--prompt-len", args.prompt_len)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} must be >= 1, got {value}")
    cfg = load_config(args.config, args.overrides)
    m = cfg.model
    mc, source = model_shapes(m.name, dtype=m.dtype, param_dtype=m.param_dtype, remat=m.remat,
                              frozen_layers=m.frozen_layers,
                              random_config=m.random_config, config_path=args.model_config)
    plan = build_plan(cfg, mc, source, args.devices, args.prompt_len)
    compiled = None
    if args.compiled:
        from rlar_jax.memory_xla import run_subprocess

        compiled = run_subprocess("compiled", args.config, list(args.overrides), plan.shapes.devices,
                                  plan.shapes.prompt_len, args.model_config)
    fits, line = verdict(plan, device_bytes) if device_bytes is not None else (True, None)
    if args.json:
        print(json.dumps({"shapes": dataclasses.asdict(plan.shapes), "param_count": plan.param_count,
                          "phases": {p.name: {**p.parts, "peak": p.peak} for p in plan.phases},
                          "notes": plan.notes, "compiled_train_step": compiled, "fits": fits, "verdict": line}))
    else:
        print(format_plan(plan, args.config))
        if compiled is not None:
            print(f"\nXLA (CPU, {plan.shapes.devices} simulated device(s)), train step per device: arguments "
                  f"{compiled['argument'] / GiB:.2f} GiB, temporaries {compiled['temp'] / GiB:.2f} GiB, "
                  f"peak {compiled['peak'] / GiB:.2f} GiB (plan: {plan.phases[0].peak / GiB:.2f} GiB)")
        print("\n" + (line or "no --device-memory given: no verdict"))
    return 0 if fits else DOES_NOT_FIT


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `memory` command."""
    p = sub.add_parser("memory", help="per-device memory plan of a config, and whether it fits",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="experiment YAML file (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    p.add_argument("--device-memory", default=None, metavar="SIZE",
                   help="memory of one device, e.g. 80GB (binary units): print a verdict, exit 1 if it does not fit")
    p.add_argument("--devices", type=int, default=None, metavar="N",
                   help="devices in all (fills the mesh axis set to -1; default: the fixed axes' product)")
    p.add_argument("--prompt-len", type=int, default=None, metavar="TOKENS",
                   help="prompt bucket to plan for (default: the largest of sampling.prompt_buckets)")
    p.add_argument("--model-config", default=None, metavar="PATH",
                   help="the model's config.json, .gguf or checkpoint directory (default: found from model.name)")
    p.add_argument("--compiled", action="store_true",
                   help="also compile the real train step for a simulated CPU mesh of the same device count "
                        "and print XLA's memory analysis (slow for large models)")
    p.add_argument("--json", action="store_true", help="print the plan as one JSON object")
    p.set_defaults(func=_memory)
