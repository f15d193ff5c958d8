"""JobContext: everything a running job can ask of the engine.

The context is storage-agnostic: it talks to a ``Backend`` (implemented by the
runner over the store), buffers and throttles what it writes, and derives rate
and ETA. Jobs call it as often as they like; writes happen a few times a
second at most.

Its public members are the job author's API (``sdjobs.api``); what only the
engine calls (ending a run, restoring counts, flushing) is private, reached by
the runner through the functions at the end of this module.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

from . import codec
from .errors import INTERRUPTS, LeaseLost, WaitForChildren
from . import trail
from .progress import Progress, RateEstimator, derive, phase_end_event, phase_start_event
from .result_rows import ResultRows, unwrap

if TYPE_CHECKING:
    from .library import LibraryInfo

MAX_STORED_ISSUES = 10_000  # warnings + errors kept per job; the rest are only counted
_QUICK = {"busy_timeout": 0.05}  # a trailing write gives way at once (a job's transaction, the index writer)
S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")
# An event as written: (time, kind, path, message), with its fields (a dict) for some kinds.
Event = tuple[Any, ...]


class Backend(Protocol):
    """What the engine must provide to a running job (see runner.backend)."""

    def write(self, progress: dict[str, Any] | None, metrics: dict[str, int], events: list[Event],
              checkpoint: tuple[bytes | None, int | None] | None, busy_timeout: float | None = None) -> None: ...
    def read_checkpoint(self) -> tuple[bytes | None, int | None]: ...
    def read_control(self) -> str | None: ...
    def settings(self) -> dict[str, Any]: ...
    def spawn_child(self, job_type: str, config: Any, priority: int | None) -> int: ...
    def children(self) -> list[tuple[int, str]]: ...
    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int) -> Iterator[R]: ...
    def library(self) -> LibraryInfo: ...


class JobContext:
    """What a running job can ask of the engine: progress, diagnostics, result rows,
    checkpoints, control, settings, its library, children and fan-out. ``job_id`` is
    the job's id (to name files it writes, say)."""

    _progress_interval = 0.25
    _checkpoint_interval = 2.0
    _control_interval = 0.2

    def __init__(self, job_id: int, version: int, backend: Backend) -> None:
        self.job_id = job_id
        self._version = version
        self._backend = backend
        self._progress = Progress()
        self._estimator = RateEstimator()
        self._metrics = {"bytes": 0, "items": 0, "warnings": 0, "errors": 0}
        self._events: list[Event] = []
        self._pending_state: bytes | None = None
        self._last_write = 0.0
        self._last_checkpoint = time.monotonic()
        self._last_control = 0.0
        self._dirty = False
        self._results = ResultRows(job_id, backend, self._metrics)
        self._phase_began: float | None = None  # monotonic start of the current phase (its events)
        self._resumed = False  # this run continues an earlier one (see restore_metrics)
        self._rebase = False  # a resumed phase's first amount is where it resumed, not this run's work
        self._lock = threading.Lock()  # the buffers, between the job's thread and the trailer
        self._write_lock = threading.Lock()  # one write at a time, in order (see core/trail.py)
        self._trailer: trail.Trailer | None = None
        self._trailing = False  # a trailing write is due
        trail.watch(self)
        self._waited_for: list[tuple[int, str]] = []  # the children, once wait_for_children returned them

    # -- progress -------------------------------------------------------------
    if TYPE_CHECKING:  # what a job may pass; a key it leaves out keeps its value (None clears one)
        def progress(self, *, phase: str | None = ..., message: str | None = ..., path: str | None = ...,
                     done: int | None = ..., total: int | None = ..., unit: str = ...,
                     bytes_done: int | None = ..., bytes_total: int | None = ..., percent: float | None = ...,
                     fields: dict[str, Any] = ...) -> None:
            """Update progress: phase, message, path, done, total, unit, bytes_done,
            bytes_total, percent, or job-specific ``fields={...}``. Keys not given keep
            their value. Written at most a few times a second."""
    else:
        def progress(self, **fields):
            """Update progress: phase, message, path, done, total, unit, bytes_done,
            bytes_total, percent, or job-specific ``fields={...}``. Keys not given keep
            their value. Written at most a few times a second."""
            self._report(fields)

    def _report(self, fields: dict[str, Any]) -> None:
        p = self._progress
        for key in fields:
            if not hasattr(p, key) or key in ("rate", "eta", "updated_at", "rate_unit"):
                raise TypeError(f"unknown progress field {key!r}")
        new_phase = "phase" in fields and fields["phase"] != p.phase
        with self._lock:
            if self._rebase and not new_phase and any(fields.get(k) for k in ("done", "bytes_done", "percent")):
                self._rebase = False  # rate and ETA count from here: this run's work only
                self._estimator.reset()
            if new_phase:
                self._phase_ends("next")
            for key, value in fields.items():
                setattr(p, key, value)
            if new_phase:
                self._fresh_rate()
                self._phase_starts()
            self._dirty = True
        self._maybe_write(force=new_phase)

    def phase(self, name: str, *, message: str | None = None, total: int | None = None,
              unit: str = "items", bytes_total: int | None = None) -> None:
        """Start a phase: counters restart from zero and the rate window resets. The job's
        log gets the previous phase's ``phase-end`` and this one's ``phase-start``."""
        with self._lock:
            self._phase_ends("next")
            self._progress = Progress(phase=name, message=message, total=total, unit=unit,
                                      done=0 if total is not None else None,
                                      bytes_total=bytes_total, bytes_done=0 if bytes_total else None,
                                      fields=self._progress.fields)
            self._fresh_rate()
            self._phase_starts()
            self._dirty = True
        self._maybe_write(force=True)

    def _fresh_rate(self) -> None:
        """A phase's rate window: from zero at its start, or in a resumed run, from its first
        amount (what earlier runs did, reported at once, is not this run's speed)."""
        self._estimator.reset(start=None if self._resumed else time.monotonic())
        self._rebase = self._resumed

    def _phase_starts(self) -> None:
        if self._progress.phase is not None:
            text, fields = phase_start_event(self._progress)
            self._events.append((time.time(), "phase-start", None, text, fields))
            self._phase_began = time.monotonic()

    def _phase_ends(self, outcome: str) -> None:
        if self._progress.phase is not None and self._phase_began is not None:
            text, fields = phase_end_event(self._progress, time.monotonic() - self._phase_began, outcome)
            self._events.append((time.time(), "phase-end", None, text, fields))
        self._phase_began = None

    def _end(self, status: str) -> None:
        """The run ends (set by the engine): a finished job's phase ends with it, then what
        is buffered is written. A paused or interrupted phase goes on in the next run."""
        if status in ("completed", "completed-with-errors", "failed", "cancelled"):
            with self._lock:
                self._phase_ends(status)
        self._flush()

    def count(self, done: int, total: int | None = None, unit: str | None = None) -> None:
        """``progress(done=, total=, unit=)``; a total or unit not given keeps its value."""
        self._report({"done": done, **({"total": total} if total is not None else {}),
                      **({"unit": unit} if unit else {})})

    def percent(self, value: float, message: str | None = None) -> None:
        self._report({"percent": value, **({"message": message} if message else {})})

    def bytes(self, done: int, total: int | None = None) -> None:
        self._report({"bytes_done": done, **({"bytes_total": total} if total is not None else {})})

    def indeterminate(self, message: str) -> None:
        """Progress that cannot be counted: a message, no amounts."""
        self._report({"message": message, "done": None, "total": None, "percent": None})

    @property
    def current(self) -> Progress:
        return self._progress

    # -- metrics and diagnostics -------------------------------------------
    def add_bytes(self, n: int) -> None:
        self._metrics["bytes"] += n

    def add_items(self, n: int = 1) -> None:
        self._metrics["items"] += n

    def log(self, message: str) -> None:
        with self._lock:
            self._events.append((time.time(), "log", None, message))
        self._maybe_write()

    if TYPE_CHECKING:
        def warn(self, message: str, *, path: str | None = None) -> None:
            """A warning, with the path it concerns; counted, the job goes on."""

        def error(self, problem: BaseException | str, *, path: str | None = None) -> None:
            """A non-critical error (an exception or a message) with the path it concerns:
            recorded and counted, the job goes on (it ends completed-with-errors)."""
    else:
        def warn(self, message, *legacy, path=None):
            """A warning, with the path it concerns; counted, the job goes on."""
            if legacy:  # warn(message, path): the order is right, the path goes by name now
                _deprecated("ctx.warn(message, path) is deprecated: pass path=... by name")
                (path,) = legacy
            self._warn(message, path)

        def error(self, problem, *legacy, path=None):
            """A non-critical error (an exception or a message) with the path it concerns:
            recorded and counted, the job goes on (it ends completed-with-errors)."""
            if legacy:  # the old order: error(path, exc)
                _deprecated("ctx.error(path, exc) is deprecated: call ctx.error(exc, path=path)")
                (path, problem) = (problem, *legacy)
            self._error(problem, path)

    def _warn(self, message: str, path: str | None) -> None:
        with self._lock:
            self._metrics["warnings"] += 1
            if self._metrics["warnings"] + self._metrics["errors"] <= MAX_STORED_ISSUES:
                self._events.append((time.time(), "warning", path, message))
        self._maybe_write()

    def _error(self, exc: BaseException | str, path: str | None) -> None:
        with self._lock:
            self._metrics["errors"] += 1
            if self._metrics["warnings"] + self._metrics["errors"] <= MAX_STORED_ISSUES:
                self._events.append((time.time(), "error", path, describe_error(exc)))
        self._maybe_write()

    def _restore_metrics(self, metrics: dict[str, int]) -> None:
        """Continue counting from a resumed run's totals (set by the engine)."""
        for key in self._metrics:
            self._metrics[key] = int(metrics.get(key) or 0)
        self._resumed = True

    @property
    def warnings(self) -> int:
        """Warnings so far (of earlier runs too)."""
        return self._metrics["warnings"]

    @property
    def errors(self) -> int:
        """Errors so far (of earlier runs too), result rows of severity error included."""
        return self._metrics["errors"]

    # -- result rows ----------------------------------------------------------
    def emit(self, row: dict[str, Any], *, name: str | None = None) -> None:
        """Add a row (a dict of JSON values) to the job's result, which ``sdjobs jobs
        output`` prints (a table whose columns are the rows' keys, ``--json``,
        ``--jsonl``). An int ``size`` is what ``--min-size`` filters on, a ``severity``
        what ``--severity`` does; rows of severity error or critical end the job
        completed-with-errors. ``name``: what the rows are called in the JSON document
        ("rows"). Rows emitted after the checkpoint a run resumes from are dropped
        when it resumes: the resumed run emits them again."""
        self._results.add_dict(row, name)

    def emit_json(self, text: str, size: int | None = None, severity: str | None = None) -> None:
        """``emit`` for a row already rendered as compact ASCII JSON; its keys are
        declared with ``result_columns``."""
        self._results.add(text, size, severity)

    def emit_json_rows(self, rows: Iterable[tuple[str, int | None, str | None]]) -> None:
        """``emit_json`` for many rows: (text, size, severity) each."""
        self._results.extend(rows)

    def result_columns(self, *keys: str, name: str | None = None) -> None:
        """Declare the rows' keys (and what they are called): a result without rows is
        then stored as empty rather than missing."""
        self._results.declare(keys, name)

    # -- control, state ----------------------------------------------------
    def check_interrupt(self) -> None:
        """Raise PauseRequested / CancelRequested / ShutdownRequested when asked."""
        now = time.monotonic()
        if now - self._last_control < self._control_interval:
            return
        self._last_control = now
        request = self._backend.read_control()
        if request in INTERRUPTS:
            raise INTERRUPTS[request]()

    def checkpoint(self, state: Any, force: bool = False) -> None:
        """Record resumable state: a dataclass (see ``load_state``) or plain data (dicts,
        lists, strings, numbers). Persisted every few seconds, at once with ``force``,
        and on every stop; the call is cheap."""
        self._pending_state = codec.pack(self._results.wrap(state))
        if force or time.monotonic() - self._last_checkpoint >= self._checkpoint_interval:
            self._maybe_write(force=True)

    @overload
    def load_state(self) -> Any: ...
    @overload
    def load_state(self, cls: type[S]) -> S | None: ...

    def load_state(self, cls: type[Any] | None = None) -> Any:
        """The state of the last checkpoint, or None on a fresh start. With ``cls`` (a
        dataclass), an instance of it: fields the checkpoint lacks (it was written by an
        older version of the job, or as a dict) take their defaults and keys ``cls`` no
        longer has are ignored, so give every field added later a default."""
        data, _version = self._backend.read_checkpoint()
        self._results.start(data, loaded=True)
        state = unwrap(codec.unpack(data))[1]
        if cls is None or state is None:
            return state
        return codec.to_state(cls, state)

    def settings(self) -> dict[str, Any]:
        """Settings that may change while the job runs (max_workers, bwlimit)."""
        return self._backend.settings()

    @property
    def library(self) -> LibraryInfo:
        """The library the job runs in: its id, path, data directory and data plane."""
        return self._backend.library()

    # -- children and fan-out ---------------------------------------------
    def spawn_child(self, job_type: str, config: Any, priority: int | None = None) -> int:
        """Submit a child job (its config a dataclass or a dict); returns its id. The parent
        usually checkpoints that it did, then ``wait_for_children``."""
        self._flush()
        return self._backend.spawn_child(job_type, config, priority)

    def children(self) -> list[tuple[int, str]]:
        """The children's (id, status)."""
        return self._backend.children()

    def wait_for_children(self) -> list[tuple[int, str]]:
        """Return the children's (id, status) once all have finished; until then
        the job is suspended without holding a worker and ``run`` starts again
        from its last checkpoint when they are done."""
        from .status import FINISHED

        self._last_control = 0.0
        self.check_interrupt()  # a cancel of the parent also ends its children: do not mistake that for done
        kids = self._backend.children()
        if all(status in FINISHED for _, status in kids):
            self._waited_for = kids  # the engine holds the children's outcome against the parent
            return kids
        self._flush()
        raise WaitForChildren()

    def map(self, fn: Callable[[T], R], items: Iterable[T], chunksize: int = 64) -> Iterator[R]:
        """Run ``fn(item)`` over the runner's worker processes; yields results in the items' order.

        ``fn`` must be a module-level function (it is pickled)."""
        return self._backend.map(fn, items, chunksize)

    # -- writing -------------------------------------------------------------
    def _maybe_write(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_write >= self._progress_interval:
            self._flush(now)
        elif not self._trailing:  # too soon: written by the trailer unless a write comes first
            self._trailing = True
            if self._trailer is None:
                self._trailer = trail.Trailer(self)
                self._trailer.start()
            self._trailer.at(self._last_write + self._progress_interval)

    def _take(self, now: float) -> tuple[dict[str, Any] | None, dict[str, int], list[Event]]:
        """What is buffered (under ``_lock``): progress if it changed, metrics, events."""
        progress = None
        if self._dirty:
            derive(self._progress, self._estimator, now)
            self._progress.updated_at = time.time()
            progress = self._progress.to_dict()
            self._dirty = False
        events, self._events = self._events, []
        self._trailing = False
        return progress, dict(self._metrics), events

    def _flush(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._write_lock:
            self._results.write()  # result rows: before the checkpoint that counts them
            with self._lock:
                progress, metrics, events = self._take(now)
                checkpoint = None
                if self._pending_state is not None:
                    checkpoint = (self._pending_state, self._version)
                    self._pending_state = None
                    self._last_checkpoint = now
            if self._trailer is not None:
                self._trailer.cancel()
            self._backend.write(progress, metrics, events, checkpoint)
            self._last_write = now

    def _trailing_write(self) -> None:
        """The trailer's write (its own thread): progress, metrics and events, never the
        checkpoint (that keeps the job's own timing). Skipped while the job's thread writes."""
        if not self._write_lock.acquire(blocking=False):
            return  # the job's own write takes everything
        try:
            now = time.monotonic()
            with self._lock:
                if not (self._dirty or self._events):
                    self._trailing = False
                    return
                progress, metrics, events = self._take(now)
            try:
                self._backend.write(progress, metrics, events, None, **_QUICK)
                self._last_write = now
            except BaseException as exc:  # noqa: BLE001 - busy, or the job is no longer ours (its thread will see)
                with self._lock:
                    self._events[:0] = events
                    self._dirty = self._dirty or progress is not None
                    if not isinstance(exc, LeaseLost) and not self._trailing and self._trailer is not None:
                        self._trailing = True  # busy: try again a moment later
                        self._trailer.at(now + self._progress_interval)
        finally:
            self._write_lock.release()


# -- the engine's side: what the runner does with a job's context ---------------------
def end_run(ctx: JobContext, status: str) -> None:
    """The run ends with ``status``: a finished job's phase ends, then what is buffered is written."""
    ctx._end(status)


def flush(ctx: JobContext) -> None:
    """Write what the context buffers (progress, metrics, events, rows, checkpoint) now."""
    ctx._flush()


def restore_metrics(ctx: JobContext, metrics: dict[str, int]) -> None:
    """Continue counting from a resumed run's totals."""
    ctx._restore_metrics(metrics)


def waited_for(ctx: JobContext) -> list[tuple[int, str]]:
    """The children (id, status) whose end ``wait_for_children`` saw, [] if it did not."""
    return ctx._waited_for


def _deprecated(message: str) -> None:
    warnings.warn(message, DeprecationWarning, stacklevel=3)


def describe_error(exc: BaseException | str) -> str:
    if isinstance(exc, str):
        return exc
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc) or type(exc).__name__
    if not isinstance(exc, (OSError, ValueError)):
        text = f"{type(exc).__name__}: {text}"
    return text


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
