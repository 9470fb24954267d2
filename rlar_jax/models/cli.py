"""`rlar-jax models {list,pull,export}`: the model cache and checkpoint conversion."""

from __future__ import annotations

import argparse

from rlar_jax.models import sources


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _list(args: argparse.Namespace) -> int:
    print(f"cache: {sources.home() / 'models'}")
    for row in sources.list_models():
        state = f"{row['path']} ({_size(row['size'])})" if row["path"] else "not pulled"
        print(f"{row['name']:<28} {row['source']:<28} {state}")
        print(f"{'':<28} {row['description']}")
    return 0


def _pull(args: argparse.Namespace) -> int:
    for name in args.names:
        path = sources.pull(name, force=args.force)
        print(f"{name}: {path} ({_size(path.stat().st_size)})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from rlar_jax.models import export_hf, load_model

    loaded = load_model(args.model, dtype=args.dtype)
    out = export_hf(loaded.model, loaded.config, loaded.tokenizer, args.out)
    print(f"{args.model} -> {out}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` command group."""
    p = subparsers.add_parser("models", help="list, pull and export models")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="known model names and what is cached")
    ls.set_defaults(func=_list)

    pull = sub.add_parser("pull", help="put known models into the cache ($RLAR_JAX_HOME/models)")
    pull.add_argument("names", nargs="+", choices=sorted(sources.REGISTRY), metavar="NAME",
                      help=f"one of {sorted(sources.REGISTRY)}")
    pull.add_argument("--force", action="store_true", help="copy/download again even when cached")
    pull.set_defaults(func=_pull)

    ex = sub.add_parser("export", help="write a model (name or path) as an HF safetensors directory")
    ex.add_argument("model", help="known name, GGUF file or checkpoint directory")
    ex.add_argument("out", help="output directory")
    ex.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ex.set_defaults(func=_export)
