"""What the host offers the guest: WASI 0.2, except that clock waits are refused.

wasmtime's epoch deadline interrupts wasm code but not a host call in progress, so a verifier blocked
in `time.sleep` or `select` (which become monotonic-clock subscriptions under WASI) would hold its
thread for as long as it asked. The guest runtime replaces those Python functions, but a verifier can
re-import the underlying C modules; refusing the subscriptions on the host closes that path for good.
Reading the clock stays available.
"""

from __future__ import annotations

import time

import wasmtime
from wasmtime.component import Component, Linker

_CLOCK = "wasi:clocks/monotonic-clock@"
REFUSED = "blocking waits (sleep, select or poll with a timeout) are not available in the verifier sandbox"


def _refuse(store, *args) -> None:
    raise wasmtime.WasmtimeError(REFUSED)


def _now(store) -> int:
    return time.monotonic_ns()


def _resolution(store) -> int:
    return 1


def guest_linker(engine: wasmtime.Engine, component: Component) -> Linker:
    """A linker with WASI 0.2 whose monotonic clock can be read but not waited on."""
    linker = Linker(engine)
    linker.add_wasip2()
    names = [name for name in component.type.imports(engine) if name.startswith(_CLOCK)]
    if not names:
        return linker  # a guest that imports no clock cannot wait on one
    linker.allow_shadowing = True
    with linker.root() as root:
        for name in names:
            with root.add_instance(name) as clock:  # replaces the WASI instance as a whole
                clock.add_func("now", _now)
                clock.add_func("resolution", _resolution)
                clock.add_func("subscribe-instant", _refuse)
                clock.add_func("subscribe-duration", _refuse)
    linker.allow_shadowing = False
    return linker
