"""The Job base class: what a job author writes against (through ``sdjobs.api``).

A job type is a class with a ``name``, a ``version``, a ``description``, a
``Config`` dataclass and a ``run(ctx)`` method. Defining the class registers
it (see ``registry``); two classes with the same name fail at import.
``Job[ConfigT]`` types ``self.config``; its ``Config`` defaults to ``ConfigT``.
An example job is in ``sdjobs/api.py``'s docstring.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from . import registry
from .errors import JobTypeError

if TYPE_CHECKING:
    from .context import JobContext


@dataclasses.dataclass
class NoConfig:
    """Configuration of a job that takes none."""


ConfigT = TypeVar("ConfigT")


class Job(Generic[ConfigT]):
    """Subclass as ``Job[MyConfig]`` (``self.config`` is then a ``MyConfig``); a plain
    ``Job`` subclass that sets ``Config`` works too, with ``self.config`` untyped."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    resumable: ClassVar[bool] = True
    description: ClassVar[str] = ""
    # The dataclass of ``self.config``; for ``Job[MyConfig]`` it defaults to ``MyConfig``. (A
    # ClassVar cannot name the type variable: ``self.config`` is what carries the type.)
    Config: ClassVar[type[Any]] = NoConfig
    config: ConfigT
    # Modules the job needs while it runs but the CLI should not import (Pillow, say): an idle
    # runner imports them ahead of time, so that the job processes it forks start with them.
    preload: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _config_from_parameter(cls)
        if "name" in cls.__dict__:
            registry.register(cls)

    def __init__(self, config: ConfigT) -> None:
        self.config = config

    # -- the author's part -------------------------------------------------
    @classmethod
    def prepare(cls, config: ConfigT) -> ConfigT:
        """At submission, resolve what depends on the submitting shell (relative
        paths, whether a destination exists) so that a resumed run sees the same."""
        return config

    @classmethod
    def validate(cls, config: ConfigT) -> None:
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


def _config_from_parameter(cls: type[Job[Any]]) -> None:
    """``class J(Job[C])``: ``J.Config`` is ``C`` unless the class sets it; a ``Config`` that
    is not ``C`` (nor a subclass of it) fails at import, as a duplicate name does."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        if typing.get_origin(base) is not Job:
            continue
        [param] = typing.get_args(base)
        if not isinstance(param, type):
            return  # Job[T] with a type variable, or a string: a generic base of other jobs
        if "Config" not in cls.__dict__:
            cls.Config = param
        elif not (isinstance(cls.Config, type) and issubclass(cls.Config, param)):
            raise JobTypeError(f"{cls.__qualname__}: Config is {cls.Config.__qualname__}, "
                               f"but the class is Job[{param.__qualname__}]")
