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
            for path, size, inode, device, mtime_ns, full, cas in _rows(store, index_store, root):
                i = by_path.get(path)
                if i is None or i in known:
                    continue
                if size == sizes[i] and mtime_ns == mtimes[i] and inode == inos[i] and device == devs[i]:
                    known[i] = "F" + full if full else "C" + cas
    finally:
        store.close()
    return known


def _rows(store, index_store, root: str):
    """(path, size, inode, device, mtime_ns, full_hash, cas_id) of the files
    under ``root`` that have a stored digest.

    ``index_store.entries_under`` builds a named tuple per row; this hot path
    asks SQLite for the seven columns it needs, over the same location and
    path range (``find_location``, ``canonical``, ``subtree_range``)."""
    given = os.path.abspath(root)
    real = index_store.canonical(given)
    loc = index_store.find_location(store, real)
    if loc is None:
        return
    lo, hi = index_store.subtree_range(real)
    cur = store.sql("SELECT path, size, inode, device, mtime_ns, full_hash, cas_id FROM entry"
                    " WHERE location_id=? AND ((path >= ? AND path < ?) OR path = ?) AND kind='file'"
                    " AND (full_hash IS NOT NULL OR cas_id IS NOT NULL)",
                    (loc.id, lo, hi, os.fsencode(real)))
    cut = len(real.rstrip("/"))
    base = given.rstrip("/") if given != real else None
    while rows := cur.fetchmany(5000):
        for raw, *rest in rows:
            p = raw.decode("utf-8", "surrogateescape")
            yield (base + p[cut:] if base is not None else p, *rest)
