"""`rlar-jax models {list,pull,export}`: the model cache and checkpoint conversion (models and training runs)."""

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
    from rlar_jax.models.export_run import export_run, is_run_path

    if is_run_path(args.model):
        out, step = export_run(args.model, args.out, config=args.config, overrides=args.overrides, dtype=args.dtype,
                               merge_lora=args.merge_lora)
        print(f"{args.model} (step {step}) -> {out}")
        return 0
    if args.config or args.overrides or args.merge_lora:
        raise SystemExit(f"models export: --config, --merge-lora and overrides apply to run directories; "
                         f"{args.model!r} is not one")
    from rlar_jax.models import export_hf, load_model

    loaded = load_model(args.model, dtype=args.dtype or "float32")
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

    ex = sub.add_parser("export", help="write a model or a training run's policy as an HF safetensors directory",
                        description="MODEL is a known name, GGUF file or HF checkpoint directory, or a training "
                                    "run: its run directory (latest checkpoint), its checkpoints/ folder or one "
                                    "step's folder (checkpoints/<step>). The output loads with transformers' "
                                    "AutoModelForCausalLM / AutoTokenizer as it is.")
    ex.add_argument("model", metavar="MODEL_OR_RUN",
                    help="known name, GGUF file, checkpoint directory or run directory")
    ex.add_argument("out", help="output directory")
    ex.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                    help="parameter dtype written (default: the run's model.param_dtype, float32 for models)")
    ex.add_argument("--config", default=None,
                    help="runs: the experiment YAML it was trained with (default: the run's config.json)")
    ex.add_argument("--merge-lora", action="store_true",
                    help="runs trained with model.lora: fold the adapters into the weights (a plain HF checkpoint)")
    ex.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="runs with --config: its dotted overrides")
    ex.set_defaults(func=_export)
