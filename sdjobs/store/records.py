"""Plain records handed out by the store: decoded, detached from the database."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from ..core import codec
from ..core.plain import Plain
from ..core.progress import Progress

JOB_COLUMNS = (
    "id", "type", "type_version", "status", "priority", "parent_id", "config", "state_version",
    "progress", "bytes_done", "items_done", "run_seconds", "warnings", "errors", "output", "error",
    "created_at", "started_at", "paused_at", "finished_at", "heartbeat_at", "updated_at", "runner_id",
    "pid", "attempts", "max_attempts", "control", "wait_children", "settings", "context", "claim", "retries",
    "action", "host",
)
_BLOBS = {"config", "progress", "output", "settings", "context"}


class JobRecord(Plain):
    """A job: its columns (JOB_COLUMNS), its blobs decoded, and the ids of the jobs it waits
    for and of its children (filled in by ``Store.get``). A plain class (core/plain.py)."""

    __slots__ = (*JOB_COLUMNS, "depends_on", "children")
    id: int
    type: str
    type_version: int
    status: str
    priority: int
    parent_id: int | None
    config: dict
    state_version: int | None
    progress: Progress
    bytes_done: int
    items_done: int
    run_seconds: float
    warnings: int
    errors: int
    output: Any
    error: str | None
    created_at: float
    started_at: float | None
    paused_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    updated_at: float | None
    runner_id: int | None
    pid: int | None
    attempts: int
    max_attempts: int
    control: str | None
    wait_children: int
    settings: dict
    context: dict
    claim: int  # changes at every claim: the running job's writes are conditioned on it
    retries: int  # times `jobs retry` queued it again
    action: str | None  # the command word that started it, or its root (core/action.py)
    host: str  # whose runner takes it: a host id (or a name not seen yet), or any (store/hosts.py)
    depends_on: list[int]
    children: list[int]

    def __init__(self, columns: dict[str, Any]) -> None:
        for name in JOB_COLUMNS:
            setattr(self, name, columns[name])
        self.depends_on = []
        self.children = []

    @classmethod
    def from_row(cls, row: tuple) -> JobRecord:
        values = {}
        for name, value in zip(JOB_COLUMNS, row, strict=True):
            if name in _BLOBS:
                value = codec.unpack(value)
            values[name] = value
        values["progress"] = Progress.from_dict(values["progress"])
        values["config"] = values["config"] or {}
        values["settings"] = values["settings"] or {}
        values["context"] = values["context"] or {}
        return cls(values)

    @property
    def attempt(self) -> int:
        """The number of the current (or last) attempt: 1, and one more after each crash."""
        return min(self.attempts + 1, max(self.max_attempts, 1))

    def to_dict(self) -> dict[str, Any]:
        d = self.as_dict()
        d["progress"] = self.progress.to_dict()
        d["attempt"] = self.attempt
        return d


class Event(Plain):
    __slots__ = ("id", "job_id", "ts", "kind", "path", "message", "retries", "fields")

    def __init__(self, id: int, job_id: int, ts: float, kind: str, path: str | None, message: str,
                 retries: int = 0, fields: dict | None = None) -> None:
        self.id = id
        self.job_id = job_id
        self.ts = ts
        self.kind = kind
        self.path = path
        self.message = message
        self.retries = retries  # the job's retries when it was recorded: which run it belongs to
        self.fields: dict = {} if fields is None else fields  # a lifecycle event's facts (store/events.py)

    @classmethod
    def from_row(cls, row: tuple) -> Event:
        id_, job_id, ts, kind, path, message, retries = row
        return cls(id_, job_id, ts, kind, os.fsdecode(path) if path is not None else None, message, retries)


class JobHead(NamedTuple):
    """A job's columns that need no decoding: what is shown of a record whose blobs are unreadable."""
    id: int
    type: str
    status: str
    priority: int
    parent_id: int | None
    created_at: float
    control: str | None


class RunnerRecord(Plain):
    __slots__ = ("id", "pid", "pid_start", "host", "started_at", "heartbeat_at", "workers", "busy", "mode",
                 "stopping")

    def __init__(self, id: int, pid: int, pid_start: str | None, host: str, started_at: float,
                 heartbeat_at: float, workers: int, busy: int, mode: str | None, stopping: int) -> None:
        self.id = id
        self.pid = pid
        self.pid_start = pid_start
        self.host = host
        self.started_at = started_at
        self.heartbeat_at = heartbeat_at
        self.workers = workers
        self.busy = busy
        self.mode = mode
        self.stopping = stopping
