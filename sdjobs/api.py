"""The public API for writing sdjobs job types: import from here, and only from here.

    from dataclasses import dataclass
    from sdjobs.api import Job, JobContext

    @dataclass
    class CountConfig:
        root: str

    @dataclass
    class CountState:        # what a resumed run continues from; new fields get defaults
        done: int = 0

    class Count(Job[CountConfig]):
        name = "count"
        description = "Count the files under a directory"

        def run(self, ctx: JobContext) -> dict[str, int]:
            state = ctx.load_state(CountState) or CountState()
            ...
            ctx.checkpoint(state)
            return {"files": state.done}

Everything else in ``sdjobs`` is the engine's and may change without notice.
``docs/writing-jobs.md`` is the guide.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from .core.context import JobContext
from .core.errors import (BadInput, CancelRequested, IncompatibleState, Interrupt, JobFailed, NotFound,
                          PauseRequested, SdjobsError, ShutdownRequested)
from .core.job import Job, NoConfig
from .core.library import LibraryInfo
from .core.progress import Progress

__all__ = [
    # the job and what it is given
    "Job", "JobContext", "LibraryInfo", "NoConfig", "Progress",
    # configuration and state
    "setting",
    # results
    "Row", "Severity",
    # errors a job raises (or lets through)
    "SdjobsError", "BadInput", "NotFound", "JobFailed", "IncompatibleState",
    "Interrupt", "PauseRequested", "CancelRequested", "ShutdownRequested",
]

Row = dict[str, Any]
"""A result row for ``ctx.emit``: JSON values by column. An int ``size`` is what
``sdjobs jobs output --min-size`` filters on, a ``severity`` what ``--severity`` does."""

Severity = Literal["info", "warning", "error", "critical"]
"""A row's ``severity``: rows of severity error or critical end the job completed-with-errors."""


def setting(default: Any = dataclasses.MISSING, *, help: str = "", default_factory: Any = dataclasses.MISSING) -> Any:
    """A field of a ``Config`` dataclass with a help text (shown by ``sdjobs types NAME``):
    ``pace: float = setting(0.0, help="seconds to rest after each file")``. Without a
    default the field is required."""
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})
