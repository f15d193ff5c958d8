"""Tables of the job engine."""

MIGRATIONS = [
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
