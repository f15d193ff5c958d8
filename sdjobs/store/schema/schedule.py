"""Tables of schedules: job commands run on a cron expression (``sdjobs schedule``).

v2: what a schedule submits is stored as a job (``job_type``, ``config``,
``settings``, ``options``) next to the command line it was given (``argv``,
kept to show it). A schedule of v1 has only its command line: its first run
turns that into the job and stores it (``runner/scheduler.py``).
"""

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
    """
ALTER TABLE schedule ADD COLUMN job_type TEXT;
ALTER TABLE schedule ADD COLUMN config BLOB;
ALTER TABLE schedule ADD COLUMN settings BLOB;
ALTER TABLE schedule ADD COLUMN options BLOB
""",
]
