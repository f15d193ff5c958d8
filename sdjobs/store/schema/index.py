"""Tables of the indexer: locations, their entries, and per-run scratch tables.

Paths are BLOBs (``os.fsencode``), byte-exact for names that are not UTF-8.

- ``location``: one indexed tree; ``rules`` is the msgpack of the walk rules,
  ``mode``/``full_hash``/``max_depth``/``recurse`` are what a re-index reuses;
  ``full_hash`` is 1 only after a completed run that stored the xxh3-128 of
  every readable file; ``last_changes`` is msgpack {new, modified, moved, deleted}.
- ``entry``: one row per file, directory, symlink or other entry, the root
  of the location excluded. ``name`` is the last component; the parent is
  ``path`` without it. ``cas_id`` (16 hex) for non-empty files in content/deep
  mode; ``full_hash`` (32 hex) only with --full-hash; ``kind_class``, ``width``,
  ``height``, ``taken_at`` (ISO 8601, no zone: EXIF has none) in deep mode;
  ``subtree_size``/``subtree_files`` for directories (all files below).
- ``index_run``: the live state of one index job (cursor = last path
  written in walk order, committed in the same transaction as the rows).
- ``index_scan``: what a re-index walked, diffed against ``entry`` afterwards.

Version 2 adds ``digest`` to directories (and the location root): the sum
modulo 2**64 of a 64-bit hash of each direct child's (name, size, inode,
device, mode, mtime). A re-index that computes the same digest for a
directory knows its direct children are unchanged without writing or
comparing a row; only the directories whose digest differs have their
children staged and diffed (``index_dirs`` lists them, with new subtree
totals). NULL means unknown (always re-checked).

Version 2 also trims what every inserted row pays for (measured on 200,000
entries): the ``parent`` copy of the path (derivable, ~0.3 s per 200k
inserts), and the secondary indexes. An index on the random ``cas_id``
rewrote most of its pages on every committed batch (1.8 s of the content
phase); nothing looks a content id up by value -- readers group a
location's rows, which they scan anyway -- and moves are found by joining
the scan, not through an inode index. Only ``(location_id, path)`` remains.

Version 4 gives every location a ``host`` (``core/hostid.py``: the host whose runner
indexed it; issue 18, one library for several machines): a path is unique per host,
since two machines may both have ``/data``. Existing locations take the migrating host.
"""

from ...core.hostid import this_host

