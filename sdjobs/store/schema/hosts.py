"""The hosts whose runners share the library (issue 18).

- ``host``: one row per host a runner ran on: ``id`` (``core/hostid.py: this_host``), its
  ``name`` for people (its hostname), ``mounts`` (JSON: the filesystems its runner saw, as
  ``[mount point, type, source]``), ``first_seen`` and ``last_seen`` (its runners' last
  heartbeat). Rows stay when the host goes away: ``--on`` it is still known.

Jobs name their host in ``job.host`` (a column of the job table: ``core.py``).
"""

MIGRATIONS = [
    """
CREATE TABLE host (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    mounts TEXT,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX host_name ON host(name)
""",
]
