"""Keyset pagination for the pages (the API uses DRF's cursor pagination): the next page
starts after the last row's sort key, so page 20,000 costs what page 1 costs (D21)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import Model, Q, QuerySet

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    rows: list[M]
    next_cursor: str  # "" on the last page


def _encode(values: list[Any]) -> str:
    # Dates and decimals travel as their text, which the field lookups parse back.
    text = json.dumps(values, default=str)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any] | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != size:
        return None
    if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in values):
        return None
    return values


def keyset_page(queryset: QuerySet[M], *, order: tuple[str, ...], after: str, size: int) -> Page[M]:
    """``order``: field names, each with "-" for descending, all in one direction, ending in a
    unique field ("id"). A cursor that is not one of ours starts from the first page."""
    descending = order[0].startswith("-")
    fields = [name.lstrip("-") for name in order]
    values = _decode(after, len(fields)) if after else None
    if values is not None:
        op = "lt" if descending else "gt"
        # (a, b) > (x, y) as a range on the leading column plus the tie-break, so the
        # index on (a, b) is scanned from the cursor on.
        condition = Q(**{f"{fields[-1]}__{op}": values[-1]})
        for name, value in zip(reversed(fields[:-1]), reversed(values[:-1]), strict=True):
            condition = Q(**{f"{name}__{op}": value}) | (Q(**{name: value}) & condition)
        if len(fields) > 1:
            queryset = queryset.filter(**{f"{fields[0]}__{op}e": values[0]})
        queryset = queryset.filter(condition)
    rows = list(queryset.order_by(*order)[: size + 1])
    next_cursor = ""
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = _encode([getattr(rows[-1], name) for name in fields])
    return Page(rows=rows, next_cursor=next_cursor)
