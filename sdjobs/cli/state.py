"""What every command needs: the library, opened once, lazily."""

from __future__ import annotations

import os

from ..store.api import Store
from ..store.library import AnyLibrary, resolve
from ..store.open import open_store

_library_arg: str | None = None
_store: Store | None = None


def set_library(path: str | None) -> None:
    global _library_arg, _store
    _library_arg, _store = path, None


def library() -> AnyLibrary:
    return resolve(_library_arg)


def store() -> Store:
    global _store
    if _store is None:
        _store = open_store(library())
    return _store


def debug() -> bool:
    return os.environ.get("SDJOBS_DEBUG") == "1"
