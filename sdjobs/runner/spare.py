"""A spare job process: forked by an idle runner before there is a job, with its fan-out's
workers forked too, so that the next job claimed starts in it at once.

Forking the job process and then its workers was the longest part of a job's start on a
2-core VM where a page fault costs about 4.6 us: in a traced ``dupes`` run of ``mixed``
(bench/dupes_data.py), 3.5 ms for the runner's fork, 1.4 ms until the job process ran,
and 4.8 ms for the pool's two forks, each paying for the pages its process wrote next.
A spare does all of that while the runner waits for work.

The spare is what ``host.process_main`` would be, stopped before its job: it dies with its
runner (its workers with it), holds none of the runner's locks, and opens no library until
it is given a job. It is handed one over its pipe as (job id, claim, runner id: a runner
that left and came back registered anew), the same pipe its job then uses for the
fan-out's tokens; ``None``, or the pipe closed, ends it. A spare that
died meanwhile is never handed a job: the runner forks one as before.
"""

from __future__ import annotations

import os
from typing import Any

from . import host
from .fanout import FanOut, GateClient


class Spare:
    """The runner's handle on its spare: the process and the runner's end of its pipe."""

    def __init__(self, mp: Any, db_path: str, workers: int) -> None:
        self.conn, child_end = mp.Pipe()
        self.process = mp.Process(target=main, name="sdjobs-job-spare",
                                  args=(db_path, os.getpid(), child_end, workers))
        self.process.start()
        child_end.close()

    def hand(self, job_id: int, claim: int, runner_id: int) -> bool:
        """Give the spare its job; False (and the spare is gone) if it cannot take it."""
        if self.process.is_alive():
            try:
                self.conn.send((job_id, claim, runner_id))
                return True
            except OSError:
                pass
        self.discard()
        return False

    def alive(self) -> bool:
        """Still there (a spare that died is reaped here)."""
        return self.process.is_alive()

    def discard(self) -> None:
        """End the spare (it has no job: nothing of it is kept)."""
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.conn.close()
        self.process.join(2.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def main(db_path: str, runner_pid: int, conn, workers: int) -> None:
    """The spare process: ready, waiting for its job, then running it as any job process."""
    host.become_job_process(runner_pid)
    fanout = FanOut(workers, GateClient(conn))
    fanout.fork_workers()
    try:
        given = conn.recv()
    except (EOFError, OSError):
        given = None
    if given is None:
        fanout.close()
        return
    job_id, claim, runner_id = given
    host.run_claimed(db_path, job_id, claim, runner_id, runner_pid, fanout)
