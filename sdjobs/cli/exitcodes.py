"""Fixed exit codes (documented in the man page)."""

from enum import IntEnum


class Exit(IntEnum):
    OK = 0            # the job completed; the command did what was asked
    FAILED = 1        # the job failed, completed with errors, or was cancelled
    BAD_INPUT = 2     # bad usage or input: nothing was enqueued or changed
    INTERRUPTED = 130  # Ctrl-C: the followed job was paused


def for_status(status: str) -> Exit:
    return Exit.OK if status == "completed" else Exit.FAILED
