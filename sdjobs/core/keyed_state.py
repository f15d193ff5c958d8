"""Item access by the old keys on a state dataclass, while code that used its dict moves over.

A job's state that was a dict became a dataclass (see ``codec.to_state``); code not yet moved
to the attributes can still say ``st["ti"]``, ``st.get("estimate")``, ``st.update(...)``: a key
is a field's name, or the old key a renamed field names in ``metadata={"was": ...}``.
Transitional: new code uses the attributes, and the mixin goes once nothing uses the keys.
"""

from __future__ import annotations

import dataclasses
from typing import Any


class KeyedState:
    def __getitem__(self, key: str) -> Any:
        return getattr(self, _field(type(self), key))

    def __setitem__(self, key: str, value: Any) -> None:
        setattr(self, _field(type(self), key), value)

    def get(self, key: str, default: Any = None) -> Any:
        """The field's value, or ``default`` when it is None (a dict's missing key)."""
        value = self[key]
        return default if value is None else value

    def update(self, changes: dict[str, Any] | None = None, **more: Any) -> None:
        for key, value in {**(changes or {}), **more}.items():
            self[key] = value


_NAMES: dict[type, dict[str, str]] = {}


def _field(cls: type, key: str) -> str:
    names = _NAMES.get(cls)
    if names is None:
        fields = dataclasses.fields(cls)
        names = _NAMES[cls] = {f.name: f.name for f in fields}
        names.update({f.metadata["was"]: f.name for f in fields if "was" in f.metadata})
    try:
        return names[key]
    except KeyError:
        raise KeyError(key) from None
