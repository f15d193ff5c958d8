"""The Job base class: what a job author writes against.

A job type is a class with a ``name``, a ``version``, a ``description``, a
``Config`` dataclass and a ``run(ctx)`` method. Defining the class registers
it (see ``registry``); two classes with the same name fail at import.

    @dataclass
    class CountConfig:
        root: str

    class CountFiles(Job):
        name = "count"
        description = "Count the files under a directory"
        Config = CountConfig

        def run(self, ctx):
            state = ctx.load_state() or {"done": 0}
            ...
            ctx.checkpoint(state)
            return {"files": state["done"]}
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, ClassVar

from . import registry

if TYPE_CHECKING:
    from .context import JobContext


@dataclasses.dataclass
class NoConfig:
    """Configuration of a job that takes none."""


class Job:
    name: ClassVar[str]
    version: ClassVar[int] = 1
    resumable: ClassVar[bool] = True
    description: ClassVar[str] = ""
    Config: ClassVar[type] = NoConfig
    # Modules the job needs while it runs but the CLI should not import (Pillow, say): an idle
    # runner imports them ahead of time, so that the job processes it forks start with them.
    preload: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__:
            registry.register(cls)

    def __init__(self, config: Any) -> None:
        self.config = config

    # -- the author's part -------------------------------------------------
    @classmethod
    def prepare(cls, config: Any) -> Any:
        """At submission, resolve what depends on the submitting shell (relative
        paths, whether a destination exists) so that a resumed run sees the same."""
        return config

    @classmethod
    def validate(cls, config: Any) -> None:
        """Check the input before the job is enqueued; raise ``BadInput``."""

    def run(self, ctx: JobContext) -> Any:
        raise NotImplementedError

    def on_pause(self, ctx: JobContext) -> None:
        """Called after the job stopped for a pause (its last checkpoint is saved)."""

    def on_resume(self, ctx: JobContext) -> None:
        """Called before ``run`` when the job continues from a checkpoint."""

    def on_cancel(self, ctx: JobContext) -> None:
        """Clean up after a cancel: remove temporary files and the like."""

    def clean_temporaries(self, state: Any) -> None:
        """Remove what a run keeps only so that it can resume (temporary files), once the job
        will never resume: it failed, its library is gone, or its record is pruned. ``state``
        is its last checkpoint (None if it has none); called on an instance that may not have
        run in this process. Must be safe to call twice."""

    @classmethod
    def accepts_state(cls, state_version: int) -> bool:
        """Whether state written by ``state_version`` can be resumed by this version."""
        return state_version == cls.version

    @classmethod
    def summarize(cls, output: Any) -> str:
        """One line describing a finished job's output, for humans."""
        if isinstance(output, dict):
            return ", ".join(f"{k}={v}" for k, v in output.items() if not isinstance(v, (list, dict)))
        return "" if output is None else str(output)
