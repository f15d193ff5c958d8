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

Parsing, validation (one-line messages naming the field and the value) and
``matches`` are ours; the search for firing times is cronsim's, which handles
daylight saving time as Debian's cron does when given aware datetimes in a
zone with DST (``local_time`` gives one for the machine's zone): an expression
with fixed minute and hour whose time falls in a spring-forward gap fires at
the first minute after the gap, one whose time is repeated on a fall-back day
fires once (at the first occurrence), and ``* * * * *``-like expressions follow
real time. Naive datetimes are wall-clock times without DST. Resolution is one
minute; seconds are ignored.
"""

from __future__ import annotations

import calendar
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

__all__ = ["ALIASES", "SEARCH_YEARS", "CronExpr", "local_time"]

ALIASES: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: Searches give up (return None) after this many years (cronsim's limit). An
#: expression that can never fire (``0 0 31 2 *``) is known at once; the rarest
#: possible ones (``0 0 29 2 */7``, a Sunday the 29th of February) recur within 40.
SEARCH_YEARS = 50

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

    def _cronsim_text(self) -> str:
        """The expression in cronsim's syntax: star fields as written (their star-ness decides
        the day-of-month/day-of-week rule), the others as the lists of values we parsed."""
        parts = ALIASES.get(self.text.lower(), self.text).split()
        values = (self.minutes, self.hours, self.days, self.months, self.weekdays)
        return " ".join(p if p.startswith("*") else ",".join(map(str, v)) for p, v in zip(parts, values, strict=True))

    def _search(self, start: datetime, reverse: bool) -> datetime | None:
        from cronsim import CronSim, CronSimError

        try:
            return next(CronSim(self._cronsim_text(), start, reverse=reverse))
        except (CronSimError, StopIteration, OverflowError, ValueError):
            return None  # never fires (31 February), or not before SEARCH_YEARS or the end of the calendar

    def next_after(self, dt: datetime) -> datetime | None:
        """First firing time strictly after *dt*, or None if none within SEARCH_YEARS."""
        return self._search(dt.replace(second=0, microsecond=0), reverse=False)

    def last_at_or_before(self, dt: datetime) -> datetime | None:
        """Latest firing time <= *dt* (minute resolution), or None within SEARCH_YEARS."""
        try:
            start = dt.replace(second=0, microsecond=0) + timedelta(minutes=1)
        except OverflowError:
            start = dt.replace(second=59, microsecond=0)
        return self._search(start, reverse=True)

    def missed_between(self, start: datetime, end: datetime) -> bool:
        """True if the expression fired at some minute in (start, end].

        Use on startup with start = last run (or shutdown) and end = now to
        decide whether to run once to catch up on runs missed during downtime.
        Compared as instants: Python compares two times of one zone by their wall-clock
        fields, so 02:00 CET (after the fall-back) would count as before 02:30 CEST.
        """
        nxt = self.next_after(start)
        if nxt is None:
            return False
        if nxt.tzinfo is not None and end.tzinfo is not None:
            return nxt.timestamp() <= end.timestamp()
        return nxt <= end


@lru_cache(maxsize=1)
def _zone(tz_env: str | None) -> tzinfo | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if tz_env:
            return ZoneInfo(tz_env.removeprefix(":"))
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError, ZoneInfoNotFoundError):
        return None


def local_time(ts: float) -> datetime:
    """The instant ``ts`` as an aware datetime in the machine's zone (``$TZ``, else
    /etc/localtime), so that schedules follow its DST changes; naive local time where the
    zone cannot be read."""
    zone = _zone(os.environ.get("TZ"))
    return datetime.fromtimestamp(ts, zone) if zone is not None else datetime.fromtimestamp(ts)