def _v2_lean_rows(conn) -> None:
    """Drop the parent copies and the secondary indexes (tolerant of a library
    made while version 1 was being written, which had some of them already gone)."""
    for index in ("entry_inode", "entry_cas", "entry_size"):
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    for table in ("entry", "index_scan"):
        if "parent" in [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN parent")
    conn.execute("ALTER TABLE entry ADD COLUMN digest INTEGER")
    conn.execute("ALTER TABLE location ADD COLUMN digest INTEGER")
    conn.execute("""CREATE TABLE index_dirs (
        job_id INTEGER NOT NULL,
        path BLOB NOT NULL,
        changed INTEGER NOT NULL DEFAULT 0,
        digest INTEGER,
        subtree_size INTEGER,
        subtree_files INTEGER,
        PRIMARY KEY (job_id, path)
    ) WITHOUT ROWID""")


# the location table of version 4 (the columns of versions 1 to 3, then ``host``)
_LOCATION_V4 = """CREATE TABLE location_v4 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB NOT NULL,
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
    last_job_id INTEGER,
    digest INTEGER,
    identified_want INTEGER NOT NULL DEFAULT 0,
    host TEXT NOT NULL,
    UNIQUE (host, path)
)"""
_V3_COLS = ("id, path, rules, mode, full_hash, max_depth, recurse, created_at, indexed_at, entries, total_size,"
            " last_changes, last_job_id, digest, identified_want")


def _v4_location_host(conn) -> None:
    """``location.host``, and ``UNIQUE (host, path)`` in place of ``UNIQUE (path)``.

    SQLite cannot drop a column's UNIQUE: the table is made anew, the way SQLite's
    documentation says (its "12 steps"), with foreign keys off (``FOREIGN_KEYS_OFF``: with
    them on, dropping the old table would delete every entry through ``ON DELETE CASCADE``,
    and renaming it would point ``entry`` at the renamed table). The AUTOINCREMENT counter
    carries over, so the id of a removed location is never given again.

    On PostgreSQL (``conn.dialect == "postgres"``: ``store/pg/schema.py`` hands callables a
    connection that takes qmark SQL) the column is added and the UNIQUE swapped in place."""
    if getattr(conn, "dialect", "sqlite") == "postgres":
        conn.execute("ALTER TABLE location ADD COLUMN host TEXT NOT NULL DEFAULT ''")
        conn.execute("UPDATE location SET host = ?", (this_host(),))
        conn.execute("ALTER TABLE location ALTER COLUMN host DROP DEFAULT")
        for (name,) in conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'location'::regclass"
                                    " AND contype = 'u'").fetchall():
            conn.execute(f'ALTER TABLE location DROP CONSTRAINT "{name}"')
        conn.execute("ALTER TABLE location ADD CONSTRAINT location_host_path UNIQUE (host, path)")
        return
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name='location'").fetchone()
    conn.execute(_LOCATION_V4)
    conn.execute(f"INSERT INTO location_v4 ({_V3_COLS}, host) SELECT {_V3_COLS}, ? FROM location",
                 (this_host(),))
    conn.execute("DROP TABLE location")
    conn.execute("ALTER TABLE location_v4 RENAME TO location")
    if seq is not None:
        conn.execute("UPDATE sqlite_sequence SET seq=max(seq, ?) WHERE name='location'", seq)
        conn.execute("INSERT INTO sqlite_sequence (name, seq) SELECT 'location', ? WHERE NOT EXISTS"
                     " (SELECT 1 FROM sqlite_sequence WHERE name='location')", seq)


_v4_location_host.FOREIGN_KEYS_OFF = True  # type: ignore[attr-defined]


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
    parent BLOB NOT NULL,
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
CREATE INDEX entry_inode ON entry(device, inode);
CREATE INDEX entry_cas ON entry(cas_id) WHERE cas_id IS NOT NULL;
CREATE INDEX entry_size ON entry(location_id, size) WHERE kind = 'file';
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
    parent BLOB NOT NULL,
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
    _v2_lean_rows,
    # 3: index_run.identified: files read by the content phase, counted by the workers in
    # the transaction that writes their results (exact across a SIGKILL);
    # location.identified_want: what the content phase (WANT_* bits) left complete for
    # every file of the location at the last run, so an unchanged re-index skips the scan
    """
ALTER TABLE index_run ADD COLUMN identified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE location ADD COLUMN identified_want INTEGER NOT NULL DEFAULT 0
""",
    # 4: location.host, a path unique per host (see the module's doc)
    _v4_location_host,
]

# PostgreSQL's form of the steps the dialects cannot share (``store/pg/schema.py``; the other
# steps run there as they are, their types translated): v2 looks at no PRAGMA, the columns
# and indexes it drops are there.
POSTGRES = {1: """
DROP INDEX IF EXISTS entry_inode;
DROP INDEX IF EXISTS entry_cas;
DROP INDEX IF EXISTS entry_size;
ALTER TABLE entry DROP COLUMN parent;
ALTER TABLE index_scan DROP COLUMN parent;
ALTER TABLE entry ADD COLUMN digest INTEGER;
ALTER TABLE location ADD COLUMN digest INTEGER;
CREATE TABLE index_dirs (
    job_id INTEGER NOT NULL,
    path BLOB NOT NULL,
    changed INTEGER NOT NULL DEFAULT 0,
    digest INTEGER,
    subtree_size INTEGER,
    subtree_files INTEGER,
    PRIMARY KEY (job_id, path)
)
"""}
