"""Tables of job results: the rows ``sdjobs jobs output`` prints.

- ``job_result``: a chunk of consecutive rows of a job's result (dupes groups,
  validate issues, whatever a plugin emits), in the order the job emitted them:
  ``seq`` is the number of the chunk's first row (from 0), ``n`` how many it
  holds, ``rows`` the rows as compact ASCII JSON, one a line. ``sizes`` and
  ``severities`` hold each row's ``size`` and ``severity`` keys (comma
  separated, empty where a row has none) so that ``--min-size`` and
  ``--severity`` filter without parsing the rows; ``max_size`` skips whole
  chunks. A million dupes groups take 1.9 s to store in chunks of 500, 4.8 s as
  a table row each, 1.4 s as one JSON file (bench/results/output.md).
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
    # v2: rows in chunks (v1, a table row per result row, was only ever in development builds)
    """
DROP TABLE job_result;
DELETE FROM job_result_set;
CREATE TABLE job_result (
    id INTEGER PRIMARY KEY,
    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    n INTEGER NOT NULL,
    max_size INTEGER,
    sizes TEXT NOT NULL,
    severities TEXT NOT NULL,
    rows TEXT NOT NULL
);
CREATE UNIQUE INDEX job_result_seq ON job_result(job_id, seq)
""",
]
