"""Browsing the job history for a live view: which jobs, in what order, changed when.

A dashboard keeps its decoded rows between reads and asks only for
``(id, updated_at)`` stamps, so that it re-reads just the jobs that moved.
``job_stamps`` answers for the usual view (every active job and the newest
finished ones); ``find_job_stamps`` searches the whole library (text, status,
type), ordered and paged in SQLite, so that an old failure is found however
much history came after it.

Text is looked for in the id, type, status and failure reason (any case), and
in the job's configuration and command line as stored (paths match with their
exact case: the blobs are compared byte for byte).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from collections.abc import Iterable

from ..core.status import ACTIVE, FINISHED

if TYPE_CHECKING:
    from .api import Store

_FINISHED_SQL = "(" + ",".join(f"'{s.value}'" for s in FINISHED) + ")"
_ACTIVE_SQL = "(" + ",".join(f"'{s.value}'" for s in ACTIVE) + ")"

ORDERS = {
    "newest": "id DESC",
    "oldest": "id",
    "priority": "priority DESC, id DESC",
    "status": "status, id DESC",
    "type": "type, id DESC",
    "updated": "updated_at DESC, id DESC",
}

Stamps = list[tuple[int, float]]


def job_stamps(store: Store, history: int) -> Stamps:
    """Every active job and the ``history`` newest finished ones."""
    return [tuple(r) for r in store._sql(
        f"SELECT id, updated_at FROM job WHERE status IN {_ACTIVE_SQL}"
        f" UNION ALL SELECT * FROM (SELECT id, updated_at FROM job WHERE {store._PLUS}status IN {_FINISHED_SQL}"
        " ORDER BY id DESC LIMIT ?) AS recent", (int(history),)).fetchall()]


def find_job_stamps(store: Store, *, text: str = "", statuses: Iterable[str] | None = None,
                    types: Iterable[str] | None = None, active_only: bool = False, order: str = "newest",
                    limit: int = 1000, offset: int = 0) -> Stamps:
    """Jobs of the whole library that match, in ``order`` (a key of ORDERS), one page of them."""
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r} (one of: {', '.join(ORDERS)})")
    where, params = _conditions(store, text, statuses, types, active_only)
    return [tuple(r) for r in store._sql(
        f"SELECT id, updated_at FROM job WHERE {where} ORDER BY {ORDERS[order]} LIMIT ? OFFSET ?",
        (*params, int(limit), int(offset))).fetchall()]


def count_jobs(store: Store, *, text: str = "", statuses: Iterable[str] | None = None,
               types: Iterable[str] | None = None, active_only: bool = False) -> int:
    where, params = _conditions(store, text, statuses, types, active_only)
    return store._sql(f"SELECT COUNT(*) FROM job WHERE {where}", params).fetchone()[0]


def job_exists(store: Store, job_id: int) -> bool:
    return store._sql("SELECT 1 FROM job WHERE id = ?", (int(job_id),)).fetchone() is not None


def _conditions(store: Store, text: str, statuses, types, active_only: bool) -> tuple[str, list]:
    where: list[str] = []
    params: list = []
    for column, values in (("status", statuses), ("type", types)):
        if values is not None:
            values = list(values)
            where.append(f"{column} IN ({','.join('?' * len(values))})" if values else "FALSE")
            params += values
    if active_only:
        where.append(f"status IN {_ACTIVE_SQL}")
    for word in text.split():
        like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        raw = word.encode("utf-8", "surrogateescape")
        like_ = store._LIKE
        where.append(f"(CAST(id AS TEXT) = ? OR type {like_} ? ESCAPE '\\' OR status {like_} ? ESCAPE '\\'"
                     f" OR error {like_} ? ESCAPE '\\' OR {store._contains('config')} OR {store._contains('context')})")
        params += [word.lstrip("#"), like, like, like, raw, raw]
    return " AND ".join(where) or "TRUE", params


def dependencies(store: Store, ids: Iterable[int]) -> dict[int, list[int]]:
    """For each of these jobs that waits for others (``--after``), the jobs it waits for."""
    ids = [int(i) for i in ids]
    out: dict[int, list[int]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for job_id, dep in store._sql(f"SELECT job_id, depends_on FROM job_dep WHERE job_id IN"
                                      f" ({','.join('?' * len(chunk))}) ORDER BY job_id, depends_on", chunk):
            out.setdefault(job_id, []).append(dep)
    return out
