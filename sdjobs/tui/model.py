"""What the dashboard shows, read from the store in a worker thread.

``JobsLoader`` keeps one decoded ``JobView`` per job and, on each change of
the library, re-reads only the jobs whose ``updated_at`` moved, so that a
progress write costs one row, not the whole history. Nothing here touches a
widget: the loaders return plain, immutable data that the app posts as
messages.

A record that cannot be decoded (a malformed blob, a job type that is not
installed here) still gets a view: it says what could not be read.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from collections.abc import Callable

from ..core import registry
from ..core.errors import NotFound
from ..core.status import FINISHED
from ..store.api import Store
from ..store.records import Event, JobRecord, RunnerRecord
from . import format as fmt

FINISHED_NAMES = frozenset(str(s) for s in FINISHED)
HISTORY_LIMIT = 1000      # finished jobs kept in the table, newest first (a search reads the whole library)
FULL_RELOAD_EVERY = 30.0  # seconds: on a change, re-read everything this often (a write may leave updated_at alone)


@dataclasses.dataclass(frozen=True)
class JobView:
    """One row of the job table, already formatted (except what depends on the clock)."""

    id: int
    type: str
    status: str
    priority: int = 0
    known: bool = True
    parent_id: int | None = None
    fraction: float | None = None
    done: str = ""
    rate: str = ""
    eta: str = ""
    phase: str = ""
    started_by: str = ""
    created_at: float | None = None
    control: str | None = None
    warnings: int = 0
    errors: int = 0
    problem: str | None = None
    sources: tuple[str, ...] = ()   # what the job reads (paths, already printable)
    dest: str = ""                  # where it writes, for a job that copies
    reason: str = ""                # why it failed or stopped, first line
    after: tuple[int, ...] = ()     # jobs it waits for
    host: str = ""                  # the host it is meant for, once the library has several (or "any")

    @property
    def active(self) -> bool:
        return self.status not in FINISHED_NAMES

    @property
    def search_text(self) -> str:
        return " ".join((str(self.id), self.type, self.status, self.phase, self.started_by, self.reason,
                         *self.sources, self.dest)).lower()

    def sort_key(self) -> tuple:
        """Active jobs first (running, then by priority), then history newest first."""
        if self.active:
            return (0, self.status != "running", -self.priority, self.id)
        return (1, 0, 0, -self.id)


SORTS: dict[str, Callable[[JobView], Any]] = {
    "active": JobView.sort_key,
    "newest": lambda v: -v.id,
    "oldest": lambda v: v.id,
    "priority": lambda v: (-v.priority, -v.id),
    "status": lambda v: (v.status, -v.id),
    "type": lambda v: (v.type, -v.id),
}


@dataclasses.dataclass(frozen=True)
class Query:
    """Which jobs the table shows: the store picks them from the whole library."""

    text: str = ""
    status: str | None = None
    history: bool = True
    sort: str = "active"

    @property
    def plain(self) -> bool:
        """The usual view: active jobs and the newest history (no search)."""
        return not self.text.strip() and self.status is None and self.history and self.sort == "active"

    def matches(self, v: JobView) -> bool:
        """The same choice made on rows already read (shown until the store answers)."""
        text = self.text.lower().split()
        return ((self.history or v.active or self.status in FINISHED_NAMES)
                and (self.status is None or v.status == self.status)
                and all(w.lstrip("#") == str(v.id) or w in v.search_text for w in text))


@dataclasses.dataclass(frozen=True)
class RunnerView:
    """A live runner as the header shows it (no heartbeat time: a heartbeat alone changes nothing on screen)."""

    id: int
    pid: int
    host: str
    workers: int
    busy: int
    stopping: bool

    @classmethod
    def of(cls, r: RunnerRecord) -> RunnerView:
        return cls(r.id, r.pid, r.host, r.workers, r.busy, bool(r.stopping))


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything the main view shows at one moment."""

    jobs: tuple[JobView, ...]
    counts: dict[str, int]
    runners: tuple[RunnerView, ...]
    history_total: int          # finished jobs in the library (the table keeps the newest HISTORY_LIMIT)
    error: str | None = None    # the library could not be read at all this time
    query: Query | None = None  # what these jobs answer
    matching: int | None = None  # jobs of the whole library that match a search (jobs holds the first ones)


@dataclasses.dataclass(frozen=True)
class Relative:
    id: int
    type: str
    status: str
    fraction: float | None = None


