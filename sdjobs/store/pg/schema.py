"""The schema on PostgreSQL: the components of ``store/schema/``, one version list shared
with SQLite, and a few objects of PostgreSQL's own (``PG_MIGRATIONS``: the NOTIFY triggers).

How a component's steps run here (the mechanism pgdata's components use too):

- a step that is an SQL script is translated by ``dialect.ddl`` (types) and run statement by
  statement;
- a step the dialects cannot share is replaced on PostgreSQL by the component's
  ``POSTGRES: dict[int, str | Callable]`` (step index -> its PostgreSQL form; the version
  numbers stay shared);
- a callable step is called with a ``Conn``, which takes qmark SQL (``execute``,
  ``executemany``) and says ``dialect == "postgres"``.

Concurrent first opens do not race: migrations run under a session advisory lock, and the
versions are read again once it is held. Each step commits with its version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .. import schema
from .dialect import ddl, pyformat

_LOCK = 0x5D_10B5_5C4E_4A  # pg_advisory_lock's key for the schema (any constant: "sdjobs schema")
CHANNEL = "sdjobs_changed"
COUNTER = "sdjobs_changes"
# Statement-level triggers on the job plane's tables bump the sequence ``COUNTER`` (at once,
# before the commit: a reader that sees it may still read the data before the change) and
# NOTIFY ``CHANNEL`` (at commit, at most once per transaction): ``PgStore.data_version`` adds
# the two, so it moves for a commit that ended before it was read, and again when one that
# was under way ends.
_NOTIFIED = ("job", "job_event", "job_event_field", "job_wait", "job_result_set", "runner", "schedule",
             "library_setting")
PG_MIGRATIONS: list[str] = [
    f"""
CREATE FUNCTION sdjobs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('{COUNTER}');
    PERFORM pg_notify('{CHANNEL}', '');
    RETURN NULL;
END $$;
CREATE SEQUENCE {COUNTER};
""" + ";\n".join(f"CREATE TRIGGER sdjobs_changed AFTER INSERT OR UPDATE OR DELETE ON {t}"
                 " FOR EACH STATEMENT EXECUTE FUNCTION sdjobs_changed()" for t in _NOTIFIED),
]
# v2: the job table is a queue: its queued rows change by the thousand in a minute, and a
# claim planned on stale statistics (a new library, a burst of submits) sorts every queued
# row (6 ms a claim at 2,000 jobs, 0.8 ms once analyzed). Autovacuum analyzes and vacuums it
# after 2% of its rows changed instead of 10% (and 20%).
PG_MIGRATIONS.append("""
ALTER TABLE job SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 200,
                     autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 200)
""")


class Conn:
    """What a callable migration step is given on PostgreSQL: a psycopg connection that takes
    the qmark SQL written for SQLite."""

    dialect = "postgres"

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, query: str, params: Sequence = ()) -> Any:
        return self.raw.execute(pyformat(query), params)

    def executemany(self, query: str, rows: Iterable[Sequence]) -> None:
        self.raw.cursor().executemany(pyformat(query), rows)


def _components() -> list[tuple[str, list]]:
    out = []
    for name, mod in schema._modules():
        steps = list(mod.MIGRATIONS)
        for i, step in getattr(mod, "POSTGRES", {}).items():
            steps[i] = step
        out.append((name, steps))
    out.append(("postgres", PG_MIGRATIONS))
    return out


def current_versions(raw: Any) -> dict[str, int]:
    if raw.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return {}
    return dict(raw.execute("SELECT component, version FROM schema_version").fetchall())


def check_not_newer(raw: Any, where: str) -> None:
    target = dict((name, len(steps)) for name, steps in _components())
    for name, have in sorted(current_versions(raw).items()):
        if name in target and have > target[name]:
            raise schema.SchemaTooNew(f"{where} has schema {name} v{have}, newer than this sdjobs knows "
                                      f"(v{target[name]}): upgrade sdjobs to use it")


def needs_migration(raw: Any) -> bool:
    current = current_versions(raw)
    return any(current.get(name, 0) < len(steps) for name, steps in _components())


def migrate(raw: Any, where: str) -> list[str]:
    """Apply what is missing (``raw``: a psycopg connection in autocommit mode), under the
    schema's advisory lock."""
    raw.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
    try:
        check_not_newer(raw, where)
        raw.execute("CREATE TABLE IF NOT EXISTS schema_version (component TEXT PRIMARY KEY,"
                    " version INTEGER NOT NULL)")
        applied = []
        for name, steps in _components():
            have = current_versions(raw).get(name, 0)
            for version in range(have, len(steps)):
                with raw.transaction():
                    _run(raw, steps[version])
                    raw.execute("INSERT INTO schema_version (component, version) VALUES (%s, %s)"
                                " ON CONFLICT (component) DO UPDATE SET version = excluded.version",
                                (name, version + 1))
                applied.append(f"{name}:{version + 1}")
        return applied
    finally:
        raw.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))


def _run(raw: Any, step: str | Callable) -> None:
    if callable(step):
        step(Conn(raw))
        return
    if step.lstrip().startswith("CREATE FUNCTION"):  # a function body holds semicolons: its own statement
        head, _, rest = step.partition("END $$;")
        raw.execute(head + "END $$")
        step = rest
    for stmt in schema._statements(ddl(step)):
        raw.execute(stmt)
