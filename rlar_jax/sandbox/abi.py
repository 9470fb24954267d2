"""Lean calls into the guest's exports.

`wasmtime.component.Func.__call__` rebuilds the function's type description through several FFI calls
on every invocation, which is most of a short verifier call. The guest's exports only take strings and
a u32 and return `string`, `result<f64, string>` or `result<_/string, string>`, so their types are read
once here and values are lowered/lifted directly. Pinned to wasmtime-py 50 (pyproject pins it).
"""

from __future__ import annotations

import ctypes
from ctypes import byref

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime.component import Instance, String, U32

_KIND_F64 = ffi.WASMTIME_COMPONENT_F64.value
_KIND_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_KIND_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_BYTE_PTR = ctypes.POINTER(ffi.wasm_byte_t)


def _lift(val: "ffi.wasmtime_component_val_t"):
    kind = val.kind
    if kind == _KIND_F64:
        return float(val.of.f64)
    if kind == _KIND_STRING:
        s = val.of.string
        return ctypes.string_at(s.data, s.size).decode("utf-8", errors="replace")
    raise TypeError(f"unexpected component value kind {kind}")


class Export:
    """One guest export; `__call__` returns `(is_ok, payload)` for result types, else the payload.

    Raises `wasmtime.WasmtimeError` (or `wasmtime.ExitTrap`) when the guest traps.
    """

    def __init__(self, instance: Instance, store: wasmtime.Store, name: str) -> None:
        func = instance.get_func(store, name)
        if func is None:
            raise RuntimeError(f"the compiled guest has no export {name!r}; rebuild it with `rlar-jax sandbox build`")
        fty = func.type(store)
        self.name = name
        self._func = func._func
        self._kinds = []
        for pname, ty in fty.params:
            if isinstance(ty, String):
                self._kinds.append("s")
            elif isinstance(ty, U32):
                self._kinds.append("u")
            else:
                raise TypeError(f"guest export {name}: unsupported parameter {pname}: {ty}")
        self._has_result = fty.result is not None

    def __call__(self, store: wasmtime.Store, *args):
        n = len(args)
        if n != len(self._kinds):
            raise TypeError(f"{self.name} takes {len(self._kinds)} arguments, got {n}")
        params = (ffi.wasmtime_component_val_t * max(n, 1))()
        lowered = 0
        try:
            for i, (kind, value) in enumerate(zip(self._kinds, args)):
                slot = params[i]
                if kind == "s":
                    raw = value.encode("utf-8")
                    slot.kind = _KIND_STRING
                    ffi.wasm_byte_vec_new(byref(slot.of.string), len(raw), ctypes.cast(ctypes.c_char_p(raw), _BYTE_PTR))
                else:
                    slot.kind = ffi.WASMTIME_COMPONENT_U32.value
                    slot.of.u32 = value
                lowered += 1
            result = ffi.wasmtime_component_val_t()
            err = ffi.wasmtime_component_func_call(byref(self._func), store._context(), params, n,
                                                   byref(result) if self._has_result else None,
                                                   1 if self._has_result else 0)
            if err:
                raise wasmtime.WasmtimeError._from_ptr(err)
            if not self._has_result:
                return None
            try:
                if result.kind == _KIND_RESULT:
                    inner = result.of.result
                    payload = _lift(inner.val.contents) if inner.val else None
                    return bool(inner.is_ok), payload
                return _lift(result)
            finally:
                ffi.wasmtime_component_val_delete(byref(result))
        finally:
            for i in range(lowered):
                ffi.wasmtime_component_val_delete(byref(params[i]))
