"""Answers from the index for dupes: stored digests of files that did not change.

A file found by the scan whose stored entry has the same size, inode,
device and mtime is taken to hold the content the index read: its stored
full xxh3-128 (``F``) or, failing that, its sampled cas id (``C``) stands in
for reading it again. Anything else is read as usual.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ._dupes_scan import Files


def stored_digests(library_db: str, roots: list[str], files: Files, wanted: Iterable[int]) -> dict[int, str]:
    """{file index: digest} for the ``wanted`` files the index can vouch for."""
    if not library_db or not os.path.exists(library_db):
        return {}
    try:
        from ..store import index_store
    except ImportError:  # an sdjobs without the indexer
        return {}
    from ..store.api import Store
    from ..store.library import Library

    by_path = {files.paths[i]: i for i in wanted}
    if not by_path:
        return {}
    sizes, inos, devs, mtimes = files.sizes, files.inos, files.devs, files.mtimes
    known: dict[int, str] = {}
    store = Store(Library(Path(library_db)), create=False)
    try:
        for root in roots:
            if index_store.find_location(store, root) is None:
                continue
            for row in index_store.entries_under(store, root, kind="file"):
                i = by_path.get(row.path)
                if i is None or i in known:
                    continue
                if (row.size == sizes[i] and row.mtime_ns == mtimes[i] and row.inode == inos[i]
                        and row.device == devs[i]):
                    if row.full_hash:
                        known[i] = "F" + row.full_hash
                    elif row.cas_id:
                        known[i] = "C" + row.cas_id
    finally:
        store.close()
    return known
