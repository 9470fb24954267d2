"""Build, compile and cache the generic guest component.

The guest (a CPython interpreter plus `guest/verifier_guest.py`, made into a component by
componentize-py) is built once and compiled once; the compiled artifact is cached under
`$RLAR_JAX_HOME/sandbox/` (default `~/.cache/rlar_jax`) keyed by the guest sources, the
componentize-py and wasmtime versions and the engine settings that affect compiled code. Loading
it later is a `Component.deserialize_file` (milliseconds).

Several processes may ask for the guest at once (test workers, pool workers), so the build holds a
file lock and publishes the artifact with an atomic rename.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from rlar_jax.home import rlar_home
from rlar_jax.sandbox.guest import GUEST_MODULE, WORLD, guest_sources

# Engine settings baked into compiled code. Stack size is not among them (it is checked at run time),
# so any Limits.max_stack_bytes reuses the same artifact.
ENGINE_FLAGS = {"consume_fuel": True, "epoch_interruption": True, "cranelift_opt_level": "speed"}
_BUILD_TIMEOUT_S = 600


def engine_config(max_stack_bytes: int) -> wasmtime.Config:
    """The wasmtime Config every sandbox engine (and the compiler of the cached guest) uses."""
    cfg = wasmtime.Config()
    cfg.consume_fuel = ENGINE_FLAGS["consume_fuel"]
    cfg.epoch_interruption = ENGINE_FLAGS["epoch_interruption"]
    cfg.cranelift_opt_level = ENGINE_FLAGS["cranelift_opt_level"]
    cfg.max_wasm_stack = max_stack_bytes
    return cfg


def guest_key() -> str:
    """Cache key of the compiled guest (hex, 16 chars)."""
    h = hashlib.sha256()
    payload = {
        "sources": {name: hashlib.sha256(text.encode()).hexdigest() for name, text in sorted(guest_sources().items())},
        "wasmtime": importlib.metadata.version("wasmtime"),
        "componentize-py": importlib.metadata.version("componentize-py"),
        "engine": ENGINE_FLAGS,
        "machine": platform.machine(),
    }
    h.update(json.dumps(payload, sort_keys=True).encode())
    return h.hexdigest()[:16]


def guest_path(home: Path | None = None) -> Path:
    """Where the compiled guest for the current sources and versions lives (may not exist yet)."""
    return rlar_home(home) / "sandbox" / f"guest-{guest_key()}.cwasm"


@dataclass
class BuildInfo:
    """What `ensure_guest` did: the artifact path, whether it built it, and the build timings."""

    path: Path
    built: bool
    componentize_s: float = 0.0
    compile_s: float = 0.0


def _componentize_exe() -> list[str]:
    sibling = Path(sys.executable).with_name("componentize-py")
    if sibling.exists():
        return [str(sibling)]
    found = shutil.which("componentize-py")
    if found:
        return [found]
    raise FileNotFoundError("componentize-py is not installed (pip install componentize-py==0.25.1); "
                            "it is needed once to build the verifier sandbox guest")


def _componentize(out_wasm: Path, workdir: Path) -> None:
    app = workdir / "app"
    wit = workdir / "wit"
    app.mkdir()
    wit.mkdir()
    for name, text in guest_sources().items():
        (wit if name.endswith(".wit") else app).joinpath(name).write_text(text, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    cmd = _componentize_exe() + ["-q", "-d", str(wit), "-w", WORLD, "componentize", "-p", str(app),
                                 GUEST_MODULE, "-o", str(out_wasm)]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=_BUILD_TIMEOUT_S)
    if proc.returncode != 0 or not out_wasm.exists():
        raise RuntimeError(f"componentize-py failed (exit {proc.returncode}) building the sandbox guest:\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")


def ensure_guest(home: Path | None = None, force: bool = False) -> BuildInfo:
    """Return the compiled guest for this environment, building and compiling it first if needed."""
    target = guest_path(home)
    if target.exists() and not force:
        return BuildInfo(target, built=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / ".build.lock"
    with open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a concurrent builder finishes first; we then reuse its result
        try:
            if target.exists() and not force:
                return BuildInfo(target, built=False)
            with tempfile.TemporaryDirectory(prefix="guest-build-", dir=target.parent) as tmp:
                workdir = Path(tmp)
                wasm = workdir / "guest.wasm"
                t0 = time.perf_counter()
                _componentize(wasm, workdir)
                t1 = time.perf_counter()
                engine = wasmtime.Engine(engine_config(1 << 20))
                component = Component.from_file(engine, str(wasm))
                staged = workdir / "guest.cwasm"
                staged.write_bytes(component.serialize())
                t2 = time.perf_counter()
                os.replace(staged, target)
            for stale in target.parent.glob("guest-*.cwasm"):
                if stale != target:  # artifacts of older sources/versions (safe to unlink while mapped)
                    stale.unlink(missing_ok=True)
            return BuildInfo(target, built=True, componentize_s=t1 - t0, compile_s=t2 - t1)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
