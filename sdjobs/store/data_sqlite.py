"""The data plane over a library's SQL store (``data_plane.DataPlane``): each verb is one
function of the store modules that hold the SQL (``index_store``, ``index_sync``,
``index_diff``, ``index_content``, ``thumbs_store``), run on the job's connection.

``SQLDataPlane`` holds the verbs, for any store whose ``_sql`` speaks the modules' SQL
(one copy for SQLite and PostgreSQL: ``data_sql.py``); ``SQLiteDataPlane`` adds SQLite's
tuning of a long bulk run, ``data_pg.PgDataPlane`` PostgreSQL's."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Iterator, Sequence

from . import index_content as content
from . import index_diff as diff
from . import index_store as ixs
from . import index_sync as sync
from . import thumbs_store as ts
from .index_content import ContentScope, ContentWorker
from .index_reader import IndexReader
from .index_store import EntryRow, LocationRow

# The indexer's connections: a page cache that holds the indexes being updated, fewer
# WAL checkpoints during a long run, temp tables in memory.
INDEXER_PRAGMAS = ("PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=8192", "PRAGMA temp_store=MEMORY")


class SQLDataPlane:
    """The data plane of one open store (its connection, its thread)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    @property
    def address(self) -> str:
        """What a worker process opens the library with (an SQLite file, a PostgreSQL URL)."""
        return str(self._store.library.db_path)

    @property
    def data_dir(self) -> Path:
        return Path(self._store.library.data_dir)

    def atomic(self) -> contextlib.AbstractContextManager:
        return self._store._transaction()

    # -- locations ------------------------------------------------------------------------
    def find_location(self, path: str | os.PathLike) -> LocationRow | None:
        return ixs.find_location(self._store, path)

    def location_at(self, path: str) -> LocationRow | None:
        return sync.location_of(self._store, path)

    def get_location(self, location_id: int) -> LocationRow | None:
        return ixs.get_location(self._store, location_id)

    def has_locations(self) -> bool:
        return self._store._sql("SELECT 1 FROM location LIMIT 1").fetchone() is not None

    def list_locations(self, host: str | None = None) -> list[LocationRow]:
        return ixs.list_locations(self._store, host)

    def create_location(self, path: str, *, rules: dict, mode: str, max_depth: int | None, recurse: bool,
                        now: float) -> int:
        return ixs.create_location(self._store, path, rules=rules, mode=mode, max_depth=max_depth,
                                   recurse=recurse, now=now)

    def absorb_locations(self, into_id: int, path: str) -> list[str]:
        return ixs.absorb_locations(self._store, into_id, path)

    def update_location(self, location_id: int, **fields: Any) -> None:
        ixs.update_location(self._store, location_id, **fields)

    def remove_location(self, location_id: int) -> int:
        return ixs.remove_location(self._store, location_id)

    def full_hashes_stored(self, location_id: int) -> bool:
        return ixs.full_hashes_stored(self._store, location_id)

    # -- entries --------------------------------------------------------------------------
    def entries_under(self, path: str | os.PathLike, *, kind: str | None = None) -> Iterator[EntryRow]:
        return ixs.entries_under(self._store, path, kind=kind)

    def entry_at(self, path: str | os.PathLike) -> EntryRow | None:
        return ixs.entry_at(self._store, path)

    def entries_at(self, location_id: int, paths: list[str]) -> dict[str, EntryRow]:
        return sync.entries_at(self._store, location_id, paths)

    def has_entries(self, location_id: int, path: str | None = None) -> bool:
        if path is None:
            return ixs.has_entries(self._store, location_id)
        return sync.has_entries_at(self._store, location_id, path)

    def totals_under(self, location_id: int, target: str) -> tuple[int, int, int]:
        return diff.totals_under(self._store, location_id, target)

    def count_files(self, location_id: int) -> int:
        return self._store._sql("SELECT count(*) FROM entry WHERE location_id=? AND kind='file'",
                               (location_id,)).fetchone()[0]

    def indexed_files(self, host: str | None, min_size: int, max_size: int | None,
                      digests: bool) -> Iterator[tuple]:
        from .dupes_queries import indexed_files

        return indexed_files(self._store, host, min_size, max_size, digests)

    # -- the index kept true by other jobs --------------------------------------------------
    def anything_indexed(self) -> bool:
        return sync.anything_indexed(self._store)

    def forget_gone(self, paths: Iterable[str]) -> int:
        return sync.forget_gone(self._store, paths)

    def record_written(self, loc: LocationRow, rows: list[sync.Written], *, new_tree: bool = False) -> int:
        return sync.record_written(self._store, loc, rows, new_tree=new_tree)

    def move_thumb_sources(self, src: str, dst: str) -> int:
        return sync.move_thumb_sources(self._store, src, dst)

    def shift_ancestors(self, location_id: int, root: str, deltas: dict[str, tuple[int, int]]) -> None:
        sync.shift_ancestors(self._store, location_id, root, deltas)

    # -- index runs -----------------------------------------------------------------------
    def tune_for_indexing(self) -> None:
        pass

    def open_bulk_writer(self) -> None:
        """In a process of the indexer's own (forked): a connection of its own, set up for
        bulk inserts."""
        self._store.reopen()  # never touch the parent's connection
        self.tune_for_indexing()
        ixs.bulk_connection(self._store)

    def settle(self) -> None:
        pass

    def running_index_jobs(self, location_id: int) -> list[int]:
        """Index jobs running now on the location (started and not finished: ``active_runs``)."""
        return [j for j in ixs.active_runs(self._store, location_id)
                if self._store._sql("SELECT status FROM job WHERE id=?", (j,)).fetchone()[0] == "running"]

    def active_runs(self, location_id: int) -> list[int]:
        return ixs.active_runs(self._store, location_id)

    def load_run(self, job_id: int) -> tuple[int, str, str, str | None, dict] | None:
        return ixs.load_run(self._store, job_id)

    def start_run(self, job_id: int, location_id: int, root: str, state: dict, now: float) -> None:
        ixs.start_run(self._store, job_id, location_id, root, state, now)

    def save_run(self, job_id: int, phase: str, cursor: str | bytes | None, state: dict | bytes) -> None:
        ixs.save_run(self._store, job_id, phase, cursor, state)

    def drop_run(self, job_id: int) -> None:
        ixs.drop_run(self._store, job_id)

    def drop_stale_runs(self) -> int:
        return ixs.drop_stale_runs(self._store)

    def write_discovered(self, job_id: int, location_id: int, values: list, totals: list, *, fresh: bool,
                         cursor: bytes | None, state: bytes) -> None:
        """One batch of a walk, with the cursor and (packed) state that describe it, in one
        transaction: straight into the entries (``fresh``) or staged for the diff."""
        store = self._store
        with store._transaction():
            if fresh:
                ixs.write_entries(store, location_id, values)
                ixs.write_totals(store, location_id, totals)
            else:
                ixs.stage_values(store, job_id, values)
                ixs.stage_totals(store, job_id, totals)
            ixs.save_run(store, job_id, "discovery", cursor, state)

    def stage_entries(self, job_id: int, rows: list[tuple]) -> None:
        ixs.stage_entries(self._store, job_id, rows)

    def stage_values(self, job_id: int, values: list) -> None:
        ixs.stage_values(self._store, job_id, values)

    def stage_dirs(self, job_id: int, dirs: list[tuple[bytes, int, int | None]]) -> None:
        diff.stage_dirs(self._store, job_id, dirs)

    def stage_dir_totals(self, job_id: int, totals: list[tuple[bytes, int, int]]) -> None:
        diff.stage_dir_totals(self._store, job_id, totals)

    def changed_dirs(self, job_id: int, changed: int = 1) -> list[str]:
        return diff.changed_dirs(self._store, job_id, changed)

    def dir_listed(self, job_id: int, path: str, digest: int) -> None:
        diff.dir_listed(self._store, job_id, path, digest)

    def apply_moves(self, job_id: int, location_id: int, targets: Iterable[str],
                    keep: Sequence[bytes]) -> tuple[int, int]:
        return diff.apply_moves(self._store, job_id, location_id, targets, keep)

    def apply_moves_in(self, job_id: int, location_id: int, dirs: Iterable[str]) -> tuple[int, int]:
        return diff.apply_moves_in(self._store, job_id, location_id, dirs)

    def chunk_end(self, job_id: int, after: bytes, size: int) -> bytes | None:
        return diff.chunk_end(self._store, job_id, after, size)

    def apply_chunk(self, job_id: int, location_id: int, after: bytes, upto: bytes | None) -> tuple[int, int]:
        return diff.apply_chunk(self._store, job_id, location_id, after, upto)

    def delete_gone(self, job_id: int, location_id: int, target: str, after: bytes | None,
                    keep: Sequence[bytes], limit: int) -> tuple[int, bytes | None]:
        return diff.delete_gone(self._store, job_id, location_id, target, after, keep, limit)

    def delete_gone_in(self, job_id: int, location_id: int, directory: str) -> int:
        return diff.delete_gone_in(self._store, job_id, location_id, directory)

    def apply_dir_changes(self, job_id: int, location_id: int, root: str) -> None:
        ixs.apply_dir_changes(self._store, job_id, location_id, root)

    def invalidate_digests(self, location_id: int, root: str, target: str) -> None:
        ixs.invalidate_digests(self._store, location_id, root, target)

    # -- content ids ----------------------------------------------------------------------
    def identified_want(self, location_id: int) -> int:
        return content.identified_want(self._store, location_id)

    def content_lacking(self, scope: ContentScope) -> bool:
        return content.lacking_any(self._store, scope)

    def content_todo(self, scope: ContentScope, after: int) -> tuple[int, int]:
        return content.todo(self._store, scope, after)

    def content_ranges(self, scope: ContentScope, after: int, size: int) -> Iterator[tuple[int, int | None]]:
        return content.ranges(self._store, scope, after, size)

    def identified_count(self, job_id: int) -> int:
        return content.identified(self._store, job_id)

    def content_worker(self) -> ContentWorker:
        return ContentWorker(self.address)

    # -- worker-side reads (dupes, the verifying walk, validate) ------------------------------
    def reader(self) -> IndexReader:
        return IndexReader(self.address, str(self.data_dir))

    # -- thumbnails -----------------------------------------------------------------------
    def thumb_source(self, path: str) -> ts.SourceRow | None:
        return ts.source(self._store, path)

    def thumbs_of(self, cas_id: str, fmt: str) -> dict[str, ts.ThumbRow]:
        return ts.thumbs_of(self._store, cas_id, fmt)

    def record_thumbs(self, sources: Iterable[tuple], thumbs: Iterable[tuple]) -> None:
        ts.record(self._store, sources, thumbs)

    def thumb_listing(self, paths: list[str] | None = None, *, include_failed: bool = True) -> Iterator[ts.Listed]:
        return ts.listing(self._store, self.data_dir, paths, include_failed=include_failed)

    def thumb_counts(self) -> dict[str, int]:
        return ts.counts(self._store)


class SQLiteDataPlane(SQLDataPlane):
    """The data plane of an SQLite ``Store``."""

    def tune_for_indexing(self) -> None:
        for pragma in INDEXER_PRAGMAS:
            self._store._sql(pragma)

    def settle(self) -> None:
        """Move what was written into the database file now (a WAL checkpoint)."""
        self._store._sql("PRAGMA wal_checkpoint(PASSIVE)")
