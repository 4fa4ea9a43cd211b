"""Business-time arithmetic: properties over any instant, schedule, zone and holiday set, and
explicit days on which the clocks change (Europe/Rome both ways, Europe/Moscow's last change,
Asia/Bangkok, which never changes). Zero seconds of error everywhere."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_modules.service import clock
from crm_modules.service.clock import Schedule

UTC = datetime.UTC
ROME = ZoneInfo("Europe/Rome")
MOSCOW = ZoneInfo("Europe/Moscow")
BANGKOK = ZoneInfo("Asia/Bangkok")
ZONES = ["Europe/Rome", "Europe/Moscow", "Asia/Bangkok", "America/New_York", "UTC"]
HOUR = 3600


def office(zone: ZoneInfo, *, holidays: frozenset[datetime.date] = frozenset()) -> Schedule:
    """Monday to Friday, 09:00-17:00."""
    return Schedule(zone=zone, week=dict.fromkeys(range(5), ((540, 1020),)), holidays=holidays)


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, *, fold: int = 0
) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=zone, fold=fold)


# --- properties -------------------------------------------------------------------------------

# Openings on a few days of the week, at any minute boundaries (the night shift 22:00-24:00
# and 00:00-06:00 included), at least an hour a week; holidays around the generated instants.
spans = st.lists(
    st.tuples(st.integers(0, 1380), st.integers(60, 1440)).filter(lambda s: s[0] + 60 <= s[1]),
    min_size=1,
    max_size=3,
)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    days = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    week: dict[int, list[tuple[int, int]]] = {}
    for day in days:
        chosen = sorted(draw(spans))
        merged: list[tuple[int, int]] = []
        for start, end in chosen:
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        week[day] = merged
    holidays = draw(
        st.frozensets(st.dates(datetime.date(2026, 1, 1), datetime.date(2027, 3, 31)), max_size=8)
    )
    return Schedule(zone=zone, week=clock.check_hours(week), holidays=holidays)


# Instants around the DST changes of 2026 and ordinary days, at whole seconds.
instants = st.datetimes(
    min_value=datetime.datetime(2026, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=datetime.datetime(2027, 1, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
).map(lambda d: d.replace(microsecond=0))
# Up to 100 business hours: two years of the sparsest generated schedule.
seconds = st.integers(min_value=0, max_value=100 * HOUR)


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), start=instants, amount=seconds)
def test_adding_business_time_then_measuring_it_gives_it_back(
    schedule: Schedule, start: datetime.datetime, amount: int
) -> None:
    due = clock.add_business_seconds(start, amount, schedule)
    assert due >= start
    assert clock.business_seconds_between(start, due, schedule) == amount


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), start=instants, amount=st.integers(1, 100 * HOUR))
def test_a_due_time_falls_inside_business_hours(
    schedule: Schedule, start: datetime.datetime, amount: int
) -> None:
    due = clock.add_business_seconds(start, amount, schedule)
    # The last second counted was business time.
    assert clock.is_open(due - datetime.timedelta(seconds=1), schedule)


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), a=instants, b=instants, c=instants)
def test_business_time_adds_up_over_consecutive_periods(
    schedule: Schedule, a: datetime.datetime, b: datetime.datetime, c: datetime.datetime
) -> None:
    first, middle, last = sorted([a, b, c])
    whole = clock.business_seconds_between(first, last, schedule)
    parts = clock.business_seconds_between(first, middle, schedule)
    parts += clock.business_seconds_between(middle, last, schedule)
    assert whole == parts


@settings(max_examples=150, deadline=None)
@given(schedule=schedules(), start=instants, a=seconds, b=seconds)
def test_adding_in_two_steps_equals_adding_at_once(
    schedule: Schedule, start: datetime.datetime, a: int, b: int
) -> None:
    """What a pause relies on: continuing from where the clock stopped loses nothing."""
    once = clock.add_business_seconds(start, a + b, schedule)
    step = clock.add_business_seconds(start, a, schedule)
    # Continuing from a point inside business hours (or its closing edge) is the same clock.
    assert clock.add_business_seconds(step, b, schedule) == once


@settings(max_examples=150, deadline=None)
@given(zone=st.sampled_from(ZONES), start=instants, amount=seconds)
def test_around_the_clock_business_time_is_real_time(
    zone: str, start: datetime.datetime, amount: int
) -> None:
    amount *= 10
    schedule = clock.always(zone)
    assert clock.add_business_seconds(start, amount, schedule) == start + datetime.timedelta(
        seconds=amount
    )


@settings(max_examples=100, deadline=None)
@given(schedule=schedules(), start=instants, amount=st.integers(1, 100 * HOUR))
def test_a_holiday_is_never_counted(
    schedule: Schedule, start: datetime.datetime, amount: int
) -> None:
    due = clock.add_business_seconds(start, amount, schedule)
    day = start.astimezone(schedule.zone).date()
    while day <= due.astimezone(schedule.zone).date():
        if day in schedule.holidays:
            begin = clock.wall_instant(day, 0, schedule.zone)
            end = clock.wall_instant(day, 1440, schedule.zone)
            assert clock.business_seconds_between(begin, end, schedule) == 0
        day += datetime.timedelta(days=1)


# --- explicit clock changes --------------------------------------------------------------------


def test_rome_spring_forward_an_hour_around_the_clock_ends_two_wall_hours_later() -> None:
    # 29 March 2026: 02:00 CET becomes 03:00 CEST.
    start = local(ROME, 2026, 3, 29, 1, 30)
    due = clock.add_business_seconds(start, HOUR, clock.always("Europe/Rome"))
    assert due.astimezone(ROME).strftime("%Y-%m-%d %H:%M %Z") == "2026-03-29 03:30 CEST"
    assert due == datetime.datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_rome_fall_back_an_hour_around_the_clock_ends_at_the_same_wall_time() -> None:
    # 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    start = local(ROME, 2026, 10, 25, 2, 30)  # the first 02:30 (CEST)
    due = clock.add_business_seconds(start, HOUR, clock.always("Europe/Rome"))
    assert due == local(ROME, 2026, 10, 25, 2, 30, fold=1).astimezone(UTC)
    assert due - start.astimezone(UTC) == datetime.timedelta(hours=1)


def test_rome_night_shift_across_the_spring_gap_lasts_one_hour_less() -> None:
    # Saturday 22:00 to Sunday 06:00 is 8 wall hours, 7 real hours on the night clocks jump.
    night = Schedule(zone=ROME, week={5: ((1320, 1440),), 6: ((0, 360),)})
    start = local(ROME, 2026, 3, 28, 22, 0)
    end = local(ROME, 2026, 3, 29, 6, 0)
    assert clock.business_seconds_between(start, end, night) == 7 * HOUR
    assert clock.add_business_seconds(start, 7 * HOUR, night) == end.astimezone(UTC)


def test_rome_night_shift_across_the_autumn_repeat_lasts_one_hour_more() -> None:
    night = Schedule(zone=ROME, week={5: ((1320, 1440),), 6: ((0, 360),)})
    start = local(ROME, 2026, 10, 24, 22, 0)
    end = local(ROME, 2026, 10, 25, 6, 0)
    assert clock.business_seconds_between(start, end, night) == 9 * HOUR


def test_rome_an_opening_inside_the_gap_starts_when_the_clocks_jump() -> None:
    # 02:30-04:00 on the spring day: 02:30 does not exist, so the opening starts at 03:00 CEST.
    schedule = Schedule(zone=ROME, week={6: ((150, 240),)})
    start = local(ROME, 2026, 3, 29, 0, 0)
    due = clock.add_business_seconds(start, 1, schedule)
    assert due == datetime.datetime(2026, 3, 29, 1, 0, 1, tzinfo=UTC)
    assert clock.business_seconds_between(start, local(ROME, 2026, 3, 29, 5, 0), schedule) == HOUR


def test_rome_office_hours_friday_afternoon_to_monday_over_the_dst_weekend() -> None:
    start = local(ROME, 2026, 3, 27, 16, 0)  # Friday, CET
    due = clock.add_business_seconds(start, 2 * HOUR, office(ROME))
    assert due == local(ROME, 2026, 3, 30, 10, 0).astimezone(UTC)  # Monday, CEST
    assert due - start.astimezone(UTC) == datetime.timedelta(hours=65)


def test_moscow_last_clock_change_of_2014_is_counted_exactly() -> None:
    # 26 October 2014: 02:00 MSK (UTC+4) became 01:00 MSK (UTC+3) for good.
    start = local(MOSCOW, 2014, 10, 26, 0, 0)
    end = local(MOSCOW, 2014, 10, 26, 4, 0)
    assert clock.business_seconds_between(start, end, clock.always("Europe/Moscow")) == 5 * HOUR
    assert end.astimezone(UTC) == datetime.datetime(2014, 10, 26, 1, 0, tzinfo=UTC)


def test_moscow_office_day_across_midnight_of_the_change() -> None:
    schedule = Schedule(zone=MOSCOW, week=dict.fromkeys(range(7), ((0, 1440),)))
    start = local(MOSCOW, 2014, 10, 25, 23, 0)
    due = clock.add_business_seconds(start, 4 * HOUR, schedule)
    # Two real hours to 02:00 MSK+4, then the clock shows 01:00 again: 02:00 MSK+3.
    assert due.astimezone(MOSCOW).strftime("%Y-%m-%d %H:%M %z") == "2014-10-26 02:00 +0300"


def test_bangkok_across_midnight_has_no_surprise() -> None:
    shift = Schedule(
        zone=BANGKOK, week=clock.check_hours({d: [(1200, 1440), (0, 120)] for d in range(7)})
    )
    start = local(BANGKOK, 2026, 12, 31, 23, 30)
    due = clock.add_business_seconds(start, 2 * HOUR, shift)
    assert due == local(BANGKOK, 2027, 1, 1, 1, 30).astimezone(UTC)
    assert clock.business_seconds_between(start, due, shift) == 2 * HOUR


def test_holidays_and_weekends_are_skipped() -> None:
    christmas = frozenset({datetime.date(2026, 12, 24), datetime.date(2026, 12, 25)})
    start = local(ROME, 2026, 12, 23, 16, 0)  # Wednesday
    due = clock.add_business_seconds(start, 2 * HOUR, office(ROME, holidays=christmas))
    assert due == local(ROME, 2026, 12, 28, 10, 0).astimezone(UTC)  # Monday


def test_a_start_outside_hours_counts_from_the_next_opening() -> None:
    start = local(BANGKOK, 2026, 6, 6, 12, 0)  # Saturday
    assert clock.add_business_seconds(start, 0, office(BANGKOK)) == local(
        BANGKOK, 2026, 6, 8, 9, 0
    ).astimezone(UTC)


@pytest.mark.parametrize(
    ("week", "message"),
    [
        ({0: [(600, 540)]}, "opening 600-540 is not within one day"),
        ({0: [(540, 1441)]}, "opening 540-1441 is not within one day"),
        ({0: [(540, 720), (700, 800)]}, "openings overlap"),
        ({}, "the schedule is never open"),
        ({7: [(0, 60)]}, "weekday 7 is not 0-6"),
    ],
)
def test_bad_openings_are_refused_naming_the_problem(
    week: dict[int, list[tuple[int, int]]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        clock.check_hours(week)


def test_naive_instants_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        clock.add_business_seconds(datetime.datetime(2026, 1, 1), 1, office(ROME))  # noqa: DTZ001


def test_a_target_beyond_three_years_of_openings_is_refused() -> None:
    sparse = Schedule(zone=ROME, week={0: ((0, 1),)})
    with pytest.raises(ValueError, match="cannot be reached"):
        clock.add_business_seconds(local(ROME, 2026, 1, 1, 0, 0), 200 * 60, sparse)
