"""`rlar-jax verifiers ...` and `rlar-jax sandbox ...` commands."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path


# Limits field -> the flag that sets it.
_LIMIT_FLAGS = {"fuel": "--fuel", "deadline_s": "--deadline", "memory_bytes": "--memory-mb"}


def _limits(args: argparse.Namespace):
    """Limits from --fuel/--deadline/--memory-mb (the defaults where not given); a bad value names its flag."""
    from rlar_jax.sandbox.limits import Limits

    given = {"fuel": args.fuel, "deadline_s": args.deadline, "memory_bytes": args.memory_mb}
    values = {field: getattr(Limits, field) if value is None else value << 20 if field == "memory_bytes" else value
              for field, value in given.items()}
    try:
        return Limits(**values)
    except ValueError as e:
        for field, flag in _LIMIT_FLAGS.items():
            prefix = f"Limits.{field} "
            if str(e).startswith(prefix):
                reason = re.sub(r", got [^,]*$", "", str(e).removeprefix(prefix))
                raise ValueError(f"{flag} {given[field]}: {reason}") from None
        raise


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fuel", type=int, default=None, help="fuel (wasm instructions) per call")
    p.add_argument("--deadline", type=float, default=None, help="wall-clock seconds per call")
    p.add_argument("--memory-mb", type=int, default=None, help="guest memory cap in MiB (at least 32)")


def _load(spec: str) -> str:
    from rlar_jax.sandbox.sources import load_verifier

    return load_verifier(spec)


def _cmd_list(args: argparse.Namespace) -> int:
    from rlar_jax.sandbox.sources import docstring_line, seed_verifiers, source_sha256

    for vid, path in seed_verifiers().items():
        source = path.read_text(encoding="utf-8")
        print(f"{vid:<20} {source_sha256(source)[:12]}  {docstring_line(source)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from rlar_jax.sandbox.runtime import Sandbox

    limits = _limits(args)
    source = _load(args.verifier)
    with Sandbox(limits) as sandbox:
        report = sandbox.validate(source)
    print(json.dumps(report.to_dict(), indent=2))
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _read_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object with prompt/response/reference/meta")
            for key in ("prompt", "response", "reference"):
                if not isinstance(row.get(key), str):
                    raise ValueError(f"{path}:{lineno}: field {key!r} must be a string")
            if not isinstance(row.get("meta", {}), dict):
                raise ValueError(f"{path}:{lineno}: field 'meta' must be an object")
            rows.append({k: row.get(k, {} if k == "meta" else None) for k in ("prompt", "response", "reference", "meta")})
    return rows


def _cmd_score(args: argparse.Namespace) -> int:
    from rlar_jax.sandbox.pool import SandboxPool
    from rlar_jax.sandbox.runtime import Sandbox

    if args.processes < 1:
        raise ValueError(f"--processes must be >= 1 (1 = score in this process), got {args.processes}")
    limits = _limits(args)
    source = _load(args.verifier)
    rows = _read_rows(Path(args.input))
    if not rows:
        raise ValueError(f"--input {args.input}: the file has no rows (expected one JSON object per line "
                         "with prompt, response, reference and optionally meta)")
    backend = SandboxPool(args.processes, limits) if args.processes > 1 else Sandbox(limits)
    with backend:
        results = backend.score_batch(source, rows)
    for i, res in enumerate(results):
        d = res.to_dict()
        print(json.dumps({"index": i, "score": d["score"], "error_kind": d["error_kind"], "message": d["message"]}))
    return 0


def _cmd_build(args: argparse.Namespace) -> int:
    from rlar_jax.sandbox.build import ensure_guest

    t0 = time.perf_counter()
    info = ensure_guest(force=args.force)
    total = time.perf_counter() - t0
    state = (f"built (componentize {info.componentize_s:.1f} s, compile {info.compile_s:.1f} s)"
             if info.built else "already cached")
    print(f"{info.path}\n{state}; {total:.1f} s; {info.path.stat().st_size / 2**20:.1f} MiB")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `verifiers` and `sandbox` command groups."""
    ver = subparsers.add_parser("verifiers", help="list, check and run programmatic verifiers")
    vsub = ver.add_subparsers(dest="verifiers_command", metavar="SUBCOMMAND")
    vsub.required = True
    p = vsub.add_parser("list", help="seed verifiers: id, sha256 prefix, summary")
    p.set_defaults(func=_cmd_list)
    p = vsub.add_parser("check", help="run a verifier's CASES in the sandbox; exit 0 only if all pass")
    p.add_argument("verifier", metavar="FILE_OR_ID")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_check)
    p = vsub.add_parser("score", help="score JSONL rows (prompt, response, reference, meta) with a verifier")
    p.add_argument("verifier", metavar="FILE_OR_ID")
    p.add_argument("--input", required=True, help="JSONL file of rows")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1: in-process)")
    _add_limit_options(p)
    p.set_defaults(func=_cmd_score)

    box = subparsers.add_parser("sandbox", help="the WebAssembly sandbox runtime")
    bsub = box.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    bsub.required = True
    p = bsub.add_parser("build", help="build and cache the guest component (once per environment)")
    p.add_argument("--force", action="store_true", help="rebuild even if cached")
    p.set_defaults(func=_cmd_build)
