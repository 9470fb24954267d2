"""Lean calls into the guest's exports.

`wasmtime.component.Func.__call__` rebuilds the function's type through several FFI calls and
allocates fresh value arrays on every invocation, which is most of a short verifier call. The
guest's exports only take strings and a u32 and return `string`, `result<f64, string>` or
`result<_/string, string>`, so their types are read once, argument/result buffers are allocated once
per export, and values are lowered/lifted with direct calls into the wasmtime C API (through private
function pointers, so wasmtime-py's own bindings are left untouched). Pinned to wasmtime-py 50.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char_p, c_size_t, c_uint64, c_void_p

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime.component import Instance, String, U32

_VAL = ffi.wasmtime_component_val_t
_VAL_SIZE = ctypes.sizeof(_VAL)
_STRING_OFFSET = _VAL.of.offset + ffi.wasmtime_component_valunion_t.string.offset
_KIND_F64 = ffi.WASMTIME_COMPONENT_F64.value
_KIND_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_KIND_U32 = ffi.WASMTIME_COMPONENT_U32.value
_KIND_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_KIND_BOOL = ffi.WASMTIME_COMPONENT_BOOL.value


def _c(name: str, restype, *argtypes):
    fn = ffi.dll[name]  # __getitem__ returns a new function object: our argtypes stay private
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


_vec_new = _c("wasm_byte_vec_new", None, c_void_p, c_size_t, c_char_p)
_val_delete = _c("wasmtime_component_val_delete", None, c_void_p)
_func_call = _c("wasmtime_component_func_call", c_void_p, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, c_size_t)
_set_fuel = _c("wasmtime_context_set_fuel", c_void_p, c_void_p, c_uint64)
_get_fuel = _c("wasmtime_context_get_fuel", c_void_p, c_void_p, c_void_p)
_set_deadline = _c("wasmtime_context_set_epoch_deadline", None, c_void_p, c_uint64)


def _raise(err: int) -> None:
    raise wasmtime.WasmtimeError._from_ptr(ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t)))


def _lift(val: _VAL):
    kind = val.kind
    if kind == _KIND_F64:
        return float(val.of.f64)
    if kind == _KIND_STRING:
        s = val.of.string
        return ctypes.string_at(s.data, s.size).decode("utf-8", errors="replace")
    raise TypeError(f"unexpected component value kind {kind}")


class StoreHandle:
    """Fuel and epoch-deadline control of one Store through its (stable) context pointer."""

    def __init__(self, store: wasmtime.Store) -> None:
        self.store = store
        self.ctx = ctypes.cast(store._context(), c_void_p).value
        self._fuel = c_uint64()
        self._fuel_ref = ctypes.addressof(self._fuel)

    def set_fuel(self, fuel: int) -> None:
        err = _set_fuel(self.ctx, fuel)
        if err:
            _raise(err)

    def get_fuel(self) -> int:
        err = _get_fuel(self.ctx, self._fuel_ref)
        if err:
            _raise(err)
        return self._fuel.value

    def set_epoch_deadline(self, ticks: int) -> None:
        _set_deadline(self.ctx, ticks)


class Export:
    """One guest export; `__call__` returns `(is_ok, payload)` for result types, else the payload.

    Raises `wasmtime.WasmtimeError` (or `wasmtime.ExitTrap`) when the guest traps. Not reentrant.
    """

    def __init__(self, instance: Instance, handle: StoreHandle, name: str) -> None:
        store = handle.store
        func = instance.get_func(store, name)
        if func is None:
            raise RuntimeError(f"the compiled guest has no export {name!r}; rebuild it with `rlar-jax sandbox build`")
        fty = func.type(store)
        self.name = name
        self._handle = handle
        self._func = func._func
        self._func_ref = ctypes.addressof(func._func)
        kinds = []
        for pname, ty in fty.params:
            if isinstance(ty, String):
                kinds.append(_KIND_STRING)
            elif isinstance(ty, U32):
                kinds.append(_KIND_U32)
            else:
                raise TypeError(f"guest export {name}: unsupported parameter {pname}: {ty}")
        self._kinds = tuple(kinds)
        self._params = (_VAL * max(len(kinds), 1))()
        base = ctypes.addressof(self._params)
        self._slots = tuple(base + i * _VAL_SIZE for i in range(len(kinds)))
        self._has_result = fty.result is not None
        self._result = _VAL()
        self._result_ref = ctypes.addressof(self._result) if self._has_result else None

    def __call__(self, *args):
        kinds, params, slots = self._kinds, self._params, self._slots
        if len(args) != len(kinds):
            raise TypeError(f"{self.name} takes {len(kinds)} arguments, got {len(args)}")
        lowered = 0
        try:
            for i, value in enumerate(args):
                slot = params[i]
                if kinds[i] == _KIND_STRING:
                    try:
                        raw = value.encode("utf-8")
                    except UnicodeEncodeError:  # lone surrogates become "?", one code point each
                        raw = value.encode("utf-8", "replace")
                    slot.kind = _KIND_STRING
                    _vec_new(slots[i] + _STRING_OFFSET, len(raw), raw)
                else:
                    slot.kind = _KIND_U32
                    slot.of.u32 = value
                lowered += 1
            err = _func_call(self._func_ref, self._handle.ctx, slots[0] if slots else None, len(args),
                             self._result_ref, 1 if self._has_result else 0)
        finally:
            for i in range(lowered):
                _val_delete(slots[i])
                params[i].kind = _KIND_BOOL
        if err:
            _raise(err)
        if not self._has_result:
            return None
        result = self._result
        try:
            if result.kind == _KIND_RESULT:
                inner = result.of.result
                payload = _lift(inner.val.contents) if inner.val else None
                return bool(inner.is_ok), payload
            return _lift(result)
        finally:
            _val_delete(self._result_ref)
            # The C API assigns into `results` (dropping what is there), so leave a plain bool behind.
            result.kind = _KIND_BOOL
            result.of.boolean = False
