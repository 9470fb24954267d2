"""Typed dataclasses from YAML mappings: the checks behind every config section.

`build(cls, mapping)` instantiates a dataclass, checking every key against its fields and every value
against its annotation, recursively; errors are `ConfigError`s naming the full dotted key and the
expected type. `Annotated[str, OneOf(names)]` declares a string checked against names read when the
config is built (a registry that user code may extend). `apply_override` applies one dotted
`a.b.c=value` command-line override to a mapping.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Literal

import yaml


class ConfigError(ValueError):
    """A configuration key is unknown or its value has the wrong type."""


@dataclasses.dataclass(frozen=True)
class OneOf:
    """`Annotated[str, OneOf(names, hint)]`: the value must be one of `names()`, called when the config is
    built, so entries registered after this module was imported count; `hint` ends the error message
    (e.g. how to register more)."""

    names: Callable[[], Iterable[str]]
    hint: str = ""


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is Annotated:
        return _type_name(typing.get_args(tp)[0])
    if typing.get_origin(tp) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is not None:
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in typing.get_args(tp))}]"
    return getattr(tp, "__name__", str(tp))


# A number written in decimal or scientific notation: YAML 1.1 reads `1e-6` (no dot) and `1E3` as strings.
_FLOAT_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _float_text(value: Any) -> float | None:
    """`value` as a float when it is a str spelling a number (`1e-6`, `-2.5E+3`; not nan/inf), else None."""
    if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
        return float(value)
    return None


def _convert(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against the annotation `tp` (ints, and strings spelling a number such as YAML's
    `1e-6`, are accepted where floats are expected)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Annotated:
        base, *extras = typing.get_args(tp)
        value = _convert(value, base, key)
        for one_of in (e for e in extras if isinstance(e, OneOf)):
            names = list(one_of.names())
            if value not in names:
                hint = f" ({one_of.hint})" if one_of.hint else ""
                raise ConfigError(f"{key}: expected one of {' | '.join(map(repr, names))}, got {value!r}{hint}")
        return value
    if origin is Literal:
        if value in typing.get_args(tp):
            return value
        raise ConfigError(f"{key}: expected one of {_type_name(tp)}, got {value!r}")
    if isinstance(tp, types.UnionType) or origin is typing.Union:
        args = typing.get_args(tp)
        if float in args and str not in args and _float_text(value) is not None:
            return _float_text(value)
        errors = []
        for arg in args:
            try:
                return _convert(value, arg, key)
            except ConfigError as e:
                errors.append(e)
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}")
    if dataclasses.is_dataclass(tp):
        return build(tp, value, key)
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping ({_type_name(tp)}), got {type(value).__name__} {value!r}")
        _, vt = typing.get_args(tp) or (str, Any)
        return {k: _convert(v, vt, f"{key}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list ({_type_name(tp)}), got {type(value).__name__} {value!r}")
        args = typing.get_args(tp)
        item_t = args[0] if args else Any
        items = [_convert(v, item_t, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and _float_text(value) is not None:
        return _float_text(value)
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {tp.__name__}, got bool {value!r}")
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def build(cls: type, data: dict[str, Any] | None, prefix: str = "") -> Any:
    """Instantiate dataclass `cls` from a mapping, checking every key and type recursively."""
    data = {} if data is None else data
    where = prefix or "config"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - fields)
    if unknown:
        dotted = ", ".join(f"{prefix + '.' if prefix else ''}{k}" for k in unknown)
        raise ConfigError(f"unknown config key(s) {dotted}; valid keys under {where}: {sorted(fields)}")
    kwargs = {k: _convert(v, hints[k], f"{prefix + '.' if prefix else ''}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {e}") from e


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one `a.b.c=value` override in place; the value is parsed as YAML (`1`, `true`, `[1, 2]`)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected KEY=VALUE, e.g. trainer.steps=20")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"override {override!r}: empty key component")
    node = data
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {override!r}: {p} is not a section")
        node = child
    node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""


def yaml_error(path: Path, error: yaml.YAMLError) -> str:
    """`path:line: message` for a YAML parse error (the line 1-based; yaml's marks count from 0)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    message = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    context, context_mark = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context:
        started = f" started on line {context_mark.line + 1}" if context_mark is not None and mark is not None \
            and context_mark.line != mark.line else ""
        message = f"{message} ({context}{started})"
    where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
    return f"{where}: invalid YAML: {message}"
