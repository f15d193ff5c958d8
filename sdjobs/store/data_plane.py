"""The data plane: what jobs read and write of the library besides their own records
(locations, entries, content ids, thumbnails' sidecars), as named verbs. Jobs reach it as
``ctx.library.data``; nothing outside ``store/`` sees SQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .api import Store


class DataPlane:
    def __init__(self, store: Store) -> None:
        self._store = store
