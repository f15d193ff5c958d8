"""A parent job's progress includes its children's, computed when it is read.

Every read of a job through the store (``get``, ``list_jobs``) adds to a job
that has children a ``children`` entry in its progress fields: how many there
are, how many finished and how, their combined completion, bytes and items.
While the parent waits for them (queued with ``wait_children``) its progress
*is* theirs: phase "waiting for children", done/total counted in children and
the percent combined from each child's own progress. Nothing is stored, so it
is never stale, and the CLI, the dashboard and ``--json`` all see the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from collections.abc import Iterable

from ..core import codec
from ..core.progress import Progress
from ..core.status import FINISHED

if TYPE_CHECKING:
    from .api import Store
    from .records import JobRecord

_CHUNK = 500
_ORDER = ("running", "queued", "paused", "interrupted", "completed", "completed-with-errors", "failed", "cancelled")


class ChildrenSummary(dict):
    """Plain dict data (JSON, msgpack) that also reads well as text: '1/3 finished: ...'."""

    def __str__(self) -> str:
        counts = self.get("statuses", {})
        parts = ", ".join(f"{counts[s]} {s}" for s in _ORDER if counts.get(s))
        text = f"{self.get('finished', 0)}/{self.get('total', 0)} finished"
        if parts:
            text += f" ({parts})"
        if self.get("percent") is not None:
            text += f", {self['percent']:.0f}%"
        return text

    __repr__ = __str__


def attach(store: Store, recs: Iterable[JobRecord]) -> None:
    """Add the children summary to each record that has children (one query per 500 records)."""
    recs = [r for r in recs]
    by_id = {r.id: r for r in recs}
    ids = list(by_id)
    rows: dict[int, list[tuple]] = {}
    for i in range(0, len(ids), _CHUNK):
        part = ids[i:i + _CHUNK]
        for parent, status, progress, bytes_done, items_done in store._sql(
                f"SELECT parent_id, status, progress, bytes_done, items_done FROM job"
                f" WHERE parent_id IN ({','.join('?' * len(part))}) ORDER BY id", part):
            rows.setdefault(parent, []).append((status, progress, bytes_done, items_done))
    for parent, kids in rows.items():
        rec = by_id[parent]
        summary = summarize(kids)
        rec.progress.fields = {**rec.progress.fields, "children": summary}
        if rec.status == "queued" and rec.wait_children:
            _waiting(rec.progress, summary)


def summarize(kids: list[tuple]) -> ChildrenSummary:
    statuses: dict[str, int] = {}
    fractions = []
    for status, progress, _b, _i in kids:
        statuses[status] = statuses.get(status, 0) + 1
        if status in FINISHED:
            fractions.append(1.0)
        else:
            fractions.append(Progress.from_dict(codec.unpack(progress)).fraction() or 0.0)
    return ChildrenSummary(
        total=len(kids), finished=sum(n for s, n in statuses.items() if s in FINISHED),
        statuses=statuses, percent=round(100.0 * sum(fractions) / len(fractions), 1) if fractions else None,
        bytes=sum(k[2] or 0 for k in kids), items=sum(k[3] or 0 for k in kids))


def _waiting(p: Progress, summary: dict[str, Any]) -> None:
    p.phase = "waiting for children"
    p.message = str(summary)
    p.done, p.total, p.unit = summary["finished"], summary["total"], "children"
    p.bytes_done = p.bytes_total = None
    p.percent = summary["percent"]
    p.path = None
    p.rate = p.eta = None
