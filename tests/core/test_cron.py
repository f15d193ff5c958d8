"""Tests for sdjobs.core.cron."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta, timezone
from itertools import pairwise

import pytest

from sdjobs.core import cron
from sdjobs.core.cron import ALIASES, CronExpr

MIN = timedelta(minutes=1)


def P(text: str) -> CronExpr:
    return CronExpr.parse(text)


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "attr", "expected"),
    [
        ("* * * * *", "minutes", tuple(range(60))),
        ("* * * * *", "hours", tuple(range(24))),
        ("* * * * *", "days", tuple(range(1, 32))),
        ("* * * * *", "months", tuple(range(1, 13))),
        ("* * * * *", "weekdays", tuple(range(7))),
        ("7 * * * *", "minutes", (7,)),
        ("0 9-17 * * *", "hours", tuple(range(9, 18))),
        ("*/15 * * * *", "minutes", (0, 15, 30, 45)),
        ("1-30/5 * * * *", "minutes", (1, 6, 11, 16, 21, 26)),
        ("1,3,5 * * * *", "minutes", (1, 3, 5)),
        ("5,1,3,3 * * * *", "minutes", (1, 3, 5)),
        ("1,10-12,*/20 * * * *", "minutes", (0, 1, 10, 11, 12, 20, 40)),
        ("0 0 */10 * *", "days", (1, 11, 21, 31)),
        ("0 */7 * * *", "hours", (0, 7, 14, 21)),
        ("0 0 1 */3 *", "months", (1, 4, 7, 10)),
        ("0 0 1 JAN *", "months", (1,)),
        ("0 0 1 jan,Jun,DEC *", "months", (1, 6, 12)),
        ("0 0 1 mar-may *", "months", (3, 4, 5)),
        ("0 0 1 FEB-8/2 *", "months", (2, 4, 6, 8)),
        ("0 0 * * SUN", "weekdays", (0,)),
        ("0 0 * * mon-fri", "weekdays", (1, 2, 3, 4, 5)),
        ("0 0 * * Sat,sun", "weekdays", (0, 6)),
        ("0 0 * * 7", "weekdays", (0,)),
        ("0 0 * * 0,7", "weekdays", (0,)),
        ("0 0 * * 5-7", "weekdays", (0, 5, 6)),
        ("0 0 * * FRI-7", "weekdays", (0, 5, 6)),
        ("0 0 * * */2", "weekdays", (0, 2, 4, 6)),
        ("0 0 * * 1-7/3", "weekdays", (0, 1, 4)),
        ("59 23 31 12 6", "minutes", (59,)),
    ],
)
def test_field_expansion(text: str, attr: str, expected: tuple[int, ...]) -> None:
    assert getattr(P(text), attr) == expected


def test_whitespace_is_flexible_and_str_is_original_text() -> None:
    e = P("  */5\t1-3  *  * *  ")
    assert e.minutes == tuple(range(0, 60, 5))
    assert e.hours == (1, 2, 3)
    assert str(e) == "*/5\t1-3  *  * *"
    assert str(P("0 0 * * mon")) == "0 0 * * mon"
    assert str(P("@Daily")) == "@Daily"


def test_equality_and_hashable() -> None:
    assert P("0 0 * * *") == P("0 0 * * *")
    assert len({P("0 0 * * *"), P("0 0 * * *"), P("0 1 * * *")}) == 2
    assert "0 0 * * *" in repr(P("0 0 * * *"))


@pytest.mark.parametrize(
    ("alias", "expansion"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ],
)
def test_aliases(alias: str, expansion: str) -> None:
    a, b = P(alias), P(expansion)
    fields = ("minutes", "hours", "days", "months", "weekdays", "dom_star", "dow_star")
    assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert P(alias.upper()).months == b.months
    assert str(a) == alias
    assert ALIASES[alias] == expansion


def test_alias_schedules() -> None:
    t = datetime(2024, 5, 15, 10, 30)
    assert P("@hourly").next_after(t) == datetime(2024, 5, 15, 11, 0)
    assert P("@daily").next_after(t) == datetime(2024, 5, 16, 0, 0)
    assert P("@midnight").next_after(t) == datetime(2024, 5, 16, 0, 0)
    assert P("@weekly").next_after(t) == datetime(2024, 5, 19, 0, 0)  # Sunday
    assert P("@monthly").next_after(t) == datetime(2024, 6, 1, 0, 0)
    assert P("@yearly").next_after(t) == datetime(2025, 1, 1, 0, 0)
    assert P("@annually").next_after(t) == datetime(2025, 1, 1, 0, 0)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("60 * * * *", "minute", "60"),
        ("* 24 * * *", "hour", "24"),
        ("* * 0 * *", "day-of-month", "0"),
        ("* * 32 * *", "day-of-month", "32"),
        ("* * * 0 *", "month", "0"),
        ("* * * 13 *", "month", "13"),
        ("* * * * 8", "day-of-week", "8"),
        ("* * * FOO *", "month", "FOO"),
        ("* * * * FUNDAY", "day-of-week", "FUNDAY"),
        ("* * * MON *", "month", "MON"),  # weekday name in the month field
        ("* * * * JAN", "day-of-week", "JAN"),  # month name in the weekday field
        ("* * MON * *", "day-of-month", "MON"),
        ("*/0 * * * *", "minute", "*/0"),
        ("*/x * * * *", "minute", "*/x"),
        ("*/-1 * * * *", "minute", "*/-1"),
        ("*/ * * * *", "minute", "*/"),
        ("5-1 * * * *", "minute", "5-1"),
        ("* * * * FRI-MON", "day-of-week", "FRI-MON"),
        ("1- * * * *", "minute", "1-"),
        ("-1 * * * *", "minute", "-1"),
        ("1,,2 * * * *", "minute", "1,,2"),
        ("1, * * * *", "minute", "1,"),
        ("5/10 * * * *", "minute", "5/10"),
        ("1-2-3 * * * *", "minute", "1-2-3"),
        ("a * * * *", "minute", "a"),
        ("* x * * *", "hour", "x"),
        ("1.5 * * * *", "minute", "1.5"),
        ("\u0661 * * * *", "minute", "\u0661"),  # non-ASCII digit
    ],
)
def test_invalid_field_message_names_field_and_value(text: str, field: str, value: str) -> None:
    with pytest.raises(ValueError) as info:
        P(text)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("invalid cron expression")
    assert f"{field} field" in msg
    assert repr(value) in msg


@pytest.mark.parametrize(
    ("text", "snippet"),
    [
        ("", "expected 5 fields, got 0"),
        ("   ", "expected 5 fields, got 0"),
        ("* * * *", "expected 5 fields, got 4"),
        ("* * * * * *", "expected 5 fields, got 6"),
        ("@reboot", "unknown alias '@reboot'"),
        ("@every 5m", "unknown alias '@every 5m'"),
        ("@", "unknown alias '@'"),
    ],
)
def test_invalid_shape(text: str, snippet: str) -> None:
    with pytest.raises(ValueError, match="invalid cron expression") as info:
        P(text)
    assert snippet in str(info.value)


def test_out_of_range_message_states_bounds() -> None:
    with pytest.raises(ValueError, match=r"day-of-month field '32': 32 is out of range 1-31"):
        P("0 0 32 * *")


# --------------------------------------------------------------------------- matches


def test_matches_basic_and_ignores_seconds() -> None:
    e = P("30 9 * * *")
    assert e.matches(datetime(2024, 1, 1, 9, 30))
    assert e.matches(datetime(2024, 1, 1, 9, 30, 59, 999999))
    assert not e.matches(datetime(2024, 1, 1, 9, 31))
    assert not e.matches(datetime(2024, 1, 1, 10, 30))


def test_matches_weekday_names_and_sunday_aliases() -> None:
    sunday = datetime(2024, 6, 2, 0, 0)
    monday = datetime(2024, 6, 3, 0, 0)
    saturday = datetime(2024, 6, 1, 0, 0)
    for text in ("0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * sun"):
        assert P(text).matches(sunday) and not P(text).matches(monday)
    workdays = P("0 0 * * MON-FRI")
    assert workdays.matches(monday)
    assert not workdays.matches(saturday) and not workdays.matches(sunday)


def test_dom_dow_or_rule_when_both_restricted() -> None:
    e = P("0 0 13 * FRI")
    assert e.matches(datetime(2024, 9, 13))  # Friday the 13th
    assert e.matches(datetime(2024, 9, 6))  # a Friday, not the 13th
    assert e.matches(datetime(2024, 8, 13))  # the 13th, a Tuesday
    assert not e.matches(datetime(2024, 9, 12))  # neither
    assert e.next_after(datetime(2024, 8, 1)) == datetime(2024, 8, 2)  # first Friday
    assert e.next_after(datetime(2024, 8, 10)) == datetime(2024, 8, 13)  # the 13th (Tue)


def test_dom_dow_and_rule_when_one_is_star() -> None:
    dom_only = P("0 0 13 * *")
    assert dom_only.matches(datetime(2024, 8, 13))
    assert not dom_only.matches(datetime(2024, 9, 6))
    dow_only = P("0 0 * * FRI")
    assert dow_only.matches(datetime(2024, 9, 6))
    assert not dow_only.matches(datetime(2024, 8, 13))


def test_vixie_star_step_counts_as_unrestricted() -> None:
    # Vixie treats a field starting with '*' as "star", so '*/2' AND FRI.
    e = P("0 0 */2 * FRI")
    assert e.dom_star and not e.dow_star
    assert e.matches(datetime(2024, 9, 13))  # odd day and Friday
    assert not e.matches(datetime(2024, 9, 6))  # Friday but even day
    assert not e.matches(datetime(2024, 9, 20))  # Friday but even day
    assert not e.matches(datetime(2024, 9, 11))  # odd day but Wednesday
    # whereas an explicit range is restricted -> OR rule
    f = P("0 0 1-31/2 * FRI")
    assert not f.dom_star and f.matches(datetime(2024, 9, 20)) and f.matches(datetime(2024, 9, 11))


def test_alias_weekly_is_dom_star() -> None:
    assert P("@weekly").dom_star and not P("@weekly").dow_star


# --------------------------------------------------------------------------- next_after


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        # strictly after, minute resolution
        ("* * * * *", datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 1, 10, 1)),
        ("* * * * *", datetime(2024, 1, 1, 10, 0, 30), datetime(2024, 1, 1, 10, 1)),
        ("0 10 * * *", datetime(2024, 1, 1, 10, 0), datetime(2024, 1, 2, 10, 0)),
        ("0 10 * * *", datetime(2024, 1, 1, 9, 59, 59), datetime(2024, 1, 1, 10, 0)),
        ("*/15 * * * *", datetime(2024, 1, 1, 10, 7), datetime(2024, 1, 1, 10, 15)),
        ("*/15 * * * *", datetime(2024, 1, 1, 10, 45), datetime(2024, 1, 1, 11, 0)),
        ("1-30/5 * * * *", datetime(2024, 1, 1, 10, 27), datetime(2024, 1, 1, 11, 1)),
        ("*/15 9-17 * * MON-FRI", datetime(2024, 6, 7, 17, 45), datetime(2024, 6, 10, 9, 0)),
        ("5 4 * * SUN", datetime(2024, 6, 3), datetime(2024, 6, 9, 4, 5)),
        # month ends
        ("0 0 31 * *", datetime(2024, 4, 1), datetime(2024, 5, 31)),
        ("0 0 31 * *", datetime(2024, 5, 31), datetime(2024, 7, 31)),
        ("0 0 30 * *", datetime(2023, 1, 30), datetime(2023, 3, 30)),
        ("0 12 28-31 * *", datetime(2023, 2, 28, 12), datetime(2023, 3, 28, 12)),
        ("0 0 31 APR-JUN *", datetime(2024, 1, 1), datetime(2024, 5, 31)),
        # leap years
        ("0 0 29 2 *", datetime(2023, 3, 1), datetime(2024, 2, 29)),
        ("0 0 29 2 *", datetime(2024, 2, 29), datetime(2028, 2, 29)),
        ("0 0 29 2 *", datetime(2096, 3, 1), datetime(2104, 2, 29)),  # 2100 not leap
        ("0 0 29 FEB *", datetime(1999, 1, 1), datetime(2000, 2, 29)),  # 2000 is leap
        ("0 0 * 2 *", datetime(2024, 2, 28, 23, 59), datetime(2024, 2, 29)),
        ("0 0 * 2 *", datetime(2023, 2, 28, 23, 59), datetime(2024, 2, 1)),
        # year boundaries
        ("0 0 1 1 *", datetime(2023, 12, 31, 23, 59), datetime(2024, 1, 1)),
        ("59 23 31 12 *", datetime(2023, 12, 31, 23, 59), datetime(2024, 12, 31, 23, 59)),
        ("*/15 * * * *", datetime(2023, 12, 31, 23, 50), datetime(2024, 1, 1, 0, 0)),
        ("0 0 * JAN MON", datetime(2023, 12, 1), datetime(2024, 1, 1)),  # OR rule
        ("0 9 1 JAN *", datetime(2024, 1, 1, 9, 0), datetime(2025, 1, 1, 9, 0)),
        ("0 0 * 11,2 *", datetime(2023, 12, 31, 12), datetime(2024, 2, 1)),
    ],
)
def test_next_after(text: str, start: datetime, expected: datetime) -> None:
    assert P(text).next_after(start) == expected


def test_next_after_result_always_matches_and_is_strictly_later() -> None:
    e = P("7,37 */3 1,15 * WED")
    t = datetime(2024, 1, 1)
    for _ in range(200):
        n = e.next_after(t)
        assert n is not None and n > t and e.matches(n)
        t = n


def test_next_after_preserves_tzinfo() -> None:
    tz = timezone(timedelta(hours=2))
    n = P("0 0 * * *").next_after(datetime(2024, 1, 1, 12, 0, tzinfo=tz))
    assert n == datetime(2024, 1, 2, 0, 0, tzinfo=tz)
    assert n is not None and n.tzinfo is tz


@pytest.mark.parametrize("text", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB */2"])
def test_impossible_expressions_give_none_quickly(text: str) -> None:
    e = P(text)
    t0 = time.perf_counter()
    assert e.next_after(datetime(2024, 1, 1)) is None
    assert e.last_at_or_before(datetime(2024, 1, 1)) is None
    assert e.missed_between(datetime(2000, 1, 1), datetime(2100, 1, 1)) is False
    assert time.perf_counter() - t0 < 1.0


def test_rare_but_possible_expression_is_found() -> None:
    # Feb 29 that is also a Sunday ('*/7' is star-prefixed -> AND rule): 28+ year gaps.
    e = P("0 0 29 2 */7")
    n = e.next_after(datetime(2024, 3, 1))
    assert n == datetime(2032, 2, 29)
    assert e.next_after(n) == datetime(2060, 2, 29)
    assert e.last_at_or_before(datetime(2032, 2, 28)) == datetime(2004, 2, 29)


def test_next_after_near_datetime_max() -> None:
    assert P("* * * * *").next_after(datetime.max) is None
    assert P("0 0 1 1 *").next_after(datetime(9999, 6, 1)) is None
    assert P("59 23 31 12 *").next_after(datetime(9999, 12, 31, 23, 58)) == datetime(
        9999, 12, 31, 23, 59
    )


# --------------------------------------------------------------------------- last_at_or_before


@pytest.mark.parametrize(
    ("text", "at", "expected"),
    [
        ("0 10 * * *", datetime(2024, 1, 2, 10, 0), datetime(2024, 1, 2, 10, 0)),  # inclusive
        ("0 10 * * *", datetime(2024, 1, 2, 10, 0, 45), datetime(2024, 1, 2, 10, 0)),
        ("0 10 * * *", datetime(2024, 1, 2, 9, 59), datetime(2024, 1, 1, 10, 0)),
        ("*/15 * * * *", datetime(2024, 1, 1, 0, 14), datetime(2024, 1, 1, 0, 0)),
        ("*/15 * * * *", datetime(2024, 1, 1, 0, 0), datetime(2024, 1, 1, 0, 0)),
        ("45 * * * *", datetime(2024, 1, 1, 0, 30), datetime(2023, 12, 31, 23, 45)),
        ("0 0 1 1 *", datetime(2024, 1, 1, 0, 0), datetime(2024, 1, 1)),
        ("0 0 1 1 *", datetime(2023, 12, 31, 23, 59), datetime(2023, 1, 1)),
        ("0 0 31 * *", datetime(2024, 5, 30), datetime(2024, 3, 31)),
        ("0 0 29 2 *", datetime(2024, 2, 28), datetime(2020, 2, 29)),
        ("0 0 29 2 *", datetime(2104, 2, 28), datetime(2096, 2, 29)),
        ("0 0 * * MON-FRI", datetime(2024, 6, 9, 12), datetime(2024, 6, 7)),  # Sun -> Fri
        ("0 0 13 * FRI", datetime(2024, 9, 12), datetime(2024, 9, 6)),
        ("30 8 * * *", datetime(2024, 3, 1, 8, 29), datetime(2024, 2, 29, 8, 30)),
    ],
)
def test_last_at_or_before(text: str, at: datetime, expected: datetime) -> None:
    assert P(text).last_at_or_before(at) == expected


def test_last_at_or_before_near_datetime_min() -> None:
    assert P("0 0 1 1 *").last_at_or_before(datetime(1, 1, 1, 0, 0)) == datetime(1, 1, 1)
    assert P("0 0 2 1 *").last_at_or_before(datetime(1, 1, 1, 12, 0)) is None


# --------------------------------------------------------------------------- missed_between


def test_missed_between_downtime() -> None:
    e = P("0 3 * * *")
    # shut down at 01:00, back at 02:00: nothing missed
    assert not e.missed_between(datetime(2024, 1, 1, 1), datetime(2024, 1, 1, 2))
    # shut down before 03:00, back after: missed
    assert e.missed_between(datetime(2024, 1, 1, 2), datetime(2024, 1, 1, 4))
    # down for a week: still just True (caller runs once)
    assert e.missed_between(datetime(2024, 1, 1), datetime(2024, 1, 8))


def test_missed_between_boundaries() -> None:
    e = P("0 3 * * *")
    fire = datetime(2024, 1, 1, 3, 0)
    assert e.missed_between(fire - MIN, fire)  # end is inclusive
    assert not e.missed_between(fire, fire + timedelta(hours=1))  # start is exclusive
    assert not e.missed_between(fire, fire)
    assert not e.missed_between(fire + MIN, fire - MIN)  # empty/inverted window


# --------------------------------------------------------------------------- cross-checks


def _brute_next(e: CronExpr, t: datetime, limit: int) -> datetime | None:
    t = t.replace(second=0, microsecond=0) + MIN
    for _ in range(limit):
        if e.matches(t):
            return t
        t += MIN
    return None


def _brute_prev(e: CronExpr, t: datetime, limit: int) -> datetime | None:
    t = t.replace(second=0, microsecond=0)
    for _ in range(limit):
        if e.matches(t):
            return t
        t -= MIN
    return None


DENSE = [
    "* * * * *",
    "*/7 * * * *",
    "13 * * * *",
    "0,30 9-17 * * MON-FRI",
    "15 */6 * * *",
    "59 23 * * *",
    "0 0 * * SAT,SUN",
    "5 4 1,15 * *",
    "5 4 13 * FRI",
    "0 12 */2 * MON",
    "0 0 28-31 * *",
    "1-10/3 1,22 * * 0",
    "0 0 * * 7",
]


@pytest.mark.parametrize("text", DENSE)
def test_agrees_with_brute_force(text: str) -> None:
    e = P(text)
    rng = random.Random(text)
    limit = 40 * 24 * 60
    for _ in range(15):
        start = datetime(2023, 1, 1) + timedelta(minutes=rng.randrange(3 * 366 * 24 * 60),
                                                 seconds=rng.randrange(60))
        assert e.next_after(start) == _brute_next(e, start, limit), start
        assert e.last_at_or_before(start) == _brute_prev(e, start, limit), start


def test_matches_agrees_with_independent_reference() -> None:
    # Reference implemented directly from the definition, compared over a leap year.
    e = P("0 0 1-7 * SUN")  # Vixie OR: 1st-7th of each month, plus every Sunday
    day = datetime(2024, 1, 1)
    while day.year == 2024:
        expected = day.day <= 7 or day.weekday() == 6
        assert e.matches(day) == expected, day
        day += timedelta(days=1)


def test_next_and_last_are_consistent() -> None:
    e = P("*/20 6,18 1,10,20 * TUE")
    t = datetime(2024, 2, 20, 18, 5)
    n = e.next_after(t)
    assert n is not None
    assert e.last_at_or_before(n) == n
    prev = e.last_at_or_before(n - MIN)
    assert prev is not None and prev <= t
    assert cron.SEARCH_YEARS >= 40  # the rarest possible expression (29 Feb on a Sunday) recurs within 40


# --------------------------------------------------------------------------- daylight saving time

BERLIN = "Europe/Berlin"


def _berlin(*args: int, fold: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(*args, tzinfo=ZoneInfo(BERLIN), fold=fold)  # type: ignore[misc]


def _real(dt: datetime) -> datetime:
    """Whether an aware time exists: it survives a round trip through UTC."""
    return dt.astimezone(UTC).astimezone(dt.tzinfo)


def test_a_time_in_the_spring_forward_gap_fires_right_after_it() -> None:
    # 2024-03-31 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    e = P("30 2 * * *")
    n = e.next_after(_berlin(2024, 3, 30, 12, 0))
    assert n == _berlin(2024, 3, 31, 3, 0) and _real(n) == n
    assert n.utcoffset() == timedelta(hours=2)
    assert e.next_after(n) == _berlin(2024, 4, 1, 2, 30)
    assert e.last_at_or_before(_berlin(2024, 3, 31, 12, 0)) == _berlin(2024, 3, 31, 3, 0)


def test_a_repeated_time_on_the_fall_back_day_fires_once() -> None:
    # 2024-10-27 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    e = P("30 2 * * *")
    first = e.next_after(_berlin(2024, 10, 26, 12, 0))
    assert first == _berlin(2024, 10, 27, 2, 30) and first.utcoffset() == timedelta(hours=2)
    again = e.next_after(first)
    assert again is not None and again.date() == date(2024, 10, 28)
    assert again.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=25)


def test_hourly_follows_real_time_across_both_changes() -> None:
    e = P("0 * * * *")
    for day in ((2024, 3, 31), (2024, 10, 27)):
        t = _berlin(*day, 0, 30)
        seen = []
        for _ in range(5):
            n = e.next_after(t)
            assert n is not None and _real(n) == n and n.timestamp() > t.timestamp()
            seen.append(n.astimezone(UTC))
            t = n
        gaps = {b - a for a, b in pairwise(seen)}
        assert gaps <= {timedelta(hours=1), timedelta(hours=2)}, (day, seen)


def test_the_scheduler_clock_is_aware_in_the_machine_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", BERLIN)
    summer = cron.local_time(_berlin(2024, 7, 1, 12, 0).timestamp())
    winter = cron.local_time(_berlin(2024, 1, 1, 12, 0).timestamp())
    assert (summer.hour, summer.utcoffset()) == (12, timedelta(hours=2))
    assert (winter.hour, winter.utcoffset()) == (12, timedelta(hours=1))
    # the repeated hour: 02:30 CEST has run; at 02:10 CET (later, though its clock reads earlier) nothing is due
    e = P("30 2 * * *")
    ran = _berlin(2024, 10, 27, 2, 30)
    assert not e.missed_between(ran, _berlin(2024, 10, 27, 2, 10, fold=1))
    assert P("0 * * * *").missed_between(ran, _berlin(2024, 10, 27, 2, 10, fold=1))  # 02:00 CET came after
    nxt = e.next_after(cron.local_time(_berlin(2024, 3, 30, 12, 0).timestamp()))
    assert nxt is not None and nxt.timestamp() == _berlin(2024, 3, 31, 3, 0).timestamp()
