"""An in-process run of configs/tiny.yaml set up from YAML overrides alone, as a user would select a
registered loss or advantage estimator (the reward is `rewards_for_tests:LengthReward`)."""

from __future__ import annotations

import json
from pathlib import Path

TINY = Path(__file__).resolve().parents[1] / "configs" / "tiny.yaml"


def run_tiny(run_dir: Path, *overrides: str, on_step_end=()):
    """Train the tiny config in `run_dir` with `overrides` (and Trainer hooks); returns (the Trainer, its
    metrics rows)."""
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    cfg = load_config(TINY, [f"trainer.run_dir={run_dir}", "rewards.system=custom",
                             "rewards.custom=rewards_for_tests:LengthReward", "trainer.eval_before=false",
                             "trainer.eval_after=false", "trainer.checkpoint_every=0", "trainer.plot=false",
                             "trainer.tensorboard=false", "trainer.progress=false", *overrides])
    trainer = Trainer(cfg, on_step_end=on_step_end)
    try:
        trainer.run()
    finally:
        trainer.close()
    return trainer, [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
