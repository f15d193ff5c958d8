"""Tables of the job engine."""

import sqlite3
from collections.abc import Callable
from typing import cast

MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    """
CREATE TABLE job (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL,
    type_version INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER REFERENCES job(id) ON DELETE SET NULL,
    config BLOB,
    state BLOB,
    state_version INTEGER,
    progress BLOB,
    bytes_done INTEGER NOT NULL DEFAULT 0,
    items_done INTEGER NOT NULL DEFAULT 0,
    run_seconds REAL NOT NULL DEFAULT 0,
    warnings INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    output BLOB,
    error TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    paused_at REAL,
    finished_at REAL,
    heartbeat_at REAL,
    updated_at REAL,
    runner_id INTEGER,
    pid INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    control TEXT,
    wait_children INTEGER NOT NULL DEFAULT 0,
    settings BLOB,
    context BLOB
);
CREATE INDEX job_claim ON job(status, priority DESC, id);
CREATE INDEX job_parent ON job(parent_id);
CREATE INDEX job_finished ON job(finished_at);
CREATE TABLE job_dep (
    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
    depends_on INTEGER NOT NULL,
    PRIMARY KEY (job_id, depends_on)
);
CREATE TABLE job_event (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    path BLOB,
    message TEXT NOT NULL
);
CREATE INDEX job_event_job ON job_event(job_id, id);
CREATE TABLE runner (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pid INTEGER NOT NULL,
    pid_start TEXT,
    host TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    workers INTEGER NOT NULL,
    busy INTEGER NOT NULL DEFAULT 0,
    mode TEXT,
    stopping INTEGER NOT NULL DEFAULT 0
)
""",
    # claim: a new value at every claim of a job; the job process's writes are conditioned on
    # it (fencing). attempts now counts the runs that died (a crash), not every start; retries
    # counts `jobs retry`, and each event keeps the retries of the run that wrote it.
    """
ALTER TABLE job ADD COLUMN claim INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
ALTER TABLE job_event ADD COLUMN retries INTEGER NOT NULL DEFAULT 0;
UPDATE job SET attempts = MAX(attempts - 1, 0)
""",
]


def _v3_action(conn) -> None:
    """``action``: the command word that started the job (``copy``, ``watch``...) or, for
    ``sdjobs run TYPE``, the type; children carry their root's. Indexed, for ``jobs ls
    --action``. Old rows are filled in from their recorded command line, else their type."""
    from ...core import codec
    from ...core.action import command_word

    conn.execute("ALTER TABLE job ADD COLUMN action TEXT")
    conn.execute("CREATE INDEX job_action ON job(action, id)")
    parents = {r[0] for r in conn.execute("SELECT DISTINCT parent_id FROM job WHERE parent_id IS NOT NULL")}
    known: dict[int, str] = {}  # the action of each job that is a parent (parents come before their children)
    last = 0
    while True:  # by pages of ids, each read whole before its rows are updated
        rows = conn.execute("SELECT id, type, parent_id, context FROM job WHERE id > ? ORDER BY id LIMIT 5000",
                            (last,)).fetchall()
        if not rows:
            return
        updates = []
        for job_id, job_type, parent_id, context in rows:
            action = known.get(parent_id) if parent_id is not None else None
            if action is None:
                try:
                    ctx = codec.unpack(context) or {}
                except (ValueError, TypeError):  # a record msgpack cannot read: its type will do
                    ctx = {}
                word = command_word(ctx.get("argv") or []) if isinstance(ctx, dict) else None
                action = job_type if word in (None, "run") else word
            if job_id in parents:
                known[job_id] = action
            updates.append((action, job_id))
        conn.executemany("UPDATE job SET action=? WHERE id=?", updates)
        last = rows[-1][0]


MIGRATIONS.append(_v3_action)

# PostgreSQL's form of the steps the dialects cannot share (store/pg/schema.py): v2's scalar
# MAX is GREATEST there.
POSTGRES = {1: cast(str, MIGRATIONS[1]).replace("MAX(attempts - 1, 0)", "GREATEST(attempts - 1, 0)")}

# host: the host whose runner takes the job (``core/hostid.py``: its id, or a name not seen yet),
# or 'any' (any runner). Jobs queued before it take 'any': before this column every runner of a
# library took every job, and so they still do. A constant default: no table rewrite.
MIGRATIONS.append("ALTER TABLE job ADD COLUMN host TEXT NOT NULL DEFAULT 'any'")
