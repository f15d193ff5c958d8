"""Tables of the lifecycle log: the structured fields of a job's events.

``job_event`` (core) keeps every event's kind and one readable line; a lifecycle event
(submitted, claimed, phase-start, paused, finished, ...; see ``store/events.py``) also has
its fields here, as a msgpack map, removed with its event.

``job_wait``: what a running job waits for that only its runner knows (a fan-out worker,
held by other jobs), under the claim it runs with; see ``store/waits.py``.
"""

MIGRATIONS = [
    """
CREATE TABLE job_event_field (
    event_id INTEGER PRIMARY KEY REFERENCES job_event(id) ON DELETE CASCADE,
    fields BLOB NOT NULL
);
CREATE TABLE job_wait (
    job_id INTEGER PRIMARY KEY REFERENCES job(id) ON DELETE CASCADE,
    claim INTEGER NOT NULL,
    reason TEXT NOT NULL,
    since REAL NOT NULL
)
""",
]
