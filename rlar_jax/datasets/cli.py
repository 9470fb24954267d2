"""`rlar-jax data {list,pull}`: the named datasets (bundled copies and full sets on the Hugging Face hub)."""

from __future__ import annotations

import argparse

from rlar_jax.datasets import registry


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024
    return str(n)


def _list(args: argparse.Namespace) -> int:
    rows = registry.list_datasets()
    print(f"{'name':<30} {'kind':<12} {'splits':<28} {'source':<46} size")
    for row in rows:
        size = row["size"]
        state = _size(size) if size is not None else ("not installed" if row["source"] == "bundled" else "not pulled")
        print(f"{row['name']:<30} {row['kind']:<12} {','.join(row['splits']):<24} {row['source']:<46} {state}")
    print("\nuse in a config: data.train_path: NAME:SPLIT (e.g. gsm8k:train), or a hub name owner/name:split")
    return 0


def _pull(args: argparse.Namespace) -> int:
    try:
        got = registry.pull(args.name)
    except registry.HubUnavailable as e:
        raise SystemExit(f"rlar-jax data pull: {e}") from e
    except registry.DatasetError as e:
        raise SystemExit(f"rlar-jax data pull: {e}") from e
    spec = registry.parse_spec(args.name)
    entry = spec[0] if spec else None
    for split, value in got.items():
        if entry is not None and entry.bundled:
            print(f"{entry.name}:{split}\t{value}")
        else:
            print(f"{args.name.partition(':')[0]}:{split}\t{value} rows (in the Hugging Face datasets cache)")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `data` command group."""
    p = subparsers.add_parser("data", help="list and pull named datasets (bundled or on the hub)")
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    sub.required = True

    ls = sub.add_parser("list", help="known dataset names: kind, splits, bundled or hub, size on disk")
    ls.set_defaults(func=_list)

    pull = sub.add_parser("pull", help="bundled: print the local files; hub: download into the HF cache")
    pull.add_argument("name", metavar="NAME[:SPLIT]", help="a name from `rlar-jax data list`")
    pull.set_defaults(func=_pull)
