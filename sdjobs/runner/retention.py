"""The retention policy, applied by the runner: at start, then daily.

The ``retention`` setting (``sdjobs config set retention 30d``) is read at most once a
minute; the prune (``store/retention.py``, the verb behind ``sdjobs jobs prune``) runs at
the runner's start, once a day after that, and at once when the setting changes. Several
runners may prune the same library: the prune is idempotent.
"""

from __future__ import annotations

import math
import time

from ..core import settings as defs
from ..core.errors import SdjobsError
from ..store import settings_store
from ..store.retention import prune_jobs
from .leftovers import clean_up_before_prune

CHECK_EVERY = 60.0
RUN_EVERY = 86400.0
PER_TURN = 10_000  # jobs pruned per turn of the runner's loop at most; the rest a few seconds later
AGAIN_AFTER = 5.0


def policy(store) -> tuple[float, float | None] | None:
    """(older_than, failed_older_than) in seconds, or None when retention is off."""
    older = defs.age(settings_store.get(store, "retention"))
    if older is None:
        return None
    failed = settings_store.get(store, "retention-failed")
    if not failed:
        return older, None
    return older, math.inf if failed == defs.OFF else defs.age(failed)


class Retention:
    def __init__(self, store, say=None) -> None:
        self.store = store
        self.say = say or (lambda message: None)
        self._checked = -math.inf
        self._ran = -math.inf
        self._applied: tuple | None = None

    def tick(self, mono: float | None = None) -> None:
        mono = time.monotonic() if mono is None else mono
        if mono - self._checked < CHECK_EVERY:
            return
        self._checked = mono
        current = policy(self.store)
        if current is None:
            self._applied = None
            return
        if current == self._applied and mono - self._ran < RUN_EVERY:
            return
        try:  # a failed job's temporaries go before its checkpoint (their names) does
            clean_up_before_prune(self.store, min(current[0], current[1] or math.inf))
        except SdjobsError as exc:
            self.say(f"retention: {exc}")
            self._ran, self._applied = mono, current
            return
        done = prune_jobs(self.store, current[0], failed_older_than=current[1], limit=PER_TURN)
        self._ran, self._applied = mono, current
        if done.jobs >= PER_TURN:  # more to go: again soon, without holding the loop now
            self._ran = -math.inf
            self._checked = mono - CHECK_EVERY + AGAIN_AFTER
        if done.jobs or done.files:
            self.say(f"retention: pruned {done.jobs} job(s) and {done.files} result file(s)")
