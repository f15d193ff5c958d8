"""The data plane: what jobs read and write of the library besides their own records
(locations, entries, content ids, index runs, dupes' stored digests and kept groups,
thumbnails and their sidecars), as named verbs. Jobs reach it as ``ctx.library.data``;
nothing outside ``store/`` sees SQL, a connection or a cursor.

``DataPlane`` is the contract, in small Protocols by concern; ``data_sqlite.SQLiteDataPlane``
implements it over the SQLite library (the contract tests, ``tests/store/contract/
test_data_plane.py``, run against every implementation). Signatures carry plain values,
NamedTuples and iterators, so a PostgreSQL backend can implement them as they are:

- ``atomic()`` is a unit of work (a transaction, nested ones join the outer one); the
  job plane's writes made inside it (a checkpoint) commit with it;
- paths are ``str`` (surrogateescape, as ``os`` gives them) unless a verb says bytes
  (the index's cursors and staged rows, which sort by byte);
- worker processes get handles that pickle to the library's address and open their own
  connection (``reader()``, ``content_worker()``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Iterable, Iterator, Sequence

if TYPE_CHECKING:
    from ..core.library import LibraryInfo
    from .index_content import ContentFound, ContentRow, ContentScope
    from .index_reader import StoredDigest
    from .index_store import EntryRow, LocationRow
    from .index_sync import Written
    from .kept_groups import KeptGroups
    from .thumbs_store import Listed, SourceRow, ThumbRow


class Locations(Protocol):
    """Indexed locations: a root (its real path), its walk rules and mode, its totals."""

    def find_location(self, path: str | os.PathLike) -> LocationRow | None:
        """This host's location whose root is ``path`` or one of its ancestors (any spelling)."""
        ...

    def location_at(self, path: str) -> LocationRow | None:
        """The location holding ``path`` (real spelling, may be gone), looked up by its
        directory: a symlink is where it is, not where it points."""
        ...

    def get_location(self, location_id: int) -> LocationRow | None: ...

    def has_locations(self) -> bool: ...

    def list_locations(self, host: str | None = None) -> list[LocationRow]:
        """Every host's locations, by host then path (only ``host``'s if given)."""
        ...

    def create_location(self, path: str, *, rules: dict, mode: str, max_depth: int | None, recurse: bool,
                        now: float) -> int: ...

    def absorb_locations(self, into_id: int, path: str) -> list[str]:
        """Move the entries of the locations inside ``path`` into ``into_id`` (content ids
        kept) and forget them; their roots."""
        ...

    def update_location(self, location_id: int, **fields: Any) -> None:
        """Set columns of the location's row (``LocationRow`` names, plus ``digest`` and
        ``identified_want``)."""
        ...

    def remove_location(self, location_id: int) -> int:
        """Forget a location, its entries and its runs; the entries that went."""
        ...

    def full_hashes_stored(self, location_id: int) -> bool:
        """Whether the last complete index stored the full hash of every readable file."""
        ...


class Entries(Protocol):
    """What the index holds of each file, directory and symlink of a location."""

    def entries_under(self, path: str | os.PathLike, *, kind: str | None = None) -> Iterator[EntryRow]:
        """The entries at and below ``path``, in path byte order, in its spelling."""
        ...

    def entry_at(self, path: str | os.PathLike) -> EntryRow | None: ...

    def entries_at(self, location_id: int, paths: list[str]) -> dict[str, EntryRow]:
        """The entries at exactly these (real) paths, by path."""
        ...

    def has_entries(self, location_id: int, path: str | None = None) -> bool:
        """Whether the location (or, with ``path``, that path and below) has any entry."""
        ...

    def totals_under(self, location_id: int, target: str) -> tuple[int, int, int]:
        """(bytes in files, files, entries) at and below ``target``."""
        ...

    def count_files(self, location_id: int) -> int: ...

    def indexed_files(self, host: str | None, min_size: int, max_size: int | None,
                      digests: bool) -> Iterator[tuple]:
        """(host, path, size, inode, device, mtime_ns, cas_id, full_hash) of the files of ``host``'s
        locations (every host's if None) in [min_size, max_size] whose size another such file
        has, ordered by size; with ``digests``, only files with a content id or full hash
        (dupes ``--indexed``: ``store/dupes_queries.py``)."""
        ...


