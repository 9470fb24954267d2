"""`rlar-jax train` and `rlar-jax plot`."""

from __future__ import annotations

import argparse
import json
import logging


def _quiet_libraries() -> None:
    """Keep orbax/absl progress chatter out of the training log."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("absl", "jax", "orbax", "matplotlib", "httpx", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.WARNING)
    except ImportError:
        pass


def _train(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from rlar_jax.config import load_config
    from rlar_jax.trainer import Trainer

    cfg = load_config(args.config, args.overrides)
    trainer = Trainer(cfg)
    try:
        summary = trainer.run()
    finally:
        trainer.close()
    print(json.dumps(summary, sort_keys=True))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from rlar_jax.metrics import plot_curves

    print(plot_curves(args.run_dir, args.out))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `train` and `plot` commands."""
    p = sub.add_parser("train", help="run GRPO training from a YAML config",
                       description="Train with GRPO. Overrides are dotted KEY=VALUE pairs, e.g. trainer.steps=20.")
    p.add_argument("--config", required=True, help="experiment YAML file (see configs/)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="dotted config overrides")
    p.set_defaults(func=_train)
    p = sub.add_parser("plot", help="PNG of a run's reward and loss curves")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="output PNG (default RUN_DIR/curves.png)")
    p.set_defaults(func=_plot)
