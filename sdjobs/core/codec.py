"""msgpack encoding for configuration, state, progress and output.

Strings are packed with ``surrogateescape`` so that file names which are not
valid UTF-8 (which Python represents with lone surrogates) round-trip byte
for byte. Dataclasses are packed as their field dicts; ``to_state`` makes such
a dict (a checkpoint) the dataclass again, old or new.
"""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

import msgpack

from .errors import IncompatibleState


def _default(obj: Any) -> Any:
    import dataclasses  # (here: a command that only reads never needs it, core/plain.py)

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__fspath__"):
        return obj.__fspath__()
    raise TypeError(f"cannot encode {type(obj).__name__} in a job record")


def pack(obj: Any) -> bytes:
    packed: bytes = msgpack.packb(obj, default=_default, unicode_errors="surrogateescape", use_bin_type=True)
    return packed


def unpack(data: bytes | None) -> Any:
    if data is None:
        return None
    return msgpack.unpackb(data, raw=False, unicode_errors="surrogateescape", strict_map_key=False)


# -- checkpoint state as a dataclass ----------------------------------------------------
S = TypeVar("S")


def to_state(cls: type[S], data: Any) -> S:
    """The dataclass ``cls`` from checkpointed data (its fields packed as a dict): keys
    missing from ``data`` take their defaults (state written by an older version), keys
    ``cls`` does not know are ignored (by a newer one, or a renamed field), and fields
    typed as dataclasses, or lists, tuples, sets and dict values of them, are rebuilt.
    A field renamed since keeps reading its old key when it names it in its metadata:
    ``field(default=0, metadata={"was": "ti"})``. A required field that ``data`` lacks
    raises ``IncompatibleState``."""
    import dataclasses  # (here, as in _default)

    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise IncompatibleState(f"the checkpoint holds {type(data).__name__}, not the fields of {cls.__qualname__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        key = f.name if f.name in data else f.metadata.get("was", f.name)
        if key in data:
            values[f.name] = _rebuild(hints.get(f.name, Any), data[key])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise IncompatibleState(f"the checkpoint has no {f.name!r} for {cls.__qualname__} (give it a default)")
    return cls(**values)


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    hints = _HINTS.get(cls)
    if hints is None:
        hints = _HINTS[cls] = typing.get_type_hints(cls)
    return hints


def _rebuild(tp: Any, value: Any) -> Any:
    """``value`` as unpacked, made the ``tp`` its field declares where msgpack lost it."""
    import dataclasses  # (here, as in _default)

    if value is None:
        return None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return to_state(arg, value)  # type: ignore[arg-type]
            if typing.get_origin(arg) is not None and _fits(arg, value):
                return _rebuild(arg, value)
        return value
    if isinstance(tp, type) and dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return to_state(tp, value)
    if origin in (list, set, frozenset) and isinstance(value, (list, tuple)):
        inner = args[0] if args else Any
        return origin(_rebuild(inner, v) for v in value)
    if origin is tuple and isinstance(value, (list, tuple)):
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_rebuild(args[0], v) for v in value)
        return tuple(_rebuild(t, v) for t, v in zip(args, value, strict=False)) if args else tuple(value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return {k: _rebuild(args[1], v) for k, v in value.items()}
    return value


def _fits(tp: Any, value: Any) -> bool:
    origin = typing.get_origin(tp) or tp
    return isinstance(origin, type) and (isinstance(value, origin) or (origin in (tuple, set, frozenset)
                                                                        and isinstance(value, list)))
