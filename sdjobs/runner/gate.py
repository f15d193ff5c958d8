"""The supervisor's side of fan-out tokens: N tokens, granted by job priority."""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass
class Seat:
    conn: Any
    priority: int
    held: int = 0
    want: int = 0  # chunks it could run at once now


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
        self.grant()
        return True

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
