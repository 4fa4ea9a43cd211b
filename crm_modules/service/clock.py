"""Business-time arithmetic for SLA targets: pure functions, no database (ADR 0026).

A ``Schedule`` is a weekly set of opening intervals in wall-clock minutes of one IANA time zone,
plus the dates the business is closed. Business time is the real time elapsed inside the
openings: an opening from 01:00 to 04:00 on the night clocks go back lasts four hours, on the
night they go forward two. A wall-clock boundary that does not exist (inside a spring-forward
gap) is the first instant after the gap; one that exists twice is its first occurrence.

Every computation is on whole seconds of aware datetimes, so no rounding ever loses a minute.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

UTC = datetime.UTC
DAY_MINUTES = 24 * 60
# A schedule is open at least once a week (``check_hours``) and holidays are finite, so a
# target of years is found within this many days; beyond it the schedule is broken.
SEARCH_DAYS = 3 * 366 + 14


@dataclass(frozen=True)
class Schedule:
    zone: ZoneInfo
    # weekday (Monday 0) → sorted, non-overlapping (start, end) in minutes from midnight,
    # 0 <= start < end <= 1440 (1440: the next midnight).
    week: dict[int, tuple[tuple[int, int], ...]]
    holidays: frozenset[datetime.date] = field(default_factory=frozenset)


def always(zone: str = "UTC") -> Schedule:
    """Open around the clock, every day."""
    return Schedule(zone=ZoneInfo(zone), week=dict.fromkeys(range(7), ((0, DAY_MINUTES),)))


def check_hours(week: dict[int, list[tuple[int, int]]]) -> dict[int, tuple[tuple[int, int], ...]]:
    """Sorted, validated openings; raises ValueError naming the problem."""
    cleaned: dict[int, tuple[tuple[int, int], ...]] = {}
    for day, spans in week.items():
        if day not in range(7):
            raise ValueError(f"weekday {day} is not 0-6")
        ordered = sorted(spans)
        for start, end in ordered:
            if not 0 <= start < end <= DAY_MINUTES:
                raise ValueError(f"opening {start}-{end} is not within one day")
        for (_, end), (start, _) in itertools.pairwise(ordered):
            if start < end:
                raise ValueError("openings overlap")
        if ordered:
            cleaned[day] = tuple(ordered)
    if not cleaned:
        raise ValueError("the schedule is never open")
    return cleaned


def wall_instant(day: datetime.date, minute: int, zone: ZoneInfo) -> datetime.datetime:
    """The UTC instant of a wall-clock minute of ``day`` in ``zone`` (1440: next midnight)."""
    if minute == DAY_MINUTES:
        day, minute = day + datetime.timedelta(days=1), 0
    local = datetime.datetime.combine(day, datetime.time(minute // 60, minute % 60), tzinfo=zone)
    first = local.astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return first  # exists (for an ambiguous time, fold=0 is the first occurrence)
    # In a gap: the offset before the gap (fold=1 here) places the wall time before the
    # transition, the offset after it (fold=0) after; the transition lies between.
    low = local.replace(fold=1).astimezone(UTC)
    high = first
    after = high.astimezone(zone).utcoffset()
    while (high - low).total_seconds() > 1:
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(zone).utcoffset() == after:
            high = middle
        else:
            low = middle
    return high


def _openings(
    schedule: Schedule, since: datetime.datetime
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    """The schedule's openings as UTC instants, in order from the day of ``since`` on,
    holidays left out."""
    step = datetime.timedelta(days=1)
    # Start a day early so an opening that began before ``since`` is not missed.
    day = since.astimezone(schedule.zone).date() - step
    for _ in range(SEARCH_DAYS):
        if day not in schedule.holidays:
            for start, end in schedule.week.get(day.weekday(), ()):
                begin = wall_instant(day, start, schedule.zone)
                finish = wall_instant(day, end, schedule.zone)
                if finish > begin:
                    yield begin, finish
        day += step
    raise ValueError("the target cannot be reached within three years of this schedule")


def _seconds(delta: datetime.timedelta) -> int:
    return delta.days * 86400 + delta.seconds


def add_business_seconds(
    start: datetime.datetime, seconds: int, schedule: Schedule
) -> datetime.datetime:
    """The instant at which ``seconds`` of business time have passed since ``start``."""
    if start.tzinfo is None:
        raise ValueError("start must be aware")
    if seconds < 0:
        raise ValueError("seconds must not be negative")
    start = start.astimezone(UTC).replace(microsecond=0)
    left = seconds
    for begin, finish in _openings(schedule, start):
        if finish <= start:
            continue
        begin = max(begin, start)
        available = _seconds(finish - begin)
        if left <= available:
            if left == 0:
                return begin
            return begin + datetime.timedelta(seconds=left)
        left -= available
    raise AssertionError("unreachable")  # _openings raises first


def business_seconds_between(
    start: datetime.datetime, end: datetime.datetime, schedule: Schedule
) -> int:
    """Business time from ``start`` to ``end`` (0 if ``end`` is not after ``start``)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("instants must be aware")
    start = start.astimezone(UTC).replace(microsecond=0)
    end = end.astimezone(UTC).replace(microsecond=0)
    if end <= start:
        return 0
    total = 0
    for begin, finish in _openings(schedule, start):
        if begin >= end:
            return total
        if finish <= start:
            continue
        total += _seconds(min(finish, end) - max(begin, start))
    raise AssertionError("unreachable")


def is_open(at: datetime.datetime, schedule: Schedule) -> bool:
    """Whether ``at`` lies inside an opening."""
    at = at.astimezone(UTC)
    for begin, finish in _openings(schedule, at):
        if begin > at:
            return False
        if begin <= at < finish:
            return True
    raise AssertionError("unreachable")


def next_open(at: datetime.datetime, schedule: Schedule) -> datetime.datetime:
    """``at`` itself if the business is open then, else the start of the next opening."""
    if at.tzinfo is None:
        raise ValueError("at must be aware")
    return add_business_seconds(at, 0, schedule)
