"""Messages that workers post to the app (workers never touch a widget)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from .model import DetailData, Snapshot


@dataclass
class JobsLoaded(Message):
    """A fresh snapshot of the job table; a newer one supersedes an unhandled older one."""

    snapshot: Snapshot

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JobsLoaded)


@dataclass
class DetailLoaded(Message):
    """One job in full, for the detail screen (events are incremental: never replaced)."""

    data: DetailData


@dataclass
class ActionDone(Message):
    """The outcome of pause/resume/cancel/retry/priority on a job, to tell the user."""

    job_id: int
    verb: str
    result: str
    ok: bool = True
