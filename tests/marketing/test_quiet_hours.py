"""Quiet hours in the recipient's local time: the next allowed moment is the first instant whose
local wall time is outside the window, also across daylight-saving changes (properties over
zones with DST, and the named nights the clocks change)."""

from __future__ import annotations

import datetime
import zoneinfo

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_modules.marketing.quiet_hours import is_quiet, quiet_until, zone

UTC = datetime.UTC
ZONES = [
    "Europe/Rome",
    "America/New_York",
    "Australia/Lord_Howe",  # a half-hour change
    "America/Santiago",
    "Asia/Bangkok",  # no DST
    "Pacific/Chatham",
    "Europe/Moscow",
]
Z = zoneinfo.ZoneInfo


def _t(hour: int, minute: int = 0) -> datetime.time:
    return datetime.time(hour, minute)


def _wall(instant: datetime.datetime, tz: zoneinfo.ZoneInfo) -> datetime.time:
    return instant.astimezone(tz).time()


minutes = st.integers(min_value=0, max_value=24 * 60 - 1).map(
    lambda m: datetime.time(m // 60, m % 60)
)
instants = st.datetimes(
    min_value=datetime.datetime(2024, 1, 1),  # noqa: DTZ001
    max_value=datetime.datetime(2027, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=400, deadline=None)
@given(at=instants, name=st.sampled_from(ZONES), start=minutes, end=minutes)
def test_the_answer_is_the_first_moment_outside_quiet_hours(
    at: datetime.datetime, name: str, start: datetime.time, end: datetime.time
) -> None:
    tz = Z(name)
    allowed_at = quiet_until(at, tz, start, end)
    if allowed_at is None:
        assert not is_quiet(_wall(at, tz), start, end)
        return
    assert is_quiet(_wall(at, tz), start, end)
    assert allowed_at > at
    assert allowed_at - at <= datetime.timedelta(hours=26)
    assert not is_quiet(_wall(allowed_at, tz), start, end)
    # Nothing earlier is allowed: every second before it, back to ``at``, is quiet.
    span = (allowed_at - at).total_seconds()
    for step in range(41):
        probe = at + datetime.timedelta(seconds=span * step / 41)
        assert is_quiet(_wall(probe, tz), start, end), probe
    just_before = allowed_at - datetime.timedelta(seconds=1)
    if just_before > at:
        assert is_quiet(_wall(just_before, tz), start, end)


def test_the_night_is_quiet_until_eight_local_time_in_rome() -> None:
    at = datetime.datetime(2026, 6, 10, 20, 30, tzinfo=UTC)  # 22:30 in Rome (UTC+2)
    assert quiet_until(at, Z("Europe/Rome"), _t(21), _t(8)) == datetime.datetime(
        2026, 6, 11, 6, 0, tzinfo=UTC
    )
    day = datetime.datetime(2026, 6, 10, 10, 0, tzinfo=UTC)
    assert quiet_until(day, Z("Europe/Rome"), _t(21), _t(8)) is None


def test_spring_forward_over_the_end_of_quiet_hours_allows_at_the_change() -> None:
    # New York, 2026-03-08: 01:59:59 EST is followed by 03:00 EDT; 02:30 never happens.
    at = datetime.datetime(2026, 3, 8, 6, 30, tzinfo=UTC)  # 01:30 EST
    allowed = quiet_until(at, Z("America/New_York"), _t(22), _t(2, 30))
    assert allowed == datetime.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert _wall(allowed, Z("America/New_York")) == _t(3)


def test_fall_back_twice_through_the_end_of_quiet_hours() -> None:
    rome = Z("Europe/Rome")
    # 2026-10-25: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    first_pass = datetime.datetime(2026, 10, 25, 0, 10, tzinfo=UTC)  # 02:10 CEST
    assert quiet_until(first_pass, rome, _t(1), _t(2, 30)) == datetime.datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    # The clock goes back out of a window that ends at 03:00 would not matter; a window of
    # 02:45 to 05:00 is left when 02:59:59 CEST becomes 02:00 CET.
    inside = datetime.datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 02:50 CEST
    assert quiet_until(inside, rome, _t(2, 45), _t(5)) == datetime.datetime(
        2026, 10, 25, 1, 0, tzinfo=UTC
    )


def test_equal_start_and_end_turn_quiet_hours_off() -> None:
    at = datetime.datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    assert quiet_until(at, Z("UTC"), _t(8), _t(8)) is None


def test_an_unknown_zone_falls_back_to_the_workspace_zone() -> None:
    assert zone("Mars/Olympus", "Asia/Bangkok").key == "Asia/Bangkok"
    assert zone("", "").key == "UTC"
