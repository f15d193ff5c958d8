"""Typed job configuration: dataclass fields checked and coerced from plain data.

A job's ``Config`` is a dataclass. ``build_config`` turns user input (a dict
from the CLI, ``--set key=value`` strings, a JSON file) into an instance and
names the bad field when something does not fit. ``load_config`` is lenient:
it is used for records already in the store, so unknown keys are ignored and
missing keys take their defaults (old checkpoints keep loading).
"""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

from .errors import BadInput, shown

_MISSING = dataclasses.MISSING


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    name: str
    type: Any
    required: bool
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        return _type_name(self.type)


def fields_of(cls: type) -> list[FieldInfo]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.default is not _MISSING:
            default, required = f.default, False
        elif f.default_factory is not _MISSING:
            default, required = f.default_factory(), False
        else:
            default, required = None, True
        out.append(FieldInfo(f.name, hints[f.name], required, default, f.metadata.get("help", "")))
    return out


def build_config(cls: type, data: dict[str, Any]) -> Any:
    """Check and coerce ``data`` into ``cls``; raise BadInput naming the field."""
    known = {f.name: f for f in fields_of(cls)}
    # fields a job no longer has (its ``RETIRED``): an old script or schedule naming one still submits
    unknown = sorted(set(data) - set(known) - set(getattr(cls, "RETIRED", ())))
    if unknown:
        raise BadInput(f"unknown field {shown(unknown[0])} (fields: {', '.join(known) or 'none'})")
    values = {}
    for name, info in known.items():
        if name in data:
            try:
                values[name] = coerce(info.type, data[name])
            except (TypeError, ValueError) as exc:
                raise BadInput(f"field {name!r}: {exc}") from None
        elif info.required:
            raise BadInput(f"missing required field {name!r} ({info.type_name})")
    return cls(**values)


def load_config(cls: type, data: dict[str, Any] | None) -> Any:
    """Build from stored data, ignoring unknown keys and defaulting missing ones."""
    data = data or {}
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def coerce(tp: Any, value: Any) -> Any:
    """Coerce ``value`` (possibly a string from the command line) to type ``tp``.

    Generic types go by their origin (``_BY_ORIGIN``: unions, literals, lists,
    mappings), plain ones by the type itself (``_BY_TYPE``); a dataclass is
    built from a mapping, and any other class takes its own instances as they are.
    """
    if tp is Any:
        return value
    by_origin = _BY_ORIGIN.get(typing.get_origin(tp))
    if by_origin is not None:
        return by_origin(tp, value)
    by_type = _BY_TYPE.get(tp) if isinstance(tp, type) else None
    if by_type is not None:
        return by_type(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return build_config(tp, value)
    if isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ValueError(f"expected {_type_name(tp)}, got {shown(value)}")


_NULLS = ("none", "null")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _union(tp: Any, value: Any) -> Any:
    """The first member that takes the value; None (or the text none/null) if the union has it."""
    args = typing.get_args(tp)
    if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in _NULLS)):
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(arg, value)
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    raise ValueError("; ".join(errors) or f"expected {_type_name(tp)}")


def _literal(tp: Any, value: Any) -> Any:
    args = typing.get_args(tp)
    if value in args:
        return value
    raise ValueError(f"expected one of {', '.join(map(str, args))}, got {shown(value)}")


def _sequence(tp: Any, value: Any) -> list:
    """A list (from any sequence type, or comma-separated text) of the first type argument."""
    if isinstance(value, str):
        value = [v for v in value.split(",") if v != ""]
    if not isinstance(value, (list, tuple, set)):
        raise ValueError(f"expected a list, got {shown(value)}")
    args = typing.get_args(tp)
    inner = args[0] if args else Any
    return [coerce(inner, v) for v in value]


def _mapping(value: Any) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"expected a mapping, got {shown(value)}")
    return dict(value)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE:
        return True
    if isinstance(value, str) and value.lower() in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {shown(value)}")


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    raise ValueError(f"expected an integer, got {shown(value)}")


def _float(value: Any) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value)
    raise ValueError(f"expected a number, got {shown(value)}")


def _str(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected a string, got {shown(value)}")


_BY_ORIGIN: dict[Any, Callable[[Any, Any], Any]] = {
    Union: _union,
    types.UnionType: _union,
    Literal: _literal,
    list: _sequence,
    tuple: _sequence,
    set: _sequence,
    dict: lambda tp, value: _mapping(value),
}

_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    dict: _mapping,
    bool: _bool,
    int: _int,
    float: _float,
    str: _str,
}


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " | ".join(names) + (" | None" if type(None) in args else "")
    if origin is Literal:
        return "|".join(map(str, args))
    if origin in (list, tuple, set):
        return f"list[{_type_name(args[0]) if args else 'any'}]"
    return getattr(tp, "__name__", str(tp))
