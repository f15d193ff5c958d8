"""The one error vocabulary of sdjobs.

Every error a user can see is an ``SdjobsError`` whose message is one line.
The CLI maps the classes to exit codes; nothing here knows about the CLI.
"""

from __future__ import annotations


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, cut to about ``limit`` characters: a message
    must stay one readable line whatever the user passed (a 50 MB value, say)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value):,} characters" if isinstance(value, (str, bytes)) else f"{len(text):,} characters shown"
    return f"{text[:limit - 1]}… ({size})"


class SdjobsError(Exception):
    """Base class: a failure with a one-line, user-facing message."""


class BadInput(SdjobsError):
    """The user asked for something that cannot be done (exit code 2)."""


class NotFound(BadInput):
    """A job, location or path named by the user does not exist."""


class JobTypeError(SdjobsError):
    """A job type is unknown, or two job types claim the same name."""


class IncompatibleState(SdjobsError):
    """A checkpoint was written by a job version this code cannot resume."""


class JobFailed(SdjobsError):
    """Raised by a job to fail with a clear message (for example a full disk)."""


class Interrupt(BaseException):
    """Raised by ``ctx.check_interrupt()``.

    A BaseException so that a job's ``except Exception`` does not swallow it.
    """

    reason = "interrupt"


class PauseRequested(Interrupt):
    reason = "pause"


class CancelRequested(Interrupt):
    reason = "cancel"


class ShutdownRequested(Interrupt):
    """The runner is stopping: checkpoint and leave the job resumable."""

    reason = "shutdown"


class WaitForChildren(Interrupt):
    """The job waits for its children without holding a worker."""

    reason = "wait"


class LeaseLost(BaseException):
    """The job's claim was taken over (its runner was declared dead and another runner claimed
    it): this process must stop at once and write nothing more. A BaseException, like
    ``Interrupt``, so that a job's ``except Exception`` does not swallow it."""


class WorkerLost(BaseException):
    """A process working for the job (a fan-out worker, the indexer's writer) died, as when the
    OOM killer takes it: the job process ends as if it had crashed itself, so that the runner
    counts a crash and the job resumes from its last checkpoint."""


INTERRUPTS: dict[str, type[Interrupt]] = {
    cls.reason: cls for cls in (PauseRequested, CancelRequested, ShutdownRequested)
}
