"""Job types used by the engine tests (loaded through SDJOBS_PLUGINS=testjobs)."""

from __future__ import annotations

import dataclasses
import os
import time

from sdjobs.core.errors import JobFailed
from sdjobs.core.job import Job


@dataclasses.dataclass
class StepsConfig:
    steps: int = 20
    delay: float = 0.05
    fail_at: int = -1
    warn_every: int = 0
    marker: str = ""  # a file each step appends its number to (to see steps run twice)
    die_at: int = -1  # SIGKILL its own process at this step (a crash the job cannot catch)
    hold_at: int = -1  # at this step, wait until the file ``gate`` exists (a test looks at it meanwhile)
    gate: str = ""


class Steps(Job):
    """Counts steps with a checkpoint after each; resumes at the next step."""

    name = "test-steps"
    description = "Test job: count steps slowly"
    Config = StepsConfig

    def run(self, ctx):
        c = self.config
        state = ctx.load_state() or {"step": 0}
        ctx.phase("counting", total=c.steps, unit="steps")
        for step in range(state["step"], c.steps):
            ctx.check_interrupt()
            if step == c.die_at:
                os.kill(os.getpid(), 9)
            if step == c.fail_at:
                raise JobFailed(f"failed at step {step} as asked")
            while step == c.hold_at and not os.path.exists(c.gate):
                ctx.check_interrupt()
                time.sleep(0.02)
            time.sleep(c.delay)
            if c.marker:
                with open(c.marker, "a") as f:
                    f.write(f"{step}\n")
            if c.warn_every and step % c.warn_every == 0:
                ctx.error(f"/fake/{step}", "planted error")
            state["step"] = step + 1
            ctx.checkpoint(state, force=True)
            ctx.progress(done=step + 1, path=f"step-{step}")
        return {"steps": c.steps, "pid": os.getpid()}

    def on_cancel(self, ctx):
        if self.config.marker:
            with open(self.config.marker, "a") as f:
                f.write("cancelled\n")


def square(x) -> tuple[int, int]:
    if isinstance(x, tuple):
        x, delay = x
        time.sleep(delay)
    return x * x, os.getpid()


@dataclasses.dataclass
class FanConfig:
    n: int = 1000
    delay: float = 0.0  # seconds per item
    chunk: int = 50


class Fan(Job):
    name = "test-fan"
    description = "Test job: square numbers over the worker pool"
    Config = FanConfig

    def run(self, ctx):
        total, pids = 0, set()
        c = self.config
        items = ((i, c.delay) for i in range(c.n)) if c.delay else range(c.n)
        for value, pid in ctx.map(square, items, chunksize=c.chunk):
            ctx.check_interrupt()
            total += value
            pids.add(pid)
        return {"sum": total, "workers": len(pids)}


class Preloaded(Job):
    """Says whether the module it preloads was already imported when it started."""

    name = "test-preload"
    description = "Test job: see the runner's preload"
    preload = ("preloadme",)

    def run(self, ctx):
        import sys

        return {"preloaded": "preloadme" in sys.modules, "pid": os.getpid()}


@dataclasses.dataclass
class HostStepsConfig:
    steps: int = 10
    delay: float = 0.05
    marker: str = ""  # each step appends "HOST PID STEP"; a run that finds another run of it adds "OVERLAP"
    gate: str = ""  # a file to wait for before the first step (to hold the job while others are claimed)


class HostSteps(Job):
    """Counts steps as test-steps does, saying which host ($SDJOBS_HOST) and process ran each.

    For as long as it runs it holds an exclusive lock on ``marker.lock``: a second run of the
    same job at the same time (on whatever host) cannot take it, and writes OVERLAP."""

    name = "test-host-steps"
    description = "Test job: count steps, recording the host of each"
    Config = HostStepsConfig

    def run(self, ctx):
        import fcntl

        c = self.config
        host = os.environ.get("SDJOBS_HOST", "?")
        lock = os.open(c.marker + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with open(c.marker, "a") as f:
                f.write(f"OVERLAP {host} {os.getpid()}\n")
        state = ctx.load_state() or {"step": 0}
        ctx.phase("counting", total=c.steps, unit="steps")
        while c.gate and not os.path.exists(c.gate):
            ctx.check_interrupt()
            time.sleep(0.02)
        for step in range(state["step"], c.steps):
            ctx.check_interrupt()
            time.sleep(c.delay)
            with open(c.marker, "a") as f:
                f.write(f"{host} {os.getpid()} {step}\n")
            state["step"] = step + 1
            ctx.checkpoint(state, force=True)
            ctx.progress(done=step + 1)
        return {"steps": c.steps, "host": host}