@dataclasses.dataclass(frozen=True)
class DetailData:
    """One job in full, plus the events that are new since the last load."""

    job_id: int
    record: JobRecord | None
    view: JobView | None
    events: tuple[Event, ...] = ()
    issues: tuple[Event, ...] = ()
    reset: bool = False                  # events/issues replace what is shown instead of adding to it
    parent: Relative | None = None
    children: tuple[Relative, ...] = ()
    description: str | None = None       # the job type's description; None when it is not installed here
    summary: str | None = None           # the job type's one-line summary of its output
    gone: bool = False                   # the job was pruned
    problem: str | None = None
    results: Results | None = None     # its result rows (``sdjobs jobs output``), once it has finished


RESULT_ROWS = 5000  # the first rows of a result the details show; `jobs output` has them all


@dataclasses.dataclass(frozen=True)
class Results:
    """The first rows of a finished job's result, as ``sdjobs jobs output`` gives them."""

    name: str                      # what the rows are: groups, issues, rows
    columns: tuple[str, ...]
    rows: tuple[dict, ...]
    count: int


def read_results(store: Store, job_id: int) -> Results | None:

    name = store.results_name(job_id)
    if name is None:
        return None
    return Results(name, tuple(store.results_columns(job_id)),
                   tuple(store.result_rows(job_id, limit=RESULT_ROWS)), store.count_results(job_id))


Lookup = Callable[[str], Any]   # job type name -> its class, or None when it is not installed here


class JobTypes:
    """What the dashboard knows of job types, asked once per name (plugins may be slow or broken)."""

    def __init__(self, lookup: Lookup | None = None) -> None:
        self.lookup = lookup or registry.find
        self._cache: dict[str, Any] = {}

    def find(self, name: str) -> Any:
        if name not in self._cache:
            try:
                self._cache[name] = self.lookup(name)
            except Exception:  # noqa: BLE001 - a broken plugin is the plugin's problem, not the dashboard's
                self._cache[name] = None
        return self._cache[name]

    def known(self, name: str) -> bool:
        return self.find(name) is not None

    def description(self, name: str) -> str | None:
        cls = self.find(name)
        return None if cls is None else str(getattr(cls, "description", "") or "")

    def summarize(self, rec: JobRecord | None) -> str | None:
        if rec is None or rec.status not in FINISHED_NAMES or rec.output is None:
            return None
        cls = self.find(rec.type)
        try:
            return None if cls is None else str(cls.summarize(rec.output) or "") or None
        except Exception:  # noqa: BLE001 - a plugin's summary must not break the dashboard
            return None


def view_of(rec: JobRecord, types: JobTypes, host: str = "") -> JobView:
    """Format one record; parts that do not decode are left out and named in ``problem``."""
    problems = []
    done = rate = eta = phase = ""
    fraction: float | None = None
    try:
        p = rec.progress
        fraction = p.fraction()
        done = fmt.done_text(p)
        phase = str(p.phase or "")
        if rec.status == "running":
            rate = fmt.human_rate(p.rate, p.rate_unit)
            eta = fmt.human_duration(p.eta) if p.eta is not None else ""
    except Exception as exc:  # noqa: BLE001 - a record this code cannot lay out: the row says so
        problems.append(f"progress: {exc}")
    if rec.status in ("completed", "completed-with-errors") and fraction is None:
        fraction = 1.0
    if not done and rec.status in FINISHED_NAMES:  # the last phase may count nothing: say what was done
        done = fmt.human_bytes(rec.bytes_done) if rec.bytes_done else (
            f"{fmt.compact_number(rec.items_done)} items" if rec.items_done else "")
    try:
        by = fmt.started_by(rec.context, rec.parent_id)
    except Exception as exc:  # noqa: BLE001 - a record this code cannot lay out: the row says so
        by = ""
        problems.append(f"context: {exc}")
    try:
        sources, dest = targets(rec.config)
    except Exception as exc:  # noqa: BLE001 - a record this code cannot lay out: the row says so
        sources, dest = (), ""
        problems.append(f"config: {exc}")
    return JobView(
        id=rec.id, type=str(rec.type), status=str(rec.status), priority=_int(rec.priority),
        known=types.known(str(rec.type)), parent_id=rec.parent_id, fraction=fraction, done=done,
        rate=rate, eta=eta, phase=phase, started_by=by, created_at=rec.created_at, control=rec.control,
        warnings=_int(rec.warnings), errors=_int(rec.errors), problem="; ".join(problems) or None,
        sources=sources, dest=dest, reason=reason_of(rec), after=tuple(rec.depends_on or ()), host=host)


