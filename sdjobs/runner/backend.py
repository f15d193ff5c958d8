"""The engine side of ``JobContext``: a job's reads and writes go to the store."""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any
from collections.abc import Callable, Iterable, Iterator

from ..core import registry
from ..core.fields import build_config
from ..core.library import LibraryInfo
from ..store.api import Store
from ..store.data_plane import library_info
from ..store.library import LibraryLost
from .fanout import FanOut
from .patience import patiently


class StoreBackend:
    """``claim``: the claim the job runs under (see ``Store.claim``); every write and control
    check is fenced by it. None for a job that is not running (a cancel's clean-up)."""

    settings_interval = 1.0

    def __init__(self, store: Store, job_id: int, priority: int, fanout: FanOut, claim: int | None = None) -> None:
        self.store = store
        self.job_id = job_id
        self.claim = claim
        self.priority = priority
        self.fanout = fanout
        self._settings: dict[str, Any] = {}
        self._settings_at = 0.0
        self._library: LibraryInfo | None = None
        fanout.limit = lambda: self.settings().get("max_workers")

    def write(self, progress, metrics, events, checkpoint, busy_timeout: float | None = None) -> None:
        self._check_library()
        # (busy_timeout: the trailer's quick write on its own connection, see core/trail.py; it
        # is taken again later, so only the job's own writes wait for a library out of reach)
        write = self.store.write if busy_timeout is not None else partial(patiently, self.store.write)
        write(self.job_id, progress, metrics, events, checkpoint, claim=self.claim, busy_timeout=busy_timeout)

    def read_checkpoint(self):
        return patiently(self.store.read_checkpoint, self.job_id)

    def _check_library(self) -> None:
        """A running job whose library was deleted, replaced or damaged stops for good (its
        record is gone: nothing can resume it) rather than go on for a file no one reads."""
        if self.claim is None:
            return
        lost = self.store.lost()
        if lost:
            raise LibraryLost(f"the library {self.store.library.db_path} {lost}")

    def read_control(self) -> str | None:
        self._check_library()
        return patiently(self.store.read_control, self.job_id, claim=self.claim)

    def settings(self) -> dict[str, Any]:
        now = time.monotonic()
        if now - self._settings_at >= self.settings_interval:
            self._settings = patiently(self.store.read_settings, self.job_id)
            self._settings_at = now
        return self._settings

    def spawn_child(self, job_type: str, config: Any, priority: int | None) -> int:
        cls = registry.get(job_type)
        if isinstance(config, dict):
            config = build_config(cls.Config, config)
        config = cls.prepare(config)
        cls.validate(config)
        return self.store.submit(
            job_type, cls.version, config, parent_id=self.job_id,
            priority=self.priority if priority is None else priority, parent_claim=self.claim,
            context={"parent": self.job_id, "argv": [f"(child of job {self.job_id})"],
                     "user": os.environ.get("USER", ""), "time": time.time()})

    def children(self) -> list[tuple[int, str]]:
        return patiently(self.store.children_status, self.job_id)

    def map(self, fn: Callable, items: Iterable, chunksize: int) -> Iterator:
        return self.fanout.map(fn, items, chunksize)

    def library(self) -> LibraryInfo:
        if self._library is None:
            self._library = library_info(self.store)
        return self._library
