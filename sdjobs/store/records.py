"""Plain records handed out by the store: decoded, detached from the database."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from ..core import codec
from ..core.progress import Progress

JOB_COLUMNS = (
    "id", "type", "type_version", "status", "priority", "parent_id", "config", "state_version",
    "progress", "bytes_done", "items_done", "run_seconds", "warnings", "errors", "output", "error",
    "created_at", "started_at", "paused_at", "finished_at", "heartbeat_at", "updated_at", "runner_id",
    "pid", "attempts", "max_attempts", "control", "wait_children", "settings", "context",
)
_BLOBS = {"config", "progress", "output", "settings", "context"}


@dataclasses.dataclass
class JobRecord:
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
    depends_on: list[int] = dataclasses.field(default_factory=list)
    children: list[int] = dataclasses.field(default_factory=list)

    @classmethod
    def from_row(cls, row: tuple) -> "JobRecord":
        values = {}
        for name, value in zip(JOB_COLUMNS, row):
            if name in _BLOBS:
                value = codec.unpack(value)
            values[name] = value
        values["progress"] = Progress.from_dict(values["progress"])
        values["config"] = values["config"] or {}
        values["settings"] = values["settings"] or {}
        values["context"] = values["context"] or {}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["progress"] = self.progress.to_dict()
        return d


@dataclasses.dataclass
class Event:
    id: int
    job_id: int
    ts: float
    kind: str
    path: str | None
    message: str

    @classmethod
    def from_row(cls, row: tuple) -> "Event":
        id_, job_id, ts, kind, path, message = row
        return cls(id_, job_id, ts, kind, os.fsdecode(path) if path is not None else None, message)


@dataclasses.dataclass
class RunnerRecord:
    id: int
    pid: int
    pid_start: str | None
    host: str
    started_at: float
    heartbeat_at: float
    workers: int
    busy: int
    mode: str | None
    stopping: int
