"""Quiet hours in the recipient's local time, correct across daylight-saving changes.

The window is a wall-clock range ``[start, end)`` that may wrap midnight (21:00 to 08:00). The
next allowed moment is the first instant whose local wall time is outside the window. The
wall clock normally leaves the window by reaching ``end``; around a daylight-saving change it
can also jump over ``end`` (spring forward) or back out of the window (fall back), and an
``end`` of 01:30 can happen twice on the night the clocks go back. So the answer is the
earliest of: every real occurrence of ``end`` after ``at``, and the change of offset between
``at`` and that occurrence when the wall time right after it is outside the window.
"""

from __future__ import annotations

import datetime
import zoneinfo

UTC = datetime.UTC


def zone(name: str, fallback: str = "UTC") -> zoneinfo.ZoneInfo:
    for candidate in (name, fallback, "UTC"):
        if not candidate:
            continue
        try:
            return zoneinfo.ZoneInfo(candidate)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def is_quiet(wall: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    wall = wall.replace(tzinfo=None, fold=0)
    if start == end:
        return False
    if start < end:
        return start <= wall < end
    return wall >= start or wall < end


def quiet_until(
    at: datetime.datetime, tz: zoneinfo.ZoneInfo, start: datetime.time, end: datetime.time
) -> datetime.datetime | None:
    """None when ``at`` is outside quiet hours in ``tz``; otherwise the first later instant
    (UTC) that is not."""
    if start == end or not is_quiet(at.astimezone(tz).time(), start, end):
        return None
    local_day = at.astimezone(tz).date()
    occurrences: list[datetime.datetime] = []
    for days in range(3):
        wall = datetime.datetime.combine(local_day + datetime.timedelta(days=days), end)
        for fold in (0, 1):
            instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
            # A wall time inside a spring-forward gap does not happen: skip it.
            if instant.astimezone(tz).replace(tzinfo=None) != wall:
                continue
            if instant > at:
                occurrences.append(instant)
    best = min(occurrences)
    change = _offset_change(at, best, tz)
    if change is not None and not is_quiet(change.astimezone(tz).time(), start, end):
        best = min(best, change)
    return best


def _offset_change(
    after: datetime.datetime, until: datetime.datetime, tz: zoneinfo.ZoneInfo
) -> datetime.datetime | None:
    """The instant in (after, until] the UTC offset of ``tz`` changes, if it does (at most once
    within the two days this is asked about)."""
    before = after.astimezone(tz).utcoffset()
    if until.astimezone(tz).utcoffset() == before:
        return None
    low = int(after.timestamp())
    high = int(until.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.datetime.fromtimestamp(middle, tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.datetime.fromtimestamp(high, UTC)
