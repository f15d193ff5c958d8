"""Standard 5-field cron expressions: parsing, matching and scheduling.

Syntax: ``minute hour day-of-month month day-of-week`` where each field is a
comma-separated list of ``*``, ``N`` or ``N-M``, the last two optionally
followed by a step ``/S`` (``*/15``, ``1-30/5``). Months accept JAN-DEC and
days of week SUN-SAT (case-insensitive, also inside ranges such as
``MON-FRI``); day-of-week 0 and 7 both mean Sunday. The aliases @yearly,
@annually, @monthly, @weekly, @daily, @midnight and @hourly are accepted.

Day-of-month and day-of-week follow Vixie cron: a field whose text starts
with ``*`` (including ``*/2``) is "unrestricted"; if either one is
unrestricted a day must match both fields, otherwise (both restricted) a day
matches if EITHER field matches. So ``0 0 1,15 * FRI`` fires on the 1st, the
15th and every Friday.

Times are wall-clock: naive datetimes are interpreted as local time, and an
aware datetime's fields are used as-is with its ``tzinfo`` kept on results
(no DST gap/fold handling). Resolution is one minute; seconds are ignored.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date, datetime, timedelta

__all__ = ["ALIASES", "SEARCH_YEARS", "CronExpr"]

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: Searches give up (return None) after this many years. The Gregorian
#: calendar repeats every 400 years, so an expression with no match in that
#: window never matches (e.g. ``0 0 31 2 *``); ``0 0 29 2 *`` and friends,
#: whose gaps can exceed 8 years, are still found.
SEARCH_YEARS = 401

_MONTHS = {n.upper(): i for i, n in enumerate(calendar.month_abbr) if n}
_DOWS = {n: i for i, n in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}

# (name, low, high, symbolic names) per field, in expression order.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 7, _DOWS),
)


def _parse_field(text: str, index: int) -> tuple[int, ...]:
    """Expand one field into its sorted allowed values; ValueError on bad input."""
    name, low, high, names = _FIELDS[index]

    def fail(reason: str) -> ValueError:
        return ValueError(f"{name} field {text!r}: {reason}")

    def value(tok: str) -> int:
        if tok.isascii() and tok.isdigit():
            n = int(tok)
        elif tok.upper() in names:
            n = names[tok.upper()]
        else:
            kind = "a number or name" if names else "a number"
            raise fail(f"{tok!r} is not {kind}")
        if not low <= n <= high:
            raise fail(f"{n} is out of range {low}-{high}")
        return n

    values: set[int] = set()
    for part in text.split(","):
        rng, has_step, step_text = part.partition("/")
        step = 1
        if has_step:
            if not (step_text.isascii() and step_text.isdigit()) or int(step_text) == 0:
                raise fail(f"step {step_text!r} must be a positive integer")
            step = int(step_text)
        if rng == "*":
            lo, hi = low, high
        elif "-" in rng:
            a, _, b = rng.partition("-")
            lo, hi = value(a), value(b)
            if lo > hi:
                raise fail(f"range {rng!r} runs backwards")
        elif has_step:
            raise fail(f"step in {part!r} needs a range or '*' before '/'")
        else:
            lo = hi = value(rng)
        values.update(range(lo, hi + 1, step))
    if index == 4 and 7 in values:  # Sunday is both 0 and 7
        values.discard(7)
        values.add(0)
    return tuple(sorted(values))


@dataclass(frozen=True)
class CronExpr:
    """A parsed cron expression. Build with :meth:`parse`; ``str()`` gives the text."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Sunday ... 6 = Saturday
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Parse *text*; raises ValueError naming the offending field and value."""
        source = text.strip()
        fields = ALIASES.get(source.lower(), source).split()
        try:
            if source.startswith("@") and source.lower() not in ALIASES:
                raise ValueError(f"unknown alias {source!r}")
            if len(fields) != 5:
                raise ValueError(f"expected 5 fields, got {len(fields)}")
            minutes, hours, days, months, weekdays = (_parse_field(f, i) for i, f in enumerate(fields))
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {text!r}: {exc}") from None
        return cls(source, minutes, hours, days, months, weekdays, fields[2].startswith("*"), fields[4].startswith("*"))

    def __str__(self) -> str:
        return self.text

    def _day_ok(self, y: int, m: int, d: int) -> bool:
        dom = d in self.days
        dow = (date(y, m, d).weekday() + 1) % 7 in self.weekdays
        return (dom and dow) if (self.dom_star or self.dow_star) else (dom or dow)

    def matches(self, dt: datetime) -> bool:
        """True if the expression fires in the minute containing *dt*."""
        return (dt.minute in self.minutes and dt.hour in self.hours
                and dt.month in self.months and self._day_ok(dt.year, dt.month, dt.day))

    def _month_days(self, y: int, m: int) -> list[int]:
        """Matching days of month m in year y, ascending."""
        dim = calendar.monthrange(y, m)[1]
        if self.dom_star or self.dow_star:  # AND rule: only listed days can match
            cands: Iterable[int] = (x for x in self.days if x <= dim)
        else:
            cands = range(1, dim + 1)
        return [x for x in cands if self._day_ok(y, m, x)]

    def _time_from(self, h: int, m: int) -> tuple[int, int] | None:
        """Earliest allowed (hour, minute) >= (h, m) within a day."""
        i = bisect_left(self.hours, h)
        if i < len(self.hours) and self.hours[i] == h:
            j = bisect_left(self.minutes, m)
            if j < len(self.minutes):
                return h, self.minutes[j]
            i += 1
        return (self.hours[i], self.minutes[0]) if i < len(self.hours) else None

    def _time_until(self, h: int, m: int) -> tuple[int, int] | None:
        """Latest allowed (hour, minute) <= (h, m) within a day."""
        i = bisect_right(self.hours, h) - 1
        if i >= 0 and self.hours[i] == h:
            j = bisect_right(self.minutes, m) - 1
            if j >= 0:
                return h, self.minutes[j]
            i -= 1
        return (self.hours[i], self.minutes[-1]) if i >= 0 else None

    def next_after(self, dt: datetime) -> datetime | None:
        """First firing time strictly after *dt*, or None if none within SEARCH_YEARS.

        Walks allowed months, then matching days, then bisects hour/minute, so
        cost is independent of how far away the next run is in minutes.
        """
        try:
            t = dt.replace(second=0, microsecond=0) + timedelta(minutes=1)
        except OverflowError:
            return None
        for y in range(t.year, min(t.year + SEARCH_YEARS, MAXYEAR) + 1):
            for mo in self.months:
                if (y, mo) < (t.year, t.month):
                    continue
                for d in self._month_days(y, mo):
                    if (y, mo, d) < (t.year, t.month, t.day):
                        continue
                    first = (y, mo, d) == (t.year, t.month, t.day)
                    hm = self._time_from(t.hour, t.minute) if first else self._time_from(0, 0)
                    if hm:
                        return t.replace(year=y, month=mo, day=d, hour=hm[0], minute=hm[1])
        return None

    def last_at_or_before(self, dt: datetime) -> datetime | None:
        """Latest firing time <= *dt* (minute resolution), or None within SEARCH_YEARS."""
        t = dt.replace(second=0, microsecond=0)
        for y in range(t.year, max(t.year - SEARCH_YEARS, MINYEAR) - 1, -1):
            for mo in reversed(self.months):
                if (y, mo) > (t.year, t.month):
                    continue
                for d in reversed(self._month_days(y, mo)):
                    if (y, mo, d) > (t.year, t.month, t.day):
                        continue
                    last = (y, mo, d) == (t.year, t.month, t.day)
                    hm = self._time_until(t.hour, t.minute) if last else self._time_until(23, 59)
                    if hm:
                        return t.replace(year=y, month=mo, day=d, hour=hm[0], minute=hm[1])
        return None

    def missed_between(self, start: datetime, end: datetime) -> bool:
        """True if the expression fired at some minute in (start, end].

        Use on startup with start = last run (or shutdown) and end = now to
        decide whether to run once to catch up on runs missed during downtime.
        """
        nxt = self.next_after(start)
        return nxt is not None and nxt <= end
