"""Tables of the thumbnailer.

- ``thumbnail``: one rendered sidecar file. Keyed by content identity
  (``cas_id``, see ``sdjobs.fs.hashing.cas_id``), so two identical images
  share one row and one file. ``variant`` is the name given with ``--size``
  ("256", "grid", ...), ``size`` its bound in pixels, ``width``/``height`` what
  was written (never more than the source), ``path`` the sidecar's location
  relative to the library's data folder (``thumbs/ab/abcd...-256.webp``).
- ``thumb_source``: which file had which content when it was last looked at.
  ``path`` is the source's absolute path as a BLOB (``os.fsencode``), exact
  for names that are not UTF-8. ``status`` is ``ok`` (thumbnails exist for
  ``cas_id``), ``failed`` (``error`` says why: corrupt, truncated, bomb) or
  ``not-image``. A file whose ``mtime_ns`` and ``size`` still match is not
  looked at again (unless ``--regenerate``). ``job_id`` and ``updated_at``
  tell a resumed job which sources it already did itself.
"""

MIGRATIONS = [
    """
CREATE TABLE thumbnail (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cas_id TEXT NOT NULL,
    variant TEXT NOT NULL,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    path TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (cas_id, variant, format)
);
CREATE TABLE thumb_source (
    path BLOB PRIMARY KEY,
    cas_id TEXT,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'ok',
    error TEXT,
    job_id INTEGER,
    updated_at REAL NOT NULL
);
CREATE INDEX thumb_source_cas ON thumb_source(cas_id)
""",
]
