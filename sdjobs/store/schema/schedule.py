"""Tables of schedules: job commands run on a cron expression (``sdjobs schedule``)."""

MIGRATIONS = [
    """
CREATE TABLE schedule (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    cron TEXT NOT NULL,
    argv BLOB NOT NULL,
    cwd BLOB,
    created_at REAL NOT NULL,
    checked_at REAL NOT NULL,
    pending_at REAL,
    pending_pid INTEGER,
    last_run_at REAL,
    last_job_id INTEGER,
    last_error TEXT,
    runs INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
)
""",
]