class IndexKeeping(Protocol):
    """The index kept true by jobs that change files (delete, copy, move: ``core/index_keeper.py``)."""

    def anything_indexed(self) -> bool:
        """Whether any location or thumbnail source is recorded (the cheap test first)."""
        ...

    def forget_gone(self, paths: Iterable[str]) -> int:
        """Forget what is gone from disk at and below each path; the entries forgotten."""
        ...

    def record_written(self, loc: LocationRow, rows: list[Written], *, new_tree: bool = False) -> int:
        """Add or update entries of files a job wrote inside ``loc``; the new ones."""
        ...

    def move_thumb_sources(self, src: str, dst: str) -> int:
        """A moved file or tree keeps its thumbnails: sources at and below ``src`` go to ``dst``."""
        ...

    def shift_ancestors(self, location_id: int, root: str, deltas: dict[str, tuple[int, int]]) -> None:
        """Add each changed path's (bytes, files) to the directories between ``root`` and it."""
        ...


class IndexRuns(Protocol):
    """The indexer's own writes: a run's checkpoint, its walk staged, the re-index's diff
    (bulk paths: the SQLite backend keeps hand-written SQL behind them)."""

    def tune_for_indexing(self) -> None:
        """Set up this connection for a long run of bulk writes."""
        ...

    def open_bulk_writer(self) -> None:
        """In a forked writer process: a connection of its own, set up for bulk inserts."""
        ...

    def settle(self) -> None:
        """Make a finished run's writes cheap for later readers (SQLite: a WAL checkpoint)."""
        ...

    def running_index_jobs(self, location_id: int) -> list[int]:
        """Index jobs whose run on the location is under way and whose job is running."""
        ...

    def active_runs(self, location_id: int) -> list[int]:
        """Index jobs with a run on the location, started and not finished (queued again,
        paused, interrupted or running)."""
        ...

    def load_run(self, job_id: int) -> tuple[int, str, str, str | None, dict] | None:
        """(location_id, root, phase, cursor, state) of a started run, or None."""
        ...

    def start_run(self, job_id: int, location_id: int, root: str, state: dict, now: float) -> None: ...

    def save_run(self, job_id: int, phase: str, cursor: str | bytes | None, state: dict | bytes) -> None:
        """The run's checkpoint; inside the ``atomic()`` that wrote what it describes."""
        ...

    def drop_run(self, job_id: int) -> None:
        """Forget a run and its staged rows (the location's kept dupes groups go too)."""
        ...

    def drop_stale_runs(self) -> int:
        """Forget the runs of jobs that finished or are gone."""
        ...

    def write_discovered(self, job_id: int, location_id: int, values: list, totals: list, *, fresh: bool,
                         cursor: bytes | None, state: bytes) -> None:
        """One batch of a walk (flat values, 8 per entry: path, name, kind, size, inode,
        device, mode, mtime_ns; ``totals``: (subtree_size, subtree_files, digest, path)) with
        its cursor and packed state, atomically: into the entries (``fresh``) or staged."""
        ...

    def stage_entries(self, job_id: int, rows: list[tuple]) -> None: ...

    def stage_values(self, job_id: int, values: list) -> None: ...

    def stage_dirs(self, job_id: int, dirs: list[tuple[bytes, int, int | None]]) -> None:
        """(path, changed, digest) of directories a verifying walk compared."""
        ...

    def stage_dir_totals(self, job_id: int, totals: list[tuple[bytes, int, int]]) -> None:
        """(path, subtree_size, subtree_files) of directories a verifying walk summed."""
        ...

    def changed_dirs(self, job_id: int, changed: int = 1) -> list[str]:
        """Directories a verifying walk found changed (2: too big to send, to list again)."""
        ...

    def dir_listed(self, job_id: int, path: str, digest: int) -> None: ...

    def apply_moves(self, job_id: int, location_id: int, targets: Iterable[str],
                    keep: Sequence[bytes]) -> tuple[int, int]:
        """Entries gone from the targets' scopes that reappear elsewhere (same device, inode,
        kind) take their new paths; (moved, deleted)."""
        ...

    def apply_moves_in(self, job_id: int, location_id: int, dirs: Iterable[str]) -> tuple[int, int]: ...

    def chunk_end(self, job_id: int, after: bytes, size: int) -> bytes | None:
        """The staged path ``size`` rows after ``after`` (None: fewer are left)."""
        ...

    def apply_chunk(self, job_id: int, location_id: int, after: bytes, upto: bytes | None) -> tuple[int, int]:
        """Staged paths in (after, upto]: changed entries updated, new ones added; (modified, new)."""
        ...

    def delete_gone(self, job_id: int, location_id: int, target: str, after: bytes | None,
                    keep: Sequence[bytes], limit: int) -> tuple[int, bytes | None]:
        """Up to ``limit`` entries of the target's scope the walk did not see; (deleted, cursor)."""
        ...

    def delete_gone_in(self, job_id: int, location_id: int, directory: str) -> int: ...

    def apply_dir_changes(self, job_id: int, location_id: int, root: str) -> None: ...

    def invalidate_digests(self, location_id: int, root: str, target: str) -> None: ...


