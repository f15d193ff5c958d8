"""Job types for the result-rows tests (``sdjobs jobs output``).

Loaded through SDJOBS_PLUGINS=testjobs,outputjobs.
"""

from __future__ import annotations

import dataclasses
import time

from sdjobs.core.job import Job

SEVERITIES = ("info", "warning", "error", "critical")


@dataclasses.dataclass
class RowsConfig:
    rows: int = 10
    every: int = 0        # checkpoint after every this many rows (0: never)
    delay: float = 0.0    # seconds after each row
    bad: int = -1         # this row has severity error; the others info
    marker: str = ""      # a file each run appends "run" to


class Rows(Job):
    """Emits rows {n, name, size, severity, tags, extra}; resumes after its checkpoint."""

    name = "test-rows"
    description = "Test job: emit result rows"
    Config = RowsConfig

    def run(self, ctx):
        c = self.config
        if c.marker:
            with open(c.marker, "a") as f:
                f.write("run\n")
        state = ctx.load_state() or {"i": 0}
        ctx.phase("emitting", total=c.rows, unit="rows")
        for i in range(state["i"], c.rows):
            ctx.check_interrupt()
            ctx.emit({"n": i, "name": f"row {i}", "size": i * 100, "severity": "error" if i == c.bad else "info",
                      "tags": ["a", "b"] if i % 2 else [], "extra": {"even": i % 2 == 0}})
            if c.every and (i + 1) % c.every == 0:
                state["i"] = i + 1
                ctx.checkpoint(state, force=True)
            ctx.progress(done=i + 1)
            if c.delay:
                time.sleep(c.delay)
        return {"rows": c.rows}


@dataclasses.dataclass
class KidConfig:
    errors: int = 1


class ParentOfErrors(Job):
    """Spawns one test-steps child that records errors, waits, and returns as if all went well."""

    name = "test-errors-parent"
    description = "Test job: a parent whose child ends with errors"
    Config = KidConfig

    def run(self, ctx):
        state = ctx.load_state() or {}
        if "kid" not in state:
            state["kid"] = ctx.spawn_child("test-steps", {"steps": self.config.errors, "delay": 0.01,
                                                         "warn_every": 1})
            ctx.checkpoint(state, force=True)
        kids = ctx.wait_for_children()
        return {"children": len(kids)}
