"""Job types for the tests of lifecycle events and progress (SDJOBS_PLUGINS=testjobs,eventjobs)."""

from __future__ import annotations

import dataclasses
import time

from sdjobs.core.job import Job


@dataclasses.dataclass
class ReportThenBlockConfig:
    percent: float = 45.2
    sleep: float = 2.0
    marker: str = ""  # written when it starts to block (the time, from time.time())


class ReportThenBlock(Job):
    """Reports right after a write (within the context's write interval), then blocks."""

    name = "test-report-then-block"
    description = "Test job: report progress and a log line, then sleep"
    Config = ReportThenBlockConfig

    def run(self, ctx):
        c = self.config
        ctx.phase("work")  # a write now: what follows comes too soon for another
        ctx.percent(c.percent)
        ctx.log("about to block")
        ctx.warn("a warning before blocking", "/fake/w")
        ctx.error("/fake/e", "an error before blocking")
        if c.marker:
            with open(c.marker, "w") as f:
                f.write(repr(time.time()))
        time.sleep(c.sleep)
        return {"slept": c.sleep}


@dataclasses.dataclass
class ReportInTransactionConfig:
    steps: int = 20
    delay: float = 0.05


class ReportInTransaction(Job):
    """Reports progress while it holds a write transaction of the library (as the index does)."""

    name = "test-report-in-transaction"
    description = "Test job: report progress inside a transaction of its own"
    Config = ReportInTransactionConfig

    def run(self, ctx):
        c = self.config
        ctx.phase("work", total=c.steps)
        started = time.monotonic()
        with ctx.library.data.atomic():  # a unit of work of the data plane, as the index holds one
            for step in range(c.steps):
                ctx.progress(done=step + 1)
                time.sleep(c.delay)
        return {"seconds": time.monotonic() - started}
