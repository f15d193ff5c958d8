"""Structured progress: what a job reports and what the engine derives.

A job reports any of: a count (``done``/``total`` in its own ``unit``), bytes
(``bytes_done``/``bytes_total``), a ``percent``, or nothing but a message
(indeterminate), always with optional ``phase``, ``message``, ``path`` and
job-specific ``fields``. The engine adds ``rate`` and ``eta`` from a sliding
window of samples, so every job gets them for free.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from .plain import Plain


_FIELDS = ("phase", "message", "path", "done", "total", "unit", "bytes_done", "bytes_total", "percent", "fields",
           "rate", "rate_unit", "eta", "updated_at")


class Progress(Plain):
    __slots__ = _FIELDS  # (a plain class, not a dataclass: core/plain.py says why)

    def __init__(self, phase: str | None = None, message: str | None = None, path: str | None = None,
                 done: int | None = None, total: int | None = None, unit: str = "items",
                 bytes_done: int | None = None, bytes_total: int | None = None, percent: float | None = None,
                 fields: dict[str, Any] | None = None, rate: float | None = None, rate_unit: str | None = None,
                 eta: float | None = None, updated_at: float = 0.0) -> None:
        self.phase = phase
        self.message = message
        self.path = path
        self.done = done
        self.total = total
        self.unit = unit
        self.bytes_done = bytes_done
        self.bytes_total = bytes_total
        self.percent = percent
        self.fields: dict[str, Any] = {} if fields is None else fields
        self.rate = rate
        self.rate_unit = rate_unit
        self.eta = eta
        self.updated_at = updated_at

    @property
    def kind(self) -> str:
        if self.bytes_total:
            return "bytes"
        if self.total:
            return "count"
        if self.percent is not None:
            return "percent"
        if self.fields:
            return "custom"
        return "indeterminate"

    def fraction(self) -> float | None:
        """Overall completion in [0, 1], or None when it cannot be known."""
        if self.percent is not None:
            return max(0.0, min(1.0, self.percent / 100.0))
        if self.bytes_total:
            return min(1.0, (self.bytes_done or 0) / self.bytes_total)
        if self.total:
            return min(1.0, (self.done or 0) / self.total)
        return None

    def to_dict(self) -> dict[str, Any]:
        d = self.as_dict()
        d["fields"] = dict(self.fields)  # (its own dict: a job's later changes do not reach it)
        d["kind"] = self.kind
        return {k: v for k, v in d.items() if v is not None and v != {}}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Progress:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in _FIELDS})


class RateEstimator:
    """Rate over a sliding window of (time, amount) samples, and an ETA from it."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, float]] = deque()

    def reset(self, start: float | None = None) -> None:
        """Forget the samples; with ``start`` (a monotonic time), count from zero at that time:
        a phase whose counters start at zero then has a rate at its first report."""
        self._samples.clear()
        if start is not None:
            self._samples.append((start, 0.0))

    def update(self, amount: float, now: float | None = None) -> float | None:
        now = time.monotonic() if now is None else now
        samples = self._samples
        if samples and amount < samples[-1][1]:
            samples.clear()  # a new phase started counting from zero
        samples.append((now, amount))
        while len(samples) > 2 and now - samples[0][0] > self.window:
            samples.popleft()
        t0, a0 = samples[0]
        if now - t0 < 0.2:
            return None
        return (amount - a0) / (now - t0)


def derive(progress: Progress, estimator: RateEstimator, now: float | None = None) -> Progress:
    """Fill in ``rate``, ``rate_unit`` and ``eta`` from the reported amounts. A job that
    reports more done than its total is shown that much as its total: never "5 of 3"."""
    if progress.total is not None and (progress.done or 0) > progress.total:
        progress.total = progress.done
    if progress.bytes_total and (progress.bytes_done or 0) > progress.bytes_total:
        progress.bytes_total = progress.bytes_done
    amount: float
    total: float | None
    if progress.bytes_done is not None:
        amount, total, unit = progress.bytes_done, progress.bytes_total, "bytes"
    elif progress.done is not None:
        amount, total, unit = progress.done, progress.total, progress.unit
    elif progress.percent is not None:
        amount, total, unit = progress.percent, 100.0, "%"
    else:
        progress.rate = progress.eta = None
        return progress
    rate = estimator.update(amount, now)
    progress.rate, progress.rate_unit = rate, unit
    progress.eta = (total - amount) / rate if rate and total and total >= amount else None
    return progress


def amounts(p: Progress) -> tuple[str, dict[str, Any]]:
    """What a phase counted, as a line ('1,200 of 2,000 files, 12.0 MB of 20.0 MB') and fields."""
    from .humanize import human_bytes

    fields = {k: getattr(p, k) for k in ("done", "total", "bytes_done", "bytes_total", "percent")
              if getattr(p, k) is not None}
    parts = []
    if p.done is not None or p.total is not None:
        fields["unit"] = p.unit
        counted = f"{p.done or 0:,}" + (f" of {p.total:,}" if p.total is not None else "")
        parts.append(f"{counted} {p.unit}")
    if p.bytes_done is not None or p.bytes_total:
        shown = human_bytes(p.bytes_done or 0) + (f" of {human_bytes(p.bytes_total)}" if p.bytes_total else "")
        parts.append(shown)
    if not parts and p.percent is not None:
        parts.append(f"{p.percent:.0f}%")
    return ", ".join(parts), fields


def phase_start_event(p: Progress) -> tuple[str, dict[str, Any]]:
    """The ``phase-start`` event's line and fields for the phase ``p`` starts."""
    from .humanize import human_bytes

    fields: dict[str, Any] = {"phase": p.phase}
    parts = []
    if p.total is not None:
        fields.update(total=p.total, unit=p.unit)
        parts.append(f"{p.total:,} {p.unit}")
    if p.bytes_total:
        fields["bytes_total"] = p.bytes_total
        parts.append(human_bytes(p.bytes_total))
    text = f"phase {p.phase} started" + (f": {', '.join(parts)}" if parts else "")
    if p.message:
        text += f" ({p.message})"
    return text, fields


def phase_end_event(p: Progress, seconds: float, outcome: str) -> tuple[str, dict[str, Any]]:
    """The ``phase-end`` event's line and fields: what the phase counted, how long it took,
    and how it ended (completed, failed, cancelled, or ``next`` when another phase began)."""
    counted, fields = amounts(p)
    fields.update(phase=p.phase, seconds=round(seconds, 3), outcome=outcome)
    text = f"phase {p.phase} ended" + ("" if outcome == "next" else f" ({outcome})")
    text += f" after {seconds:.1f} s" + (f": {counted}" if counted else "")
    return text, fields
