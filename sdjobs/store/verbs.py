# mypy: disable-error-code="misc"
# (each method is typed with ``self: Store``, the one class that mixes it in: mypy calls that
# "erased type of self ... not a supertype", but checks the calls against Store all the same)
"""Job-plane verbs whose SQL lives in a module of its own, as methods of ``Store``.

Each module (schedules, results, settings, events, retention, waits, browse) keeps its
SQL next to its explanation; callers outside ``sdjobs/store`` reach it only through these
methods, which ``store/job_plane.py`` names, so that another backend can answer them.
Each module is imported when first used: a command pays only for what it asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Store
    from .records import Event, JobRecord
    from .schedules import ScheduledJob, ScheduleRecord


class Verbs:
    # -- events ---------------------------------------------------------------
    def record_event(self: Store, job_id: int, kind: str, message: str, fields: dict[str, Any] | None = None, *,
                     ts: float | None = None, claim: int | None = None) -> int | None:
        """One event with its fields (its id); with ``claim``, only while the job runs under it."""
        from . import events

        return events.record(self, job_id, kind, message, fields, ts=ts, claim=claim)

    def amend_event(self: Store, event_id: int | None, message: str, fields: dict[str, Any]) -> None:
        from . import events

        events.amend(self, event_id, message, fields)

    def last_event(self: Store, job_id: int, kind: str) -> Event | None:
        from . import events

        return events.last(self, job_id, kind)

    # -- queries for live views -------------------------------------------------
    def job_stamps(self: Store, history: int) -> list[tuple[int, float]]:
        from . import browse

        return browse.job_stamps(self, history)

    def find_job_stamps(self: Store, *, text: str = "", statuses: Iterable[str] | None = None,
                        types: Iterable[str] | None = None, active_only: bool = False, order: str = "newest",
                        limit: int = 1000, offset: int = 0) -> list[tuple[int, float]]:
        from . import browse

        return browse.find_job_stamps(self, text=text, statuses=statuses, types=types,
                                      active_only=active_only, order=order, limit=limit, offset=offset)

    def count_jobs(self: Store, *, text: str = "", statuses: Iterable[str] | None = None,
                   types: Iterable[str] | None = None, active_only: bool = False) -> int:
        from . import browse

        return browse.count_jobs(self, text=text, statuses=statuses, types=types,
                                 active_only=active_only)

    def dependencies(self: Store, ids: Iterable[int]) -> dict[int, list[int]]:
        from . import browse

        return browse.dependencies(self, ids)

    def waiting(self: Store, recs: Iterable[JobRecord]) -> dict[int, str]:
        """What each of these jobs waits for, for those that wait."""
        from . import waits

        return waits.waiting(self, recs)

    def set_waits(self: Store, changes: dict[int, tuple[int, str | None]]) -> None:
        from . import waits

        waits.set_waits(self, changes)

    def contexts_since(self: Store, since: float) -> list[tuple[int, dict]]:
        from . import action_store

        return action_store.contexts_since(self, since)

    # -- results ----------------------------------------------------------------
    def append_results(self: Store, job_id: int, rows: Iterable[tuple[str, int | None, str | None]], *, start: int,
                       columns: Iterable[str] = (), name: str | None = None, claim: int | None = None) -> int:
        from . import results

        return results.append(self, job_id, rows, start=start, columns=columns, name=name,
                              claim=claim)

    def truncate_results(self: Store, job_id: int, keep: int, *, claim: int | None = None) -> int:
        from . import results

        return results.truncate(self, job_id, keep, claim=claim)

    def results_name(self: Store, job_id: int) -> str | None:
        from . import results

        return results.name(self, job_id)

    def results_columns(self: Store, job_id: int) -> list[str]:
        from . import results

        return results.columns(self, job_id)

    def count_results(self: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None) -> int:
        from . import results

        return results.count(self, job_id, min_size=min_size, severity=severity)

    def result_texts(self: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None,
                     offset: int = 0, limit: int | None = None) -> Iterator[str]:
        from . import results

        return results.texts(self, job_id, min_size=min_size, severity=severity,
                             offset=offset, limit=limit)

    def result_rows(self: Store, job_id: int, *, min_size: int | None = None, severity: str | None = None,
                    offset: int = 0, limit: int | None = None) -> Iterator[dict]:
        from . import results

        return results.rows(self, job_id, min_size=min_size, severity=severity,
                            offset=offset, limit=limit)

    def index_jobs_over(self: Store, root: str) -> list[int]:
        """Queued or running index jobs of this host (or ``any``) whose path overlaps ``root``
        (a new index of it waits for them: one writer per location). Another host's ``/data``
        is another folder, indexed as another location."""
        from .hosts import mine

        out = []
        for rec in self.list_jobs(statuses=["queued", "running"], types=["index"], hosts=mine()):
            p = str(rec.config.get("path", ""))
            if p == root or p.startswith(root.rstrip("/") + "/") or root.startswith(p.rstrip("/") + "/"):
                out.append(rec.id)
        return out

    # -- schedules ----------------------------------------------------------------
    def add_schedule(self: Store, cron: str, argv: list[str], cwd: str | None, job: ScheduledJob | None = None,
                     now: float | None = None) -> int:
        from . import schedules

        return schedules.add(self, cron, argv, cwd, job, now=now)

    def set_schedule_job(self: Store, schedule_id: int, job: ScheduledJob) -> None:
        """Store the job a schedule of v1 stands for (worked out from its command line)."""
        from . import schedules

        schedules.set_job(self, schedule_id, job)

    def schedule(self: Store, schedule_id: int) -> ScheduleRecord:
        """The schedule (NotFound if there is none)."""
        from . import schedules

        return schedules.get(self, schedule_id)

    def schedules(self: Store) -> list[ScheduleRecord]:
        from . import schedules

        return schedules.all_schedules(self)

    def has_schedules(self: Store) -> bool:
        from . import schedules

        return schedules.any_schedule(self)

    def remove_schedule(self: Store, schedule_id: int) -> bool:
        from . import schedules

        return schedules.remove(self, schedule_id)

    def claim_schedule(self: Store, schedule_id: int, seen_checked_at: float, now: float, *, submit: bool) -> bool:
        from . import schedules

        return schedules.claim(self, schedule_id, seen_checked_at, now, submit=submit)

    def set_schedule_pid(self: Store, schedule_id: int, pid: int) -> None:
        from . import schedules

        schedules.set_pending_pid(self, schedule_id, pid)

    def take_lost_schedule(self: Store, schedule_id: int, seen_pending_at: float, now: float) -> bool:
        from . import schedules

        return schedules.take_lost(self, schedule_id, seen_pending_at, now)

    def record_schedule_run(self: Store, schedule_id: int, *, job_id: int | None, error: str | None,
                            pending_at: float, now: float | None = None) -> bool:
        from . import schedules

        return schedules.record(self, schedule_id, job_id=job_id, error=error, now=now, pending_at=pending_at)

    def record_schedule_skip(self: Store, schedule_id: int, note: str) -> None:
        from . import schedules

        schedules.record_skip(self, schedule_id, note)

    # -- the library's settings -----------------------------------------------------
    def library_setting(self: Store, name: str) -> str:
        """The value in force: the one set, or the default."""
        from . import settings_store

        return settings_store.get(self, name)

    def library_settings(self: Store) -> dict[str, tuple[str, float]]:
        """The settings that were set: name -> (value, when)."""
        from . import settings_store

        return settings_store.all_set(self)

    def put_library_setting(self: Store, name: str, value: str) -> str:
        from . import settings_store

        return settings_store.put(self, name, value)

    def unset_library_setting(self: Store, name: str) -> bool:
        from . import settings_store

        return settings_store.unset(self, name)

    # -- retention ----------------------------------------------------------------
    def sweep_results(self: Store, *, now: float | None = None) -> tuple[int, int]:
        from . import retention

        return retention.sweep_results(self, now=now)
