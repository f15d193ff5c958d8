"""The library's identity as stored (``schema/identity.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Store


def library_id(store: Store) -> str:
    """The library's stable id: 32 hex digits, the same for as long as the library exists."""
    row = store._sql("SELECT id FROM library_identity").fetchone()
    return str(row[0])
