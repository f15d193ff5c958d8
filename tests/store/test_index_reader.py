"""The workers' read-only handle on the index (store/index_reader.py): one connection per
process, never one inherited through fork, and never one to a library that was replaced."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil

from sdjobs.store.api import Store
from sdjobs.store.data_plane import open_data_plane
from sdjobs.store.index_reader import IndexReader
from sdjobs.store.library import Library


def _library(path, root) -> None:
    """A library at ``path`` with ``root`` as a location (no entries)."""
    store = Store(Library(path))
    try:
        open_data_plane(store).create_location(str(root), rules={}, mode="shallow", max_depth=None,
                                               recurse=True, now=0.0)
    finally:
        store.close()


def _where(reader: IndexReader, path: str):
    row = reader.location_of(path)
    return None if row is None else os.fsdecode(row[1])


def test_a_library_made_anew_at_the_same_path_is_read_anew(tmp_path):
    lib = tmp_path / "lib" / "library.db"
    _library(lib, tmp_path / "a")
    assert _where(IndexReader(str(lib)), str(tmp_path / "a" / "x")) == str(tmp_path / "a")
    shutil.rmtree(lib.parent)
    _library(lib, tmp_path / "b")
    reader = pickle.loads(pickle.dumps(IndexReader(str(lib))))  # as the next task brings it
    assert _where(reader, str(tmp_path / "a" / "x")) is None
    assert _where(reader, str(tmp_path / "b")) == str(tmp_path / "b")


def _child(reader: IndexReader, path: str, out) -> None:
    inherited = reader._c
    out.send((_where(reader, path), reader._conn() is not inherited))


def test_a_forked_worker_opens_its_own_connection(tmp_path):
    lib = tmp_path / "lib" / "library.db"
    _library(lib, tmp_path / "a")
    reader = IndexReader(str(lib))
    assert _where(reader, str(tmp_path / "a")) == str(tmp_path / "a")
    mine = reader._conn()
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(reader, str(tmp_path / "a"), send))
    p.start()
    where, own = recv.recv()
    p.join(30)
    assert where == str(tmp_path / "a") and own and p.exitcode == 0
    assert reader._conn() is mine  # the parent's stays its own
