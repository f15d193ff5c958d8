"""``sdjobs jobs follow ID``: the foreground command's live display, re-attached to any job.

Like ``pueue follow`` or ``journalctl -f``: it shows the job's progress (or what it waits
for) until it finishes or pauses, then its outcome, and exits with the job's exit code.
Ctrl-C detaches: the job keeps running (the foreground command's Ctrl-C pauses it instead).
``jobs resume --follow`` resumes a job and follows it the same way.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..core.status import FINISHED
from . import output, state


def register(jobs: typer.Typer) -> None:
    jobs.command("follow")(follow)


def follow(job_id: Annotated[int, typer.Argument(help="Job id.")],
           as_json: Annotated[bool, typer.Option("--json", help="Print the final job record as JSON on stdout.")]
           = False) -> None:
    """Watch a job live until it finishes, then print its outcome; Ctrl-C detaches (it keeps running).

    Exits with the job's exit code: 0 completed, 1 failed, completed with errors or cancelled,
    130 paused or detached.

    Example: sdjobs copy ~/photos /mnt/backup --detach; sdjobs jobs follow 12
    """
    follow_job(job_id, as_json=as_json)


def follow_job(job_id: int, *, as_json: bool = False) -> None:
    from . import follow as following

    store = state.store()
    store.recover_orphans()  # a job whose runner died is interrupted, not running
    rec = store.get(job_id)
    if rec.status not in FINISHED:
        if rec.status == "paused" or (rec.status == "interrupted" and not store.runners()):
            output.err(f"job {job_id} is {rec.status}; resume it with: sdjobs jobs resume {job_id} --follow",
                       style="yellow")
            raise typer.Exit(int(following.exit_code(rec)) if rec.status == "paused" else 1)
        rec = following.follow(store, job_id, detach=True)
    following.report(store, rec, as_json=as_json)
    raise typer.Exit(int(following.exit_code(rec)))
