"""One line on stderr per job a foreground runner starts, ends or leaves interrupted.

    job 12 started: copy /home/ana/Photos → /mnt/backup
    job 12 completed in 1:02: 21,408 files, 48.2 GB
    job 13 failed after 0:40: disk full: /mnt/usb has 0 B free
    job 14 interrupted (resumes on the next start)

A service manager keeps the lines in its journal (which adds the time); on a terminal each
line starts with the time. Nothing in a line comes from a file name unescaped.
"""

from __future__ import annotations

import os
import select
import sys
import time

from ..core import registry
from ..core.display import safe
from ..core.status import FINISHED
from ..runner.supervisor import Running, Supervisor
from . import output


def say(text: str) -> None:
    """Write a line unless stderr cannot take it now: a pipe nobody reads must never stall the runner
    (a line is under PIPE_BUF, so a writable pipe takes it whole without blocking)."""
    try:
        fd = sys.stderr.fileno()
        stamp = time.strftime("%H:%M:%S ") if os.isatty(fd) else ""
        line = (stamp + safe(text))[:2000] + "\n"
        if select.select([], [fd], [], 0)[1]:
            os.write(fd, line.encode("utf-8", "replace"))
    except (OSError, ValueError):  # a closed terminal must not stop the runner
        pass


def what(rec) -> str:
    from ..tui.model import targets
    from ..tui.format import what_text

    sources, dest = targets(rec.config)
    text = what_text(sources, dest, 120)
    return f"{rec.type} {text}".strip() if text else rec.type


def ended(rec) -> str:
    took = output.human_duration(rec.run_seconds or 0)
    if rec.status == "failed":
        return f"job {rec.id} failed after {took}: {str(rec.error or 'no reason recorded').splitlines()[0]}"
    if rec.status in FINISHED:
        line = f"job {rec.id} {rec.status} in {took}"
        cls = registry.find(rec.type)
        try:
            summary = cls.summarize(rec.output) if cls and rec.output is not None else ""
        except Exception:  # noqa: BLE001 - a plugin's summary must not break the runner's log
            summary = ""
        if summary:
            line += f": {summary}"
        if rec.warnings or rec.errors:
            line += f" ({rec.warnings} warnings, {rec.errors} errors)"
        return line
    if rec.status == "paused":
        return f"job {rec.id} paused (sdjobs jobs resume {rec.id})"
    if rec.status in ("queued", "interrupted"):
        return f"job {rec.id} interrupted: {str(rec.error or 'it stopped before it finished').splitlines()[0]}" \
               " (it runs again)"
    return f"job {rec.id} {rec.status}"


class LoggingSupervisor(Supervisor):
    """The foreground runner, saying what it does."""

    def _started(self) -> None:  # not before: a library refused is one line, the error's
        self._said_start = True
        say(f"sdjobs runner: {self.workers} worker(s) on {self.library.db_path}")

    def run(self) -> int:
        try:
            return super().run()
        finally:
            if getattr(self, "_said_start", False):
                say("sdjobs runner: stopped")

    def _warm_up(self) -> None:
        super()._warm_up()
        # ``what``'s imports (rich's text among them), here while idle: left to the first job's
        # start, they took this process 14 ms of CPU beside that job (PYTHONPROFILEIMPORTTIME,
        # 2026-12-07), on a 2-core machine where the job's workers want both cores
        from ..tui import format, model  # noqa: F401

    def _start(self, rec) -> None:
        super()._start(rec)
        try:
            say(f"job {rec.id} started: {what(rec)}")
        except Exception:  # noqa: BLE001 - the log line must not take the runner down
            say(f"job {rec.id} started")

    def _reap(self, job: Running, killed: bool = False) -> None:
        super()._reap(job, killed)
        try:
            rec = self.store.get(job.job_id)
        except Exception:  # noqa: BLE001 - the log line must not take the runner down
            say(f"job {job.job_id} ended")
            return
        if rec.status != "running":  # still running: the shutdown marks it interrupted and says so
            say(ended(rec))

    def _shutdown(self) -> None:
        left = list(self.running)
        super()._shutdown()
        for job_id in left:
            try:
                rec = self.store.get(job_id)
            except Exception:  # noqa: BLE001 - the log line must not take the runner down
                continue
            if rec.status == "interrupted":
                say(f"job {job_id} interrupted by the runner's stop (resumes on the next start)")
