"""msgpack encoding for configuration, state, progress and output.

Strings are packed with ``surrogateescape`` so that file names which are not
valid UTF-8 (which Python represents with lone surrogates) round-trip byte
for byte. Dataclasses are packed as their field dicts.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack


def _default(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "__fspath__"):
        return obj.__fspath__()
    raise TypeError(f"cannot encode {type(obj).__name__} in a job record")


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, unicode_errors="surrogateescape", use_bin_type=True)


def unpack(data: bytes | None) -> Any:
    if data is None:
        return None
    return msgpack.unpackb(data, raw=False, unicode_errors="surrogateescape", strict_map_key=False)