def host_labels(store: Store) -> Callable[[JobRecord], str]:
    """A job's HOST cell: its host's name (or ``any``) once the library has more than one host
    or the job is meant for another; empty for a library used from this host alone."""
    from ..core.hostid import this_host

    try:
        names = store.host_names()
    except Exception:  # noqa: BLE001 - which host is a detail: the rows show without it
        return lambda rec: ""
    here, several = this_host(), len(names) > 1

    def label(rec: JobRecord) -> str:
        host = getattr(rec, "host", "any")
        if not several and host in (here, "any"):
            return ""
        return "any" if host == "any" else names.get(host, host)
    return label


SOURCE_KEYS = ("sources", "paths", "path", "root", "src", "source", "from_file", "plan_file")
DEST_KEYS = ("dest", "dst", "destination", "target")


def targets(config: Any) -> tuple[tuple[str, ...], str]:
    """What a job reads and where it writes, from its config (any job type: the usual key names)."""
    if not isinstance(config, dict):
        return (), ""
    sources: tuple[str, ...] = ()
    for key in SOURCE_KEYS:
        value = config.get(key)
        if value:
            values = value if isinstance(value, (list, tuple)) else [value]
            sources = tuple(fmt.display(v) for v in values if isinstance(v, (str, bytes)))
            if sources:
                break
    dest = next((fmt.display(config[k]) for k in DEST_KEYS if isinstance(config.get(k), (str, bytes))
                 and config[k]), "")
    return sources, dest


def reason_of(rec: JobRecord) -> str:
    """The one line a list shows for a job that did not end well."""
    first = str(rec.error or "").strip().split("\n")[0]
    if rec.status in ("failed", "interrupted") and first:
        return fmt.safe(first)
    if rec.status == "completed-with-errors" or (rec.status == "failed" and rec.errors):
        return fmt.issue_count(_int(rec.errors), _int(rec.warnings))
    return ""


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def broken_view(store: Store, job_id: int, problem: str, types: JobTypes) -> JobView | None:
    """What can be shown of a record whose blobs do not decode."""
    row = store.job_head(job_id)
    if row is None:
        return None
    id_, type_, status, priority, parent_id, created_at, control = row
    return JobView(id=id_, type=str(type_), status=str(status), priority=_int(priority),
                   known=types.known(str(type_)), parent_id=parent_id, created_at=created_at,
                   control=control, problem=f"unreadable record: {problem}")


def read_views(store: Store, ids: list[int], types: JobTypes) -> dict[int, JobView]:
    """Views of these jobs; one malformed record does not hide the others."""
    views: dict[int, JobView] = {}
    label = host_labels(store)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        try:
            records = store.list_jobs(ids=chunk)
        except NotFound:
            continue
        except Exception:  # noqa: BLE001 - one unreadable record: find it below, one by one
            records = None
        if records is not None:
            for rec in records:
                views[rec.id] = view_of(rec, types, label(rec))
            try:
                for job_id, deps in store.dependencies(chunk).items():
                    if job_id in views:
                        views[job_id] = dataclasses.replace(views[job_id], after=tuple(deps))
            except Exception:  # noqa: BLE001 - waiting for a job is a detail
                pass  # waiting for a job is a detail: the row shows without it
            continue
        for job_id in chunk:  # find the bad one(s)
            try:
                for rec in store.list_jobs(ids=[job_id]):
                    views[rec.id] = view_of(rec, types, label(rec))
            except Exception as exc:  # noqa: BLE001 - an unreadable record: shown broken, not hidden
                view = broken_view(store, job_id, str(exc) or type(exc).__name__, types)
                if view is not None:
                    views[job_id] = view
    return views


