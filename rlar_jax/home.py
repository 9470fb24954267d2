"""The project's cache root, `$RLAR_JAX_HOME` (default `~/.cache/rlar_jax`): pulled models, the compiled
sandbox guest, registered and trained reward models, cached features."""

from __future__ import annotations

import os
from pathlib import Path


def rlar_home(home: str | Path | None = None) -> Path:
    """The cache root: `home` when given, else `$RLAR_JAX_HOME` (with `~` expanded), else `~/.cache/rlar_jax`."""
    if home is not None:
        return Path(home)
    env = os.environ.get("RLAR_JAX_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rlar_jax"
