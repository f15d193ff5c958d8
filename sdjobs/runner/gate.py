"""The supervisor's side of fan-out tokens: N tokens, granted by job priority.

A job keeps its tokens from chunk to chunk while it has work (see
``fanout.GateClient``), so when none is free and a job waits that should have
one (a higher priority, or the same with two fewer held), the gate reclaims a
token from the job that should give it up: that job releases it when its
current chunk ends, and the grant goes to the best waiting job, as ever.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Seat:
    conn: Any
    priority: int
    held: int = 0
    want: int = 0  # chunks it could run at once now
    reclaimed: int = 0  # tokens asked back from it, not yet released


class Gate:
    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.seats: dict[int, Seat] = {}

    def join(self, job_id: int, conn: Any, priority: int) -> None:
        self.seats[job_id] = Seat(conn, priority)

    def leave(self, job_id: int) -> None:
        """A job process ended: whatever it held comes back."""
        self.seats.pop(job_id, None)

    def set_priority(self, job_id: int, priority: int) -> None:
        if job_id in self.seats:
            self.seats[job_id].priority = priority

    def handle(self, job_id: int) -> bool:
        """Read one message from a job; False when its end is closed."""
        seat = self.seats.get(job_id)
        if seat is None:
            return False
        try:
            msg = seat.conn.recv()
        except (EOFError, OSError):
            return False
        if msg[0] == "hungry":
            seat.want = int(msg[1])
        elif msg[0] == "release":
            seat.held = max(0, seat.held - msg[1])
            seat.reclaimed = max(0, seat.reclaimed - msg[1])
        self.grant()
        return True

    def starved(self) -> dict[int, list[int]]:
        """Jobs that have chunks to run and no token: {job: the jobs holding the tokens}."""
        holders = sorted(job_id for job_id, s in self.seats.items() if s.held)
        return {job_id: [h for h in holders if h != job_id] for job_id, s in self.seats.items()
                if s.want and not s.held}

    def grant(self) -> None:
        free = self.tokens - sum(s.held for s in self.seats.values())
        while free > 0:
            hungry = [(s.priority, -s.held, -job_id) for job_id, s in self.seats.items()
                      if s.held < min(s.want, self.tokens)]
            if not hungry:
                return
            job_id = -max(hungry)[2]  # highest priority, then fewest held, then oldest
            seat = self.seats[job_id]
            try:
                seat.conn.send(("grant",))
            except OSError:
                seat.want = 0
                continue
            seat.held += 1
            free -= 1
        self._reclaim()

    def _reclaim(self) -> None:
        """No token is free: ask one back for each waiting job that should have one."""
        coming = sum(s.reclaimed for s in self.seats.values())  # each goes to the best waiting job
        waiting = sorted(((s.priority, -s.held, -job_id) for job_id, s in self.seats.items()
                          if s.held < min(s.want, self.tokens)), reverse=True)
        for priority, minus_held, minus_id in waiting:
            if coming:
                coming -= 1
                continue
            donors = [(s.priority, -(s.held - s.reclaimed), job_id) for job_id, s in self.seats.items()
                      if job_id != -minus_id and s.held > s.reclaimed
                      and (s.priority < priority or (s.priority == priority and s.held - s.reclaimed > 1 - minus_held))]
            if not donors:
                continue
            donor = self.seats[min(donors)[2]]  # lowest priority, then holding the most
            try:
                donor.conn.send(("reclaim", 1))
            except OSError:
                continue
            donor.reclaimed += 1