class ContentIds(Protocol):
    """Content ids, full hashes and kind facts of files, read by the runner's workers."""

    def identified_want(self, location_id: int) -> int: ...

    def content_lacking(self, scope: ContentScope) -> bool: ...

    def content_todo(self, scope: ContentScope, after: int) -> tuple[int, int]:
        """(files, bytes) of the scope left after entry id ``after``."""
        ...

    def content_ranges(self, scope: ContentScope, after: int, size: int) -> Iterator[tuple[int, int | None]]:
        """(after, upto] id ranges of about ``size`` files, the last open-ended."""
        ...

    def identified_count(self, job_id: int) -> int: ...

    def content_worker(self) -> ContentWorker: ...


class ContentWorker(Protocol):
    """A worker process's handle on one content range (picklable)."""

    def rows(self, scope: ContentScope, after: int, upto: int | None) -> list[ContentRow]: ...

    def record(self, job_id: int, found: Sequence[ContentFound], *, cas_only: bool) -> None: ...


class WorkerReads(Protocol):
    """Read-only lookups for worker processes (picklable: ``store/index_reader.py``)."""

    def location_of(self, path: str) -> tuple | None: ...

    def indexing(self, location_id: int) -> bool: ...

    def index_busy_since(self, since: float) -> bool: ...

    def dir_digest(self, location_id: int, path: bytes, is_root: bool) -> int | None: ...

    def dir_stored(self, location_id: int, path: str, is_root: bool) -> tuple | None: ...

    def children(self, location_id: int, dir_path: bytes) -> list[tuple]: ...

    def hashed_concat(self, location_id: int, lo: bytes, hi: bytes, min_size: int, max_size: int | None,
                      hash_lo: str, hash_hi: str, mtimes: bool, count_unhashed: bool) -> tuple: ...

    def unhashed(self, location_id: int, lo: bytes, hi: bytes, min_size: int,
                 max_size: int | None) -> list[tuple]: ...

    def keys_of(self, location_id: int, paths: list[bytes], ranges: list[tuple[bytes, bytes]]) -> set: ...

    def hashed_of_sizes(self, location_id: int, lo: bytes, hi: bytes, sizes: set[int]) -> list[tuple]: ...

    def stored_digests(self, paths: Iterable[str] | None = None, *,
                       subtree: str | None = None) -> Iterator[StoredDigest]: ...

    def file_rows(self, location_id: int, given: str, real: str, batch: int = 5000
                  ) -> Iterator[tuple[str, tuple]]: ...

    def kept(self) -> KeptGroups:
        """Where dupes keeps the groups it worked out from the index."""
        ...


class Thumbnails(Protocol):
    """Thumbnail sources (files seen) and thumbnails (sidecars by content id, under ``data_dir``)."""

    def thumb_source(self, path: str) -> SourceRow | None: ...

    def thumbs_of(self, cas_id: str, fmt: str) -> dict[str, ThumbRow]: ...

    def record_thumbs(self, sources: Iterable[tuple], thumbs: Iterable[tuple]) -> None:
        """Upsert sources (path, cas_id, mtime_ns, size, status, error, job_id) and thumbnails
        (cas_id, variant, size, format, width, height, sidecar path relative to ``data_dir``)."""
        ...

    def thumb_listing(self, paths: list[str] | None = None, *, include_failed: bool = True) -> Iterator[Listed]: ...

    def thumb_counts(self) -> dict[str, int]: ...


class DataPlane(Locations, Entries, IndexKeeping, IndexRuns, ContentIds, Thumbnails, Protocol):
    """The whole data plane of one library, as a job's context hands it out."""

    @property
    def data_dir(self) -> Path:
        """The folder of files kept beside the library (thumbnail sidecars, kept groups)."""
        ...

    def atomic(self) -> contextlib.AbstractContextManager:
        """A unit of work: everything inside commits together, or nothing does."""
        ...

    def reader(self) -> WorkerReads:
        """Read-only lookups to hand to worker processes."""
        ...


def open_data_plane(store: Any) -> DataPlane:
    """The data plane of an open store: ``Store`` (SQLite) or ``PgStore`` (PostgreSQL)."""
    from .data_sql import dialect

    if dialect(store).name == "postgres":
        from .data_pg import PgDataPlane

        return PgDataPlane(store)
    from .data_sqlite import SQLiteDataPlane

    return SQLiteDataPlane(store)


def library_info(store: Any) -> LibraryInfo:
    """What a job knows of its library (``ctx.library``), for code outside a job (the CLI's
    checks before it submits one)."""
    from ..core.library import LibraryInfo
    from .identity import library_id

    return LibraryInfo(id=library_id(store), path=str(store.library.db_path),
                       data_dir=str(store.library.data_dir), data=open_data_plane(store))
