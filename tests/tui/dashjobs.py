"""A job type for the dashboard tests that warns, errs and logs as it goes
(loaded by runners through SDJOBS_PLUGINS=testjobs,dashjobs)."""

from __future__ import annotations

import dataclasses
import time

from sdjobs.core.job import Job


@dataclasses.dataclass
class ChattyConfig:
    steps: int = 40
    delay: float = 0.05


class Chatty(Job):
    name = "test-chatty"
    description = "Test job: warns, errs and logs while it counts"
    Config = ChattyConfig

    def run(self, ctx):
        c = self.config
        state = ctx.load_state() or {"step": 0}
        ctx.log(f"counting to {c.steps}")
        ctx.phase("chatting", total=c.steps, unit="lines")
        for step in range(state["step"], c.steps):
            ctx.check_interrupt()
            time.sleep(c.delay)
            if step % 5 == 0:
                ctx.warn(f"odd thing at step {step}", path=f"/fake/warn-{step}")
            if step % 7 == 0:
                ctx.error(f"/fake/err-{step}", OSError(5, "Input/output error"))
            ctx.log(f"line {step}")
            state["step"] = step + 1
            ctx.checkpoint(state)
            ctx.progress(done=step + 1, path=f"/fake/file-{step}", fields={"last": step})
        return {"lines": c.steps, "groups": [{"size": 10, "paths": ["/fake/a", "/fake/b"]}]}