class JobsLoader:
    """Keeps the decoded views between loads; call ``load`` when the library changed."""

    def __init__(self, store: Store, types: JobTypes, history_limit: int = HISTORY_LIMIT) -> None:
        self.store = store
        self.types = types
        self.history_limit = history_limit
        self._stamps: dict[int, Any] = {}
        self._views: dict[int, JobView] = {}
        self._jobs: tuple[JobView, ...] = ()
        self._counts: dict[str, int] | None = None
        self._last_full = 0.0

    def load(self, changed: bool = True, query: Query | None = None) -> Snapshot:
        """Re-read what changed; with ``changed=False`` only the runners (their liveness is a matter of time)."""
        store = self.store
        query = query or Query()
        if changed or self._counts is None or query != self._query:
            self._read_jobs(query)
        return Snapshot(jobs=self._jobs, counts=self._counts, runners=tuple(map(RunnerView.of, store.runners())),
                        history_total=sum(n for s, n in self._counts.items() if s in FINISHED_NAMES),
                        query=query, matching=self._matching)

    _query: Query | None = None
    _matching: int | None = None

    def _read_jobs(self, query: Query) -> None:
        store = self.store
        if time.monotonic() - self._last_full > FULL_RELOAD_EVERY:
            self._stamps.clear()
            self._last_full = time.monotonic()
        if query.plain:
            stamps = dict(store.job_stamps(self.history_limit))
            self._matching = None
        else:
            search = dict(text=query.text, statuses=[query.status] if query.status else None,
                          active_only=not query.history and query.status not in FINISHED_NAMES)
            order = "newest" if query.sort == "active" else query.sort
            stamps = dict(store.find_job_stamps(order=order, limit=self.history_limit, **search))
            self._matching = (len(stamps) if len(stamps) < self.history_limit
                              else store.count_jobs(**search))
        changed = [i for i, stamp in stamps.items() if self._stamps.get(i, ()) != stamp or i not in self._views]
        fresh = read_views(store, changed, self.types) if changed else {}
        views = {i: fresh.get(i) or self._views.get(i) for i in stamps}
        self._views = {i: v for i, v in views.items() if v is not None}
        self._stamps = {i: s for i, s in stamps.items() if i in self._views}
        if changed or len(self._jobs) != len(self._views) or query != self._query:
            self._jobs = tuple(sorted(self._views.values(), key=SORTS.get(query.sort, JobView.sort_key)))
        self._query = query
        self._counts = store.counts()


class DetailLoader:
    """One job in full; events are read incrementally after the first load."""

    first_events = 500
    first_issues = 1000

    def __init__(self, store: Store, job_id: int, types: JobTypes) -> None:
        self.store = store
        self.types = types
        self.job_id = job_id
        self._last_event: int | None = None
        self._results_read = False  # a result is read once, when the job has finished

    def load(self) -> DetailData:
        store, job_id = self.store, self.job_id
        rec, view, problem = None, None, None
        try:
            rec = store.get(job_id)
            view = view_of(rec, self.types)
        except NotFound:
            return DetailData(job_id, None, None, gone=True, reset=self._last_event is None)
        except Exception as exc:  # noqa: BLE001 - an unreadable record: shown broken, not hidden
            problem = f"unreadable record: {exc}"
            view = broken_view(store, job_id, str(exc), self.types)
            if view is None:
                return DetailData(job_id, None, None, gone=True)
        reset = self._last_event is None
        try:
            if reset:
                events = store.events(job_id, limit=self.first_events, newest=True)
                issues = store.events(job_id, kinds=("warning", "error"), limit=self.first_issues, newest=True)
            else:
                events = store.events(job_id, after_id=self._last_event, limit=2000, newest=True)
                issues = [e for e in events if e.kind in ("warning", "error")]
            last = max([e.id for e in events] + [e.id for e in issues] + [self._last_event or 0])
            self._last_event = last
        except Exception as exc:  # noqa: BLE001 - an unreadable event log must not take the details with it
            events, issues = [], []
            problem = (problem + "; " if problem else "") + f"events: {exc}"
            self._last_event = self._last_event or 0
        parent = children = None
        if rec is not None:
            rel_ids = ([rec.parent_id] if rec.parent_id else []) + list(rec.children)
            rels = read_views(store, rel_ids, self.types) if rel_ids else {}
            parent = _relative(rels.get(rec.parent_id)) if rec.parent_id else None
            children = tuple(r for r in (_relative(rels.get(c)) for c in rec.children) if r is not None)
        found = None
        if rec is not None and str(rec.status) in FINISHED_NAMES and not self._results_read:
            self._results_read = True
            try:
                found = read_results(store, job_id)
            except Exception as exc:  # noqa: BLE001 - an unreadable result must not take the details with it
                problem = (problem + "; " if problem else "") + f"results: {exc}"
        return DetailData(job_id, rec, view, events=tuple(events), issues=tuple(issues), reset=reset,
                          parent=parent, children=children or (), problem=problem,
                          description=self.types.description(view.type) if view else None,
                          summary=self.types.summarize(rec), results=found)


def _relative(view: JobView | None) -> Relative | None:
    if view is None:
        return None
    return Relative(view.id, view.type, view.status, view.fraction)
