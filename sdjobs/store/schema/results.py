"""Tables of job results: the rows ``sdjobs jobs output`` prints.

- ``job_result``: one row of a job's result (a dupes group, a validate
  issue, whatever a plugin emits), as compact ASCII JSON text, in the order
  the job emitted it (``seq``, from 0). ``size`` and ``severity`` repeat the
  row's keys of those names (when it has them) so that ``--min-size`` and
  ``--severity`` filter without parsing every row.
- ``job_result_set``: per job, what its rows are called in the JSON document
  (``groups``, ``issues``, ``rows``) and the keys its rows have, in order.

Both go with their job (ON DELETE CASCADE): ``jobs prune`` removes them.
"""

MIGRATIONS = [
    """
CREATE TABLE job_result (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    size INTEGER,
    severity TEXT,
    row TEXT NOT NULL
);
CREATE UNIQUE INDEX job_result_seq ON job_result(job_id, seq);
CREATE TABLE job_result_set (
    job_id INTEGER PRIMARY KEY REFERENCES job(id) ON DELETE CASCADE,
    name TEXT NOT NULL DEFAULT 'rows',
    columns TEXT NOT NULL DEFAULT '[]'
)
""",
]
