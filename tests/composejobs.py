"""Job types for the composition tests: parents with children, and fan-out overlap.

Loaded through SDJOBS_PLUGINS=testjobs,composejobs (see the tests that use them).
"""

from __future__ import annotations

import dataclasses
import time

from sdjobs.core.errors import JobFailed
from sdjobs.core.job import Job


@dataclasses.dataclass
class ParentConfig:
    children: int = 2
    child_steps: int = 10
    child_delay: float = 0.05
    child_fail_at: int = -1  # the first child fails at this step
    child_hold_at: int = -1  # each child waits at this step for the file child_gate (test-steps' hold_at)
    child_gate: str = ""
    marker: str = ""  # the parent appends "run" each time run() starts; child i marks "<marker>.<i>"


class Parent(Job):
    """Spawns test-steps children, waits for them without a worker, then sums up."""

    name = "test-parent"
    description = "Test job: spawn children and wait for them"
    Config = ParentConfig

    def run(self, ctx):
        c = self.config
        if c.marker:
            with open(c.marker, "a") as f:
                f.write("run\n")
        state = ctx.load_state() or {"kids": []}
        if len(state["kids"]) < c.children:
            ctx.phase("spawning", total=c.children, unit="children")
        while len(state["kids"]) < c.children:
            i = len(state["kids"])
            kid = ctx.spawn_child("test-steps", {
                "steps": c.child_steps, "delay": c.child_delay, "fail_at": c.child_fail_at if i == 0 else -1,
                "marker": f"{c.marker}.{i}" if c.marker else "", "hold_at": c.child_hold_at, "gate": c.child_gate})
            state["kids"].append(kid)
            ctx.checkpoint(state, force=True)
        kids = ctx.wait_for_children()
        ctx.phase("summing")
        bad = [(k, s) for k, s in kids if s != "completed"]
        if bad:
            raise JobFailed(f"child job {bad[0][0]} {bad[0][1]}")
        return {"children": len(kids)}


def nap(seconds: float) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


@dataclasses.dataclass
class OverlapConfig:
    n: int = 20
    seconds: float = 0.1


class Overlap(Job):
    """Naps over the worker pool and returns when each nap ran (to measure concurrency)."""

    name = "test-overlap"
    description = "Test job: naps fanned out over the workers"
    Config = OverlapConfig

    def run(self, ctx):
        spans = []
        for span in ctx.map(nap, [self.config.seconds] * self.config.n, chunksize=1):
            spans.append(list(span))
            ctx.progress(done=len(spans), total=self.config.n)
        return {"spans": spans}


def max_overlap(spans, after: float = 0.0) -> int:
    """Most naps running at the same moment, among those that started after ``after``."""
    edges = sorted([(s, 1) for s, e in spans if s >= after] + [(e, -1) for s, e in spans if s >= after],
                   key=lambda x: (x[0], x[1]))
    best = cur = 0
    for _, d in edges:
        cur += d
        best = max(best, cur)
    return best
