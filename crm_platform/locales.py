"""The time zones and languages a person or a workspace may choose."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings


@cache
def time_zone_names() -> tuple[str, ...]:
    # available_timezones() walks the zoneinfo directory on every call.
    return tuple(sorted(zoneinfo.available_timezones()))


def is_time_zone(name: str) -> bool:
    return name in _time_zone_set()


@cache
def _time_zone_set() -> frozenset[str]:
    return frozenset(time_zone_names())


def is_language(code: str) -> bool:
    return code in dict(settings.LANGUAGES)
