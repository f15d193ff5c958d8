"""The rows of a job's result as the job emits them (``ctx.emit``), on their way to the store.

Rows are buffered and written a few thousand at a time, and always before the
checkpoint that counts them: a checkpoint records how many rows its state has
emitted, and a run that resumes from it first drops the rows emitted after it
(a crashed or paused run's), so that no row is stored twice or lost.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterable

from . import codec

BATCH = 5000
BAD = ("critical", "error")  # rows of these severities count as the job's errors (as store.results.BAD)
_MARK = "\0sdjobs.result_rows"


class ResultRows:
    def __init__(self, job_id: int, backend: Any, metrics: dict) -> None:
        self.job_id = job_id
        self._backend = backend
        self._metrics = metrics  # the context's: rows of severity error or critical count as errors
        self._rows: list[tuple[str, int | None, str | None]] = []
        self._seq: int | None = None  # rows stored so far, over all runs; None until this run started
        self._name: str | None = None
        self._columns: dict[str, None] = {}
        self._changed = False  # name or columns not written yet

    def add_dict(self, row: dict, name: str | None) -> None:
        from ..store.results import keyed

        if any(k not in self._columns for k in row):
            self.declare(row, name)
        self.add(*keyed(row), name=name)

    def add(self, text: str, size: int | None, severity: str | None, name: str | None = None) -> None:
        self.start()
        if name and name != self._name:
            self._name, self._changed = name, True
        self._rows.append((text, size, severity))
        if severity in BAD:
            self._metrics["errors"] += 1
        if len(self._rows) >= BATCH:
            self.write()

    def extend(self, rows: Iterable[tuple[str, int | None, str | None]]) -> None:
        """``add`` for many rows (text, size, severity)."""
        self.start()
        rows = rows if isinstance(rows, list) else list(rows)
        self._metrics["errors"] += sum(1 for r in rows if r[2] in BAD)
        for a in range(0, len(rows), BATCH):
            self._rows += rows[a:a + BATCH]
            if len(self._rows) >= BATCH:
                self.write()

    def declare(self, keys, name: str | None) -> None:
        self.start()
        self._columns.update(dict.fromkeys(keys))
        self._name = name or self._name
        self._changed = True

    def start(self, data: bytes | None = None, loaded: bool = False) -> None:
        """Before the first row of this run: drop the rows emitted after the checkpoint
        (and take their errors back out of the counts the engine restored)."""
        if self._seq is not None:
            return
        if not loaded:
            data, _ = self._backend.read_checkpoint()
        mark = unwrap(codec.unpack(data))[0] if data is not None else 0
        store = getattr(self._backend, "store", None)
        if store is not None:
            from ..store import results

            bad = results.truncate(store, self.job_id, mark, claim=getattr(self._backend, "claim", None))
            if data is not None:
                self._metrics["errors"] = max(0, self._metrics["errors"] - bad)
        self._seq = mark

    def write(self) -> None:
        store = getattr(self._backend, "store", None)
        if store is None or self._seq is None or not (self._rows or self._changed):
            return
        from ..store import results

        rows, self._rows, self._changed = self._rows, [], False
        self._seq += results.append(store, self.job_id, rows, start=self._seq, columns=self._columns,
                                    name=self._name, claim=getattr(self._backend, "claim", None))

    def wrap(self, state: Any) -> Any:
        """The state to checkpoint, with the number of rows emitted so far."""
        if not (self._seq or self._rows):
            return state
        return {_MARK: (self._seq or 0) + len(self._rows), "state": state}


def unwrap(state: Any) -> tuple[int, Any]:
    """(result rows emitted, the job's state) of a checkpoint's state."""
    if isinstance(state, dict) and len(state) == 2 and _MARK in state:
        return state[_MARK], state["state"]
    return 0, state
