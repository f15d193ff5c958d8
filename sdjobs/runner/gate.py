"""Fan-out tokens, both ends: N tokens per runner, granted by job priority.

The supervisor's end is ``Gate``. A job keeps its tokens from chunk to chunk
while it has work (``GateClient``, and ``Tokens`` for one ``ctx.map``), so
when none is free and a job waits that should have one (a higher priority,
or the same with two fewer held), the gate reclaims a token from the job that
should give it up: that job releases it when its current chunk ends, and the
grant goes to the best waiting job, as ever.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import threading
from collections.abc import Iterator
from multiprocessing.connection import wait
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


class GateClient:
    """The job process's end of the token protocol with the supervisor.

    The job says whether it is hungry (has chunks to run); the supervisor
    grants tokens to the hungry job of highest priority. A job keeps a token
    from one chunk to its next while it has work, and gives it back when it
    runs out of work or when the supervisor reclaims it for a job of higher
    priority (or for one of equal priority holding fewer). Because demand is
    standing, a token freed by a high-priority job goes back to it, not to
    whoever asked last.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.reclaim = 0  # tokens the supervisor asked back, not yet released
        self._send_lock = threading.Lock()

    def _send(self, msg: tuple) -> None:
        with self._send_lock:
            self.conn.send(msg)

    def hungry(self, want: int) -> None:
        """How many chunks this job could run at once now (0: none)."""
        self._send(("hungry", want))

    def release(self, n: int = 1) -> None:
        self.reclaim = max(0, self.reclaim - n)
        self._send(("release", n))

    def grants(self, timeout: float = 0.0) -> int:
        """Tokens granted since the last call (waits up to ``timeout`` for a message);
        requests to give tokens back are added up in ``reclaim``."""
        n = 0
        if self.conn.poll(timeout):
            while True:
                msg = self.conn.recv()
                if msg[0] == "grant":
                    n += 1
                elif msg[0] == "reclaim":
                    self.reclaim += msg[1]
                else:
                    raise AssertionError(msg)
                if not self.conn.poll():
                    break
        return n


class Phase(enum.Enum):
    """Where the thread of a gated map is, which decides what an ended chunk does with its token."""

    HOME = "home"  # in the map's loop: the token waits there for the next chunk
    AWAY = "away"  # out at the consumer (suspended at a yield): it cannot reuse the token, so it goes back at once
    CLOSED = "closed"  # the map is over: the token goes back at once, and nothing is counted any more


class Tokens:
    """The tokens of one gated map: how many it holds, how many chunks run on them.

    Two threads change them. The map's thread asks (``want``), is granted
    (``granted``), starts chunks (``started``) and gives tokens back
    (``give_back``); the pool's result thread reports each chunk that ends
    (``chunk_ended``; not one that a chunk queued behind it goes on from, which runs on
    its token: runner/pool.py's ``queue``), which counts it, releases its token at once unless the
    map is HOME, and wakes the map's thread (``wait``). The map's thread folds
    what the result thread counted into ``held`` and ``running`` with
    ``settle``, so only it ever writes them.

    Phases: HOME -> AWAY (``away()`` entered) -> HOME (left); HOME or AWAY ->
    CLOSED (``close``), which is final and hands back every spare token after
    saying the map wants no more. Anything else raises ``TransitionError``.
    """

    def __init__(self, gate: GateClient) -> None:
        self.gate = gate
        self.held = 0  # tokens granted and not given back
        self.running = 0  # chunks started that have not ended (as of the last settle)
        self.wanted = 0  # what the supervisor was last told this map could run at once
        self.phase = Phase.HOME
        self._ended = 0  # chunks ended since the last settle (the result thread's count)
        self._given = 0  # of their tokens, those the result thread released itself
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    @property
    def spare(self) -> int:
        """Tokens held with no chunk running on them."""
        return self.held - self.running

    def want(self, n: int) -> None:
        """Tell the supervisor how many chunks this map could run at once, if that changed."""
        self._expect(Phase.HOME, Phase.AWAY)
        if n != self.wanted:
            self.wanted = n
            self.gate.hungry(n)

    def granted(self, n: int) -> None:
        self.held += n

    def started(self) -> None:
        """A chunk went to the pool on a spare token."""
        self._expect(Phase.HOME)
        if self.spare <= 0:
            raise TransitionError("a chunk started without a spare token")
        self.running += 1

    def give_back(self, n: int) -> None:
        """Release ``n`` spare tokens (nothing if ``n`` <= 0)."""
        if n <= 0:
            return
        if n > self.spare:
            raise TransitionError(f"giving back {n} tokens with {self.spare} spare")
        self.gate.release(n)
        self.held -= n

    def chunk_ended(self) -> None:
        """Called by the pool's result thread when a chunk ends, well or not."""
        with self._lock:
            if self.phase is Phase.CLOSED:
                self.gate.release(1)
                return
            self._ended += 1
            if self.phase is Phase.AWAY:
                self.gate.release(1)
                self._given += 1
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:
                pass  # full of wake-ups already

    def settle(self) -> None:
        """Count what the result thread saw since the last look."""
        with self._lock:
            self._settle()

    def _settle(self) -> None:
        self.running -= self._ended
        self.held -= self._given
        self._ended = self._given = 0

    def wait(self, conns: list, timeout: float) -> list:
        """Wait for one of ``conns`` or for a chunk to end; what is ready."""
        self._expect(Phase.HOME)
        ready = wait([*conns, self._wake_r], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 4096)
        return ready

    @contextlib.contextmanager
    def away(self) -> Iterator[None]:
        """The map's thread is out at its consumer for the duration."""
        with self._lock:
            self._expect(Phase.HOME)
            self.phase = Phase.AWAY
        try:
            yield
        finally:
            with self._lock:
                if self.phase is Phase.AWAY:
                    self.phase = Phase.HOME

    def close(self) -> None:
        """The map is over: no more wanted, spare tokens back; chunks still running give theirs as they end."""
        with self._lock:
            if self.phase is Phase.CLOSED:
                return
            self.phase = Phase.CLOSED
            self._settle()
            os.close(self._wake_r)
            os.close(self._wake_w)
        if self.wanted:  # first, or the supervisor could grant again what comes back
            self.wanted = 0
            self.gate.hungry(0)
        self.give_back(self.spare)

    def _expect(self, *phases: Phase) -> None:
        if self.phase not in phases:
            raise TransitionError(f"not allowed while {self.phase.value}")


class TransitionError(RuntimeError):
    """A gated map's tokens were used against their state machine (a bug in the fan-out)."""
