"""Orbax checkpoints of the training state: params, optimizer state, step, data position and RNG key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Saves and restores `{"params", "opt_state", "rng"}` plus a JSON `meta` dict per step.

    Saves are synchronous: a step is either fully on disk (orbax renames a finished temporary directory)
    or absent, so a process killed at any moment resumes from the last complete step.
    """

    def __init__(self, directory: str | Path, keep: int = 2):
        self.directory = Path(directory).absolute()
        self._mngr = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(max_to_keep=keep, enable_async_checkpointing=False,
                                                 cleanup_tmp_directories=True),
        )

    def latest_step(self) -> int | None:
        """The newest complete step on disk, or None."""
        return self._mngr.latest_step()

    def save(self, step: int, state: dict[str, Any], meta: dict[str, Any]) -> None:
        """Write `state` (a pytree of jax arrays) and `meta` (JSON) for `step`."""
        state = dict(state, rng=jax.random.key_data(state["rng"]))
        self._mngr.save(step, args=ocp.args.Composite(state=ocp.args.StandardSave(state),
                                                      meta=ocp.args.JsonSave(meta)), force=True)
        self._mngr.wait_until_finished()

    def restore(self, step: int, abstract_state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Read step `step` into arrays shaped and sharded like `abstract_state`; returns (state, meta)."""
        target = dict(abstract_state, rng=jax.random.key_data(abstract_state["rng"]))
        target = jax.tree_util.tree_map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)), target)
        out = self._mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target),
                                                               meta=ocp.args.JsonRestore()))
        state = dict(out["state"])
        # Through the host: a fresh key is uncommitted, so it follows the params to whatever mesh they use.
        state["rng"] = jax.random.wrap_key_data(jax.device_get(state["rng"]))
        return state, dict(out["meta"])

    def close(self) -> None:
        """Release the manager's resources."""
        self._mngr.close()
