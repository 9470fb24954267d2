"""Update only the groups that carry a learning signal.

A GRPO group whose rewards are all equal has zero advantages; without a KL term and with a row-additive
loss (`GRPOConfig.can_drop_zero_advantage_rows`) its rows add nothing to the loss sum, only to the loss
denominator. With sparse rewards most groups are like that, so the update runs over the live groups
alone (padded up to one of a few row buckets, so few shapes are compiled) and the dead rows' share of the
denominator is added back: the gradient is the full batch's, exactly. The step's forward-pass metrics
(entropy, clip fractions, ratio) then describe the live rows.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from rlar_jax.grpo import dead_row_denominator
from rlar_jax.grpo_config import GRPOConfig
from rlar_jax.sharding import BATCH_AXES, batch_sharding, gather, host_local


def row_buckets(rows: int, group_size: int, mesh: Mesh) -> tuple[int, ...]:
    """Row counts a reduced update may have: rows/8, rows/4, rows/2 where whole groups fit and the
    batch still splits evenly over the mesh's batch axes (empty when nothing qualifies)."""
    shards = math.prod(mesh.shape[a] for a in BATCH_AXES if a in mesh.shape)
    return tuple(sorted({b for b in (rows // 8, rows // 4, rows // 2)
                         if b > 0 and rows % b == 0 and b % group_size == 0 and b % shards == 0}))


class LiveGroups:
    """Shrinks a global GRPO batch to its live groups (see module doc)."""

    def __init__(self, cfg: GRPOConfig, rows: int, mesh: Mesh):
        cfg.check_can_drop_zero_advantage_rows("dropping zero-advantage groups")
        self.cfg, self.rows, self.mesh = cfg, rows, mesh
        self.buckets = row_buckets(rows, cfg.group_size, mesh)
        self._denominator = jax.jit(lambda batch, live: dead_row_denominator(batch, live, cfg))

        def take(batch: dict, idx: jax.Array, n_live: int) -> dict:
            out = {k: jax.lax.with_sharding_constraint(jnp.take(v, idx, axis=0), batch_sharding(mesh, v.ndim))
                   for k, v in batch.items()}
            out["valid"] = out["valid"] & (jnp.arange(idx.shape[0]) < n_live)  # padding rows count for nothing
            return out

        self._take = jax.jit(take, static_argnums=2)

    def __call__(self, batch: dict) -> tuple[dict, jax.Array | float, int]:
        """(batch to update on, denominator offset, its row count); the batch itself when no bucket
        is smaller than its live rows (or no group is live: the train step skips those itself)."""
        if not self.buckets:
            return batch, 0.0, self.rows
        # Every process sees the same global advantages, so all pick the same rows and shapes.
        adv = gather(host_local(batch["advantages"], self.mesh))
        live = np.repeat((adv.reshape(-1, self.cfg.group_size) != 0).any(axis=1), self.cfg.group_size)
        n_live = int(live.sum())
        size = next((b for b in self.buckets if b >= n_live), self.rows)
        if n_live == 0 or size >= self.rows:
            return batch, 0.0, self.rows
        offset = self._denominator(batch, jnp.asarray(live))
        idx = np.concatenate([np.flatnonzero(live), np.flatnonzero(~live)[:size - n_live]]).astype(np.int32)
        return self._take(batch, jnp.asarray(idx), n_live), offset, size
