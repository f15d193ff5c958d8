"""`sdjobs dash`: a live view of every job in a library, and the verbs to steer them.

Data flows one way. A single watcher worker (a thread with its own SQLite
connection) checks ``PRAGMA data_version`` every ``interval`` seconds (on PostgreSQL it
sleeps until a NOTIFY says the job plane changed, ``Store.wait_changed``); only
when another connection has committed does it re-read what changed, and it
posts immutable snapshots as messages. Actions (pause, resume, cancel, retry,
priority) run in their own short workers through ``sdjobs.runner.control``,
the same verbs as the CLI. No widget is touched from a thread.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from pathlib import Path
from collections.abc import Callable

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from ..core.errors import SdjobsError
from ..runner import control
from ..store.api import Store
from . import format as fmt
from .messages import ActionDone, DetailLoaded, JobsLoaded
from .model import SORTS, DetailLoader, JobsLoader, JobTypes, JobView, Lookup, Query, Snapshot
from .theme import MONO_THEME, use_monochrome
from .screens.confirm import ConfirmScreen
from .screens.detail import DetailScreen
from .screens.help import HelpScreen
from .widgets.empty_notice import EmptyNotice
from .widgets.filter_bar import FilterBar
from .widgets.job_table import JobTable
from .widgets.status_bar import StatusBar

STATUS_CYCLE = (None, "running", "queued", "paused", "interrupted", "failed", "completed-with-errors",
                "completed", "cancelled")
SORT_CYCLE = tuple(SORTS)
JOB_ACTIONS = {"pause", "resume", "cancel", "retry", "priority"}
MAIN_ONLY = {"filter", "cycle_status", "toggle_history", "goto", "cycle_sort", "follow_new", "fold"}
RECHECK_RUNNERS = 2.0    # seconds: a runner that dies writes nothing, so look again now and then
RECOVER_EVERY = 10.0     # seconds: jobs of dead runners become interrupted, as `jobs ls` does
DETAIL_EVERY = 0.5       # seconds: the followed job is read at most this often (its screen draws once a second)


class DashApp(App):
    """The dashboard over ``store``.

    ``now`` freezes the clock (a number) or replaces it (a callable); ``lookup``
    maps a job type name to its class (default: the registry). Both exist so
    that snapshot tests draw the same screen on every machine."""

    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere find it too
    TITLE = "sdjobs dash"
    ENABLE_COMMAND_PALETTE = True
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        Binding("p", "pause", "Pause"),
        Binding("r", "resume", "Resume"),
        Binding("c", "cancel", "Cancel"),
        Binding("R", "retry", "Retry", show=False),
        Binding("plus", "priority(1)", "Priority +", show=False),
        Binding("minus", "priority(-1)", "Priority -", show=False),
        Binding("slash", "filter", "Filter"),
        Binding("number_sign,colon", "goto", "Go to", show=False),
        Binding("s", "cycle_status", "Status"),
        Binding("o", "cycle_sort", "Sort", show=False),
        Binding("h", "toggle_history", "History", show=False),
        Binding("f", "follow_new", "Follow new", show=False),
        Binding("space", "fold", "Fold", show=False),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("ctrl+z", "suspend_process", "Suspend", show=False),
    ]

    def __init__(self, store: Store, *, now: float | Callable[[], float] | None = None, interval: float = 0.1,
                 job: int | None = None, theme: str | None = "ansi-dark", lookup: Lookup | None = None,
                 library: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.now: Callable[[], float] = (lambda: float(now)) if isinstance(now, (int, float)) else (now or time.time)
        self.interval = interval
        self.open_job = job
        self.library_name = library if library is not None else str(getattr(store.library, "db_path", ""))
        self.types = JobTypes(lookup)   # used by the watcher thread only
        self.animation_level = "none"   # a sliding tab underline costs frames every time a count in a label moves
        self.register_theme(MONO_THEME)
        self.monochrome = self.no_color   # NO_COLOR: the terminal's own colours, bold, reverse, underline
        use_monochrome(self, self.monochrome)
        if self.monochrome:
            self.theme = MONO_THEME.name
        elif theme:
            self.theme = theme
        self.snapshot: Snapshot | None = None
        self.loaded = False            # the first snapshot arrived (tests wait for it)
        self.text_filter = ""
        self.status_filter: str | None = None
        self.show_history = True
        self.sort = "active"
        self.follow_new = False         # the cursor jumps to each new job
        self.folded: set[int] = set()   # parents whose children are hidden
        self._newest_seen = 0
        self._query = Query()           # read by the watcher thread: replaced, never changed
        self._follow: tuple[int, int] | None = None   # (generation, job id) the detail screen wants
        self._generation = itertools.count(1)
        self._wake = threading.Event()
        self._action_lock = threading.Lock()   # one action at a time: `+ + +` must add 3

    # -- layout ------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield FilterBar(id="filter")
        yield JobTable(id="jobs")
        yield EmptyNotice(id="empty")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._table = self.query_one("#jobs", JobTable)
        self._status = self.query_one("#status", StatusBar)
        self._empty = self.query_one("#empty", EmptyNotice)
        self._status.show(None, shown=0)
        self._table.focus()
        self.watch_library()
        self.set_interval(1.0, self._tick)
        if self.open_job is not None:
            self.push_screen(DetailScreen(self.open_job))

    @property
    def table(self) -> JobTable:
        return self._table

    # -- the watcher (a thread) ---------------------------------------------
    @work(thread=True, exclusive=True, group="watch", name="watch library")
    def watch_library(self) -> None:
        worker = get_current_worker()
        store = self.store
        jobs = JobsLoader(store, self.types)
        detail: DetailLoader | None = None
        following: tuple[int, int] | None = None
        last_version = last_snapshot = None
        last_runners = last_recover = last_detail = 0.0
        jobs_due = detail_due = False   # a change not read yet (the table hidden; a detail read too soon)
        try:
            while not worker.is_cancelled:
                now = time.monotonic()
                try:
                    if now - last_recover >= RECOVER_EVERY:
                        last_recover = now
                        if store.recover_orphans():
                            last_version = None  # our own commit does not move our data_version
                    version = store.data_version()
                    changed = version != last_version
                    last_version = version
                    query = self._query
                    moved = last_snapshot is None or last_snapshot.query != query
                    jobs_due = jobs_due or changed
                    wanted = self._follow
                    # The detail screen hides the table: leave it until the screen closes (a job being
                    # followed writes four times a second).
                    if wanted is None or last_snapshot is None or moved:
                        if jobs_due or moved or now - last_runners >= RECHECK_RUNNERS:
                            last_runners = now
                            snapshot = jobs.load(jobs_due or last_snapshot is None, query)
                            jobs_due = False
                            if snapshot != last_snapshot:
                                last_snapshot = snapshot
                                self.post_message(JobsLoaded(snapshot))
                    if wanted != following:
                        following = wanted
                        detail = DetailLoader(store, wanted[1], self.types) if wanted else None
                        detail_due, last_detail = True, 0.0
                    detail_due = detail_due or changed
                    if detail is not None and detail_due and now - last_detail >= DETAIL_EVERY:
                        detail_due, last_detail = False, now
                        self.post_message(DetailLoaded(detail.load()))
                except Exception as exc:  # noqa: BLE001 - a library being rewritten, a disk hiccup: say so, keep the rows, retry
                    error = f"{type(exc).__name__}: {exc}"
                    if last_snapshot is None or last_snapshot.error != error:
                        last_snapshot = dataclasses.replace(last_snapshot or Snapshot((), {}, (), 0), error=error)
                        self.post_message(JobsLoaded(last_snapshot))
                    last_version = None
                    self._wake.wait(1.0)
                if store.woken_by_changes and not self._wake.is_set():
                    store.wait_changed(last_version or 0, self.interval)  # NOTIFY ends it at once
                else:
                    self._wake.wait(self.interval)
                self._wake.clear()
        finally:
            store.close()  # this thread's connection

    def follow_job(self, job_id: int | None) -> None:
        """Ask the watcher to load this job in full on every change (None: stop, and read the table again)."""
        self._follow = None if job_id is None else (next(self._generation), job_id)
        self._wake.set()

    # -- applying data ------------------------------------------------------
    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        self.snapshot = message.snapshot
        self.loaded = True
        self.refresh_view()

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, DetailScreen) and screen.job_id == message.data.job_id:
                screen.apply(message.data)

    def query(self) -> Query:
        return Query(self.text_filter, self.status_filter, self.show_history, self.sort)

    def _ask(self) -> None:
        """Tell the watcher what to read, and show at once what the rows already read allow."""
        self._query = self.query()
        self._wake.set()
        self.refresh_view()

    def visible_jobs(self) -> list[JobView]:
        """The rows in table order: the store's answer to the query (or, until it comes, the rows
        already read that match), children under their parent."""
        if self.snapshot is None:
            return []
        query = self.query()
        jobs = list(self.snapshot.jobs)
        if self.snapshot.query != query:
            jobs = sorted((v for v in jobs if query.matches(v)), key=SORTS.get(query.sort, JobView.sort_key))
        return jobs

    def nest(self, jobs: list[JobView]) -> tuple[list[JobView], dict[int, int], dict[int, int]]:
        """Children right under their parent (when both are shown); folded parents hide theirs."""
        shown = {v.id for v in jobs}
        kids: dict[int, list[JobView]] = {}
        for v in jobs:
            if v.parent_id in shown and v.parent_id != v.id:
                kids.setdefault(v.parent_id, []).append(v)
        out: list[JobView] = []
        depth: dict[int, int] = {}
        folded: dict[int, int] = {}
        placed: set[int] = set()

        def place(v: JobView, level: int) -> None:
            if v.id in placed:
                return
            placed.add(v.id)
            out.append(v)
            if level:
                depth[v.id] = level
            children = kids.get(v.id, [])
            if v.id in self.folded and children:
                folded[v.id] = len(children)
                placed.update(c.id for c in children)
                return
            for child in sorted(children, key=lambda c: c.id):
                place(child, level + 1)

        for v in jobs:
            if v.parent_id not in shown or v.parent_id == v.id:
                place(v, 0)
        for v in jobs:  # a loop of parents (should not happen): still shown
            place(v, 0)
        return out, depth, folded

    def refresh_view(self) -> None:
        if not self._table.is_attached:  # a message that arrived while the app closes
            return
        if isinstance(self.screen, DetailScreen):
            # The table is hidden, yet a change drawn on it repaints the screen on top (Textual paints
            # the screens below one with a transparent background): draw it when it shows again.
            self._stale = True
            return
        self._stale = False

        jobs, depth, folded = self.nest(self.visible_jobs())
        newest = max((v.id for v in jobs), default=0)
        self._table.show(jobs, self.now(), depth, folded)
        if self.follow_new and newest > self._newest_seen and self._newest_seen:
            self._table.select(newest)
        self._newest_seen = max(self._newest_seen, newest)
        self._status.show(self.snapshot, shown=len(jobs), text_filter=self.text_filter,
                          status_filter=self.status_filter, history=self.show_history, sort=self.sort,
                          follow_new=self.follow_new, library=self.library_name)
        empty = self._empty
        empty.display = not jobs and self.snapshot is not None and not self.snapshot.error
        if empty.display:
            empty.explain(library_empty=not self.snapshot.jobs, filtered=bool(self.snapshot.jobs))

    def table_shown_again(self) -> None:
        """A detail screen closed: draw what changed while it hid the table."""
        if getattr(self, "_stale", False):
            self.refresh_view()

    def _tick(self) -> None:
        if self._table.is_attached and not isinstance(self.screen, DetailScreen):
            self._table.refresh_ages(self.now())

    # -- keys ---------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if isinstance(self.screen, ModalScreen) and (action in JOB_ACTIONS or action in MAIN_ONLY):
            return False
        if action in MAIN_ONLY and isinstance(self.screen, DetailScreen):
            return False
        return True

    def get_system_commands(self, screen: Screen):
        """The command palette (ctrl+p): every key's action, by name."""
        yield from super().get_system_commands(screen)
        commands = [
            ("Pause job", "Pause the selected job (it checkpoints first)", self.action_pause),
            ("Resume job", "Resume the selected paused or interrupted job", self.action_resume),
            ("Cancel job", "Cancel the selected job (asks first)", self.action_cancel),
            ("Retry job", "Run the selected failed job again", self.action_retry),
            ("Raise priority", "Priority +1 for the selected job", lambda: self.action_priority(1)),
            ("Lower priority", "Priority -1 for the selected job", lambda: self.action_priority(-1)),
            ("Filter", "Search the whole library by text", self.action_filter),
            ("Go to job", "Go to a job by its id", self.action_goto),
            ("Cycle status filter", "Show one status at a time", self.action_cycle_status),
            ("Cycle sort", "Sort by activity, age, priority, status or type", self.action_cycle_sort),
            ("Toggle history", "Show or hide finished jobs", self.action_toggle_history),
            ("Follow new jobs", "Move the cursor to each new job", self.action_follow_new),
            ("Keys", "Every key of the dashboard", self.action_help),
        ]
        for title, help_, callback in commands:
            yield SystemCommand(title, help_, callback)

    def current_job(self) -> int | None:
        """The job the keys act on: the detail screen's, or the table's highlighted row."""
        if isinstance(self.screen, DetailScreen):
            return self.screen.job_id
        return self.table.selected_id

    def _act(self, verb: str, delta: int = 0) -> None:
        job_id = self.current_job()
        if job_id is None:
            self.notify("no job selected", severity="warning", timeout=2)
            return
        self.act_on(verb, job_id, delta)

    def action_pause(self) -> None:
        self._act("pause")

    def action_resume(self) -> None:
        self._act("resume")

    def action_retry(self) -> None:
        self._act("retry")

    def action_priority(self, delta: int) -> None:
        self._act("priority", delta)

    def action_cancel(self) -> None:
        job_id = self.current_job()
        if job_id is None:
            self.notify("no job selected", severity="warning", timeout=2)
            return
        view = self.table.view(job_id)
        if view is not None and not view.active:
            self.notify(f"Job {job_id} is {view.status}: nothing to cancel", title="Cancel", timeout=3)
            return
        what = f"job {job_id}" + (f" ({view.type}, {view.status})" if view else "")

        def answered(yes: bool | None) -> None:
            if yes:
                self.act_on("cancel", job_id)

        self.push_screen(ConfirmScreen(f"Cancel {what}?\n\nIt stops at its next check, cleans up, and stays"
                                       " in the history as cancelled.", yes="Cancel job", no="Keep it"), answered)

    def action_filter(self) -> None:
        self.query_one(FilterBar).open("filter", self.text_filter)

    def action_goto(self) -> None:
        self.query_one(FilterBar).open("goto", "")

    def action_cycle_status(self) -> None:
        """The next status that some job has (an empty one would show an empty table)."""
        counts = self.snapshot.counts if self.snapshot else {}
        i = STATUS_CYCLE.index(self.status_filter) if self.status_filter in STATUS_CYCLE else 0
        for step in range(1, len(STATUS_CYCLE) + 1):
            status = STATUS_CYCLE[(i + step) % len(STATUS_CYCLE)]
            if status is None or counts.get(status):
                break
        self.status_filter = status
        self._ask()

    def action_cycle_sort(self) -> None:
        self.sort = SORT_CYCLE[(SORT_CYCLE.index(self.sort) + 1) % len(SORT_CYCLE)]
        self._ask()

    def action_toggle_history(self) -> None:
        self.show_history = not self.show_history
        self._ask()

    def action_follow_new(self) -> None:
        self.follow_new = not self.follow_new
        if self.follow_new and self.table.row_count:
            newest = max(v.id for v in self.visible_jobs())
            self._table.select(newest)
        self.refresh_view()

    def action_fold(self) -> None:
        job_id = self.table.selected_id
        if job_id is None:
            return
        view = self.table.view(job_id)
        parent = job_id if job_id in self.folded or any(
            v.parent_id == job_id for v in self.visible_jobs()) else (view.parent_id if view else None)
        if parent is None:
            return
        self.folded.symmetric_difference_update({parent})
        self.refresh_view()
        self._table.select(parent)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(), lambda _: self._table.focus())

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self.query_one(FilterBar).mode == "filter":
            self.text_filter = event.value
            self._ask()

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        bar = self.query_one(FilterBar)
        bar.close()
        self.table.focus()
        if bar.mode == "goto" and event.value.strip():
            self.go_to(event.value)

    def go_to(self, text: str) -> None:
        """Select job ``text`` (a number, '#' allowed) in the table, or open it when the table does not show it."""

        try:
            job_id = int(text.strip().lstrip("#"))
        except ValueError:
            self.notify(f"Not a job id: {text.strip()!r}", title="Go to", severity="warning", timeout=3)
            return
        if self.table.view(job_id) is not None:
            self.table.select(job_id)
        elif self.store.job_status(job_id) is not None:
            self.push_screen(DetailScreen(job_id))
        else:
            self.notify(f"No job {job_id} in this library", title="Go to", severity="warning", timeout=3)

    def on_job_table_selected(self, event: JobTable.Selected) -> None:
        self.push_screen(DetailScreen(event.job_id))

    # -- actions (threads) ---------------------------------------------------
    @work(thread=True, group="actions")
    def act_on(self, verb: str, job_id: int, delta: int = 0) -> None:
        store = self.store
        try:
            with self._action_lock:
                message = ActionDone(job_id, verb, self._perform(verb, job_id, delta))
        except SdjobsError as exc:
            message = ActionDone(job_id, verb, str(exc), ok=False)
        except Exception as exc:  # noqa: BLE001 - the dashboard reports a failed action and stays up
            message = ActionDone(job_id, verb, f"{type(exc).__name__}: {exc}", ok=False)
        finally:
            store.close()  # this thread's connection
        self.post_message(message)

    def _perform(self, verb: str, job_id: int, delta: int) -> str:
        """The verb itself, as `sdjobs jobs VERB` does it (runs in an action worker)."""
        store = self.store
        if verb == "priority":
            priority = store.get(job_id).priority + delta
            store.set_priority(job_id, priority)
            return f"priority {priority}"
        result = getattr(control, verb)(store, job_id)
        if verb in ("resume", "retry") and not store.runners():
            result += " (no runner is alive: start one with `sdjobs runner`)"
        return result

    def on_action_done(self, message: ActionDone) -> None:
        self.notify(fmt.toast(message.verb, message.result), title=f"{message.verb.capitalize()} job {message.job_id}",
                    severity="information" if message.ok else "error", timeout=4)
