"""`python audit_launcher.py -m MODULE [ARGS...]`: run MODULE (like `python -m`, from the working directory)
with an audit hook that records every file or directory it opens or lists.

Environment:
  AUDIT_ALLOWED    os.pathsep-separated roots every opened path must lie under
  AUDIT_FORBIDDEN  os.pathsep-separated roots no opened path may lie under (checked first)
  AUDIT_LOG        where the report goes at exit: JSON {"violations": {path: event}, "modules": {name: file}}
Only this process is audited (not the processes it starts).
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys

EVENTS = ("open", "os.listdir", "os.scandir")


def _roots(name: str) -> list[str]:
    return [os.path.realpath(p) for p in os.environ.get(name, "").split(os.pathsep) if p]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


def main() -> None:
    if len(sys.argv) < 3 or sys.argv[1] != "-m":
        raise SystemExit("usage: python audit_launcher.py -m MODULE [ARGS...]")
    allowed, forbidden = _roots("AUDIT_ALLOWED"), _roots("AUDIT_FORBIDDEN")
    log = os.environ["AUDIT_LOG"]
    violations: dict[str, str] = {}
    busy = False

    def hook(event: str, args: tuple) -> None:
        nonlocal busy
        if busy or event not in EVENTS or not args:
            return
        target = args[0]
        if target is None or isinstance(target, int):
            target = "."
        busy = True
        try:
            path = os.path.realpath(os.fsdecode(target))
            if _under(path, forbidden) or not _under(path, allowed):
                violations.setdefault(path, event)
        except (TypeError, ValueError):
            pass
        finally:
            busy = False

    def report() -> None:
        modules = {name: getattr(sys.modules.get(name), "__file__", None) for name in ("rlar_jax",)}
        with open(log, "w") as f:
            json.dump({"violations": violations, "modules": modules}, f, indent=1)

    atexit.register(report)
    module, sys.argv = sys.argv[2], [sys.argv[2], *sys.argv[3:]]
    sys.path[0] = os.getcwd()  # like `python -m`: the working directory, not this script's folder
    sys.addaudithook(hook)
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
