"""The single `rlar-jax` entry point.

Each command group lives next to the code it drives and exposes `register(subparsers)`, which adds its
sub-commands and sets `func` on each parser; this module only collects them.

Errors in what the user gave (config files and keys, data files, dataset and model names, flag values)
end the command with one line `error: <message>` on stderr and exit code 2; `--debug` shows the
traceback instead. Any other exception is a bug and keeps its traceback.
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
    "rlar_jax.memory_cli",
    "rlar_jax.rewards.cli",
    "rlar_jax.rewards.models.cli",
    "rlar_jax.evaluate",
    "rlar_jax.rewardbench",
    "rlar_jax.generate",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every registered command group."""
    parser = argparse.ArgumentParser(prog="rlar-jax", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of the one-line message")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


# Exit code of a command stopped by an error in its input (as argparse uses for bad arguments).
USAGE_ERROR = 2


def _user_error(exc: BaseException) -> str | None:
    """The one-line message of an error in the user's input, or None for anything else (a bug).

    Known: ConfigError, DataError, the dataset registry's DatasetError and any other ValueError raised by
    the checks; a missing file, directory or model (FileNotFoundError, IsADirectoryError,
    NotADirectoryError, PermissionError); and a KeyError carrying a sentence (unknown catalog, verifier
    or model names raise those). A KeyError holding a bare key is a failed lookup in the code: a bug.
    """
    from rlar_jax.config import ConfigError
    from rlar_jax.datasets.examples import DataError
    from rlar_jax.datasets.registry import DatasetError

    if isinstance(exc, KeyError):
        if len(exc.args) != 1 or not isinstance(exc.args[0], str) or " " not in exc.args[0].strip():
            return None
        message = exc.args[0]
    elif isinstance(exc, (ConfigError, DataError, DatasetError, ValueError, FileNotFoundError,
                          IsADirectoryError, NotADirectoryError, PermissionError)):
        message = str(exc) or type(exc).__name__
    else:
        return None
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (USAGE_ERROR after an error in the input)."""
    args = build_parser().parse_args(argv)
    try:
        rc = args.func(args)
    except Exception as exc:  # noqa: BLE001 - sorted into input errors and bugs below
        message = None if args.debug else _user_error(exc)
        if message is None:
            raise
        sys.stdout.flush()
        print(f"error: {message}", file=sys.stderr)
        return USAGE_ERROR
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
