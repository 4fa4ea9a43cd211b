"""Keyset pagination for the pages (the API uses DRF's cursor pagination, and this one for an
order on a computed value): the next page starts after the last row's sort key, so page 20,000
costs what page 1 costs (D21).

An order is either field names (``order=("-amount", "-id")``) or a ``ValueOrder``: a computed,
typed value that some rows lack (a custom field's, ADR 0070), listed with the rows lacking it
last in both directions and ties broken by the primary key. Its cursor carries the order's key,
the last row's value (or none) and its primary key."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db.models import Expression, F, Model, Q, QuerySet
from django.db.models.expressions import OrderBy

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Page(Generic[M]):
    rows: list[M]
    next_cursor: str  # "" on the last page
    # The page before this one (a ``ValueOrder``'s pages only); "" on the first page.
    previous_cursor: str = ""


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


SORT_VALUE = "sort_value"
# The mark of a cursor to the rows before its row.
BACKWARD = "<"


@dataclass(frozen=True)
class ValueOrder:
    """Rows by a typed ``value`` (NULL for a row without one), rows without a value last in
    both directions, ties by primary key in the order's direction. ``key`` names the order in
    its cursors (a cursor of another order starts from the first page); ``read`` turns the
    text a cursor carries back into a value of the expression's type, raising ValueError."""

    key: str
    value: Expression
    descending: bool
    read: Callable[[str], Any]

    def order_by(self) -> tuple[OrderBy, OrderBy]:
        if self.descending:
            return self.value.desc(nulls_last=True), F("id").desc()
        return self.value.asc(nulls_last=True), F("id").asc()

    def apply(self, queryset: QuerySet[M]) -> QuerySet[M]:
        return queryset.order_by(*self.order_by())

    def reversed_order_by(self) -> tuple[OrderBy, OrderBy]:
        """This order backwards: the rows without a value first, then the values."""
        if self.descending:
            return self.value.asc(nulls_first=True), F("id").asc()
        return self.value.desc(nulls_first=True), F("id").desc()

    def beyond(self, queryset: QuerySet[M], value: Any, pk: int) -> QuerySet[M]:
        """The rows after (``value``, ``pk``) in this order."""
        op = "lt" if self.descending else "gt"
        queryset = queryset.alias(**{SORT_VALUE: self.value})
        if value is None:
            # Past the last row with a value: only rows without one remain, by primary key.
            return queryset.filter(**{f"{SORT_VALUE}__isnull": True, f"id__{op}": pk})
        return queryset.filter(
            Q(**{f"{SORT_VALUE}__{op}": value})
            | Q(**{SORT_VALUE: value, f"id__{op}": pk})
            | Q(**{f"{SORT_VALUE}__isnull": True})
        )

    def before(self, queryset: QuerySet[M], value: Any, pk: int) -> QuerySet[M]:
        """The rows before (``value``, ``pk``) in this order."""
        op = "gt" if self.descending else "lt"
        queryset = queryset.alias(**{SORT_VALUE: self.value})
        if value is None:
            # Among the rows without a value: every row with one comes before.
            return queryset.filter(
                Q(**{f"{SORT_VALUE}__isnull": False})
                | Q(**{f"{SORT_VALUE}__isnull": True, f"id__{op}": pk})
            )
        return queryset.filter(
            Q(**{f"{SORT_VALUE}__{op}": value}) | Q(**{SORT_VALUE: value, f"id__{op}": pk})
        )

    def cursor(self, value: Any, pk: int, *, backward: bool = False) -> str:
        """A cursor to the rows after (``backward``: before) the row (``value``, ``pk``)."""
        text = None if value is None else str(value)
        return _encode([self.key, text, pk, BACKWARD] if backward else [self.key, text, pk])

    def position(self, cursor: str) -> tuple[Any, int, bool] | None:
        """The value, primary key and direction (True: backward) a cursor of this order
        carries; None for any other."""
        values = _decode_any(cursor)
        if values is None or len(values) not in (3, 4) or values[0] != self.key:
            return None
        if len(values) == 4 and values[3] != BACKWARD:
            return None
        text, pk = values[1], values[2]
        if not isinstance(pk, int) or isinstance(pk, bool) or not isinstance(text, str | None):
            return None
        backward = len(values) == 4
        if text is None:
            return None, pk, backward
        try:
            return self.read(text), pk, backward
        except (TypeError, ValueError, ArithmeticError):
            return None


def _decode_any(cursor: str) -> list[Any] | None:
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return values if isinstance(values, list) else None


def _value_page(queryset: QuerySet[M], *, order: ValueOrder, after: str, size: int) -> Page[M]:
    position = order.position(after) if after else None
    if position is not None and position[2]:
        # Backward: the ``size`` rows just before the cursor's row, read in reverse.
        before = order.before(queryset, position[0], position[1])
        rows = list(
            before.annotate(**{SORT_VALUE: order.value}).order_by(*order.reversed_order_by())[
                : size + 1
            ]
        )
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        more_after = True
    else:
        if position is not None:
            queryset = order.beyond(queryset, position[0], position[1])
        rows = list(order.apply(queryset.annotate(**{SORT_VALUE: order.value}))[: size + 1])
        more_after = len(rows) > size
        rows = rows[:size]
        more_before = position is not None
    next_cursor = previous_cursor = ""
    if rows and more_after:
        last = rows[-1]
        next_cursor = order.cursor(getattr(last, SORT_VALUE), last.pk)
    if rows and more_before:
        first = rows[0]
        previous_cursor = order.cursor(getattr(first, SORT_VALUE), first.pk, backward=True)
    return Page(rows=rows, next_cursor=next_cursor, previous_cursor=previous_cursor)


def keyset_page(
    queryset: QuerySet[M], *, order: tuple[str, ...] | ValueOrder, after: str, size: int
) -> Page[M]:
    """``order``: field names, each with "-" for descending, all in one direction, ending in a
    unique field ("id"); or a ``ValueOrder``. A cursor that is not one of ours starts from the
    first page."""
    if isinstance(order, ValueOrder):
        return _value_page(queryset, order=order, after=after, size=size)
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
