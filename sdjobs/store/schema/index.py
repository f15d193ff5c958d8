"""Tables of the indexer: locations, their entries, and per-run scratch tables.

Paths are BLOBs (``os.fsencode``), byte-exact for names that are not UTF-8.

- ``location``: one indexed tree; ``rules`` is the msgpack of the walk rules,
  ``mode``/``full_hash``/``max_depth``/``recurse`` are what a re-index reuses;
  ``full_hash`` is 1 only after a completed run that stored the xxh3-128 of
  every readable file; ``last_changes`` is msgpack {new, modified, moved, deleted}.
- ``entry``: one row per file, directory, symlink or other entry, the root
  of the location excluded. ``name`` is the last component; the parent is
  ``path`` without it (not stored twice: every byte per row costs insert
  time). Only ``(location_id, path)`` and ``cas_id`` are indexed, for the
  same reason; moves are found by joining the scan, not by an inode index. ``cas_id`` (16 hex) for non-empty files in content/deep
  mode; ``full_hash`` (32 hex) only with --full-hash; ``kind_class``, ``width``,
  ``height``, ``taken_at`` (ISO 8601, no zone: EXIF has none) in deep mode;
  ``subtree_size``/``subtree_files`` for directories (all files below).
- ``index_run``: the live state of one index job (cursor = last path
  written in walk order, committed in the same transaction as the rows).
- ``index_scan``: what a re-index walked, diffed against ``entry`` afterwards.
"""

MIGRATIONS = [
    """
CREATE TABLE location (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB NOT NULL UNIQUE,
    rules BLOB,
    mode TEXT NOT NULL DEFAULT 'content',
    full_hash INTEGER NOT NULL DEFAULT 0,
    max_depth INTEGER,
    recurse INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    indexed_at REAL,
    entries INTEGER NOT NULL DEFAULT 0,
    total_size INTEGER NOT NULL DEFAULT 0,
    last_changes BLOB,
    last_job_id INTEGER
);
CREATE TABLE entry (
    id INTEGER PRIMARY KEY,
    location_id INTEGER NOT NULL REFERENCES location(id) ON DELETE CASCADE,
    path BLOB NOT NULL,
    name BLOB NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    cas_id TEXT,
    full_hash TEXT,
    kind_class TEXT,
    width INTEGER,
    height INTEGER,
    taken_at TEXT,
    subtree_size INTEGER,
    subtree_files INTEGER,
    UNIQUE (location_id, path)
);
CREATE INDEX entry_cas ON entry(cas_id) WHERE cas_id IS NOT NULL;
CREATE TABLE index_run (
    job_id INTEGER PRIMARY KEY,
    location_id INTEGER NOT NULL REFERENCES location(id) ON DELETE CASCADE,
    root BLOB NOT NULL,
    phase TEXT NOT NULL,
    cursor BLOB,
    state BLOB,
    started_at REAL NOT NULL
);
CREATE TABLE index_scan (
    job_id INTEGER NOT NULL,
    path BLOB NOT NULL,
    name BLOB NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    device INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    subtree_size INTEGER,
    subtree_files INTEGER,
    PRIMARY KEY (job_id, path)
) WITHOUT ROWID
""",
]
