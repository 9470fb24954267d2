"""The single `rlar-jax` entry point.

Each command group lives next to the code it drives and exposes `register(subparsers)`, which adds its
sub-commands and sets `func` on each parser; this module only collects them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command groups, in the order of the data flow. Each module defines `register(subparsers) -> None`.
_COMMAND_MODULES: tuple[str, ...] = (
    "rlar_jax.sandbox.cli",
    "rlar_jax.models.cli",
    "rlar_jax.datasets.cli",
    "rlar_jax.train_cli",
    "rlar_jax.rewards.cli",
    "rlar_jax.rewards.models.cli",
    "rlar_jax.evaluate",
    "rlar_jax.rewardbench",
    "rlar_jax.generate",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered command group."""
    parser = argparse.ArgumentParser(prog="rlar-jax", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    rc = args.func(args)
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
