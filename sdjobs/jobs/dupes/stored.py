"""Answers from the index for dupes: stored digests of files that did not change.

A file found by the scan whose stored entry has the same size, inode,
device and mtime is taken to hold the content the index read: its stored
full xxh3-128 (``F``) or, failing that, its sampled cas id (``C``) stands in
for reading it again. Anything else is read as usual.

The lookups run in the scan's workers, each over the subtree it walked, on
the index's worker-side reads (``store/index_reader.py``): they cost the main
process nothing.
"""

from __future__ import annotations

from ...store.index_reader import IndexUnreadable
from .scan import Files


def lookup(reader, files: Files, subtree: str | None) -> list[str]:
    """A digest (``F...``/``C...``) or "" for each file: from one range query
    over ``subtree``, or (``subtree`` None) one query per file. ``reader``: the
    index's worker-side reads (``store/index_reader.py:IndexReader``)."""
    known = [""] * len(files)
    try:
        by_path = {p: i for i, p in enumerate(files.paths)}
        rows = reader.stored_digests(subtree=subtree) if subtree else reader.stored_digests(files.paths)
        sizes, inos, devs, mtimes = files.sizes, files.inos, files.devs, files.mtimes
        for path, size, inode, device, mtime_ns, full, cas in rows:
            i = by_path.get(path)
            if i is not None and size == sizes[i] and mtime_ns == mtimes[i] and inode == inos[i] \
                    and device == devs[i]:
                known[i] = "F" + full if full else "C" + cas
    except IndexUnreadable:  # no library, no index tables, or one being migrated: read the files
        return [""] * len(files)
    return known
