"""The data-source registry: what any module offers to reports (D16).

A module registers each kind of record it owns (``register_source``) with the fields a report
may filter and group on — each with a type, and so the operators and buckets that type
allows — the measures it may compute, how its records are narrowed to what a member may see
and where a record opens. Reports are compiled only through these declarations
(``crm_modules.reporting.compiler``); nothing a user types becomes a column name or SQL.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils.functional import Promise

from tenants.capabilities import Capability
from tenants.models import Membership


class FieldType(enum.StrEnum):
    TEXT = "text"
    CHOICE = "choice"
    NUMBER = "number"
    MONEY = "money"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    # A reference to another record (a stage, an owner): grouped by id, shown by its label.
    REF = "ref"


# Relative periods a date filter accepts, resolved in the workspace's time zone.
RELATIVE_PERIODS: tuple[str, ...] = (
    "today",
    "yesterday",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_7_days",
    "last_30_days",
    "last_90_days",
    "last_12_months",
    "next_30_days",
)

_DATE_OPERATORS = frozenset(
    {"on", "before", "after", "between", "relative", "past", "future", "is_empty"}
)
OPERATORS: dict[FieldType, frozenset[str]] = {
    FieldType.TEXT: frozenset({"eq", "ne", "contains", "in", "is_empty"}),
    FieldType.CHOICE: frozenset({"eq", "ne", "in", "is_empty"}),
    FieldType.NUMBER: frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "between", "is_empty"}),
    FieldType.MONEY: frozenset({"eq", "ne", "gt", "gte", "lt", "lte", "between"}),
    FieldType.DATE: _DATE_OPERATORS,
    FieldType.DATETIME: _DATE_OPERATORS,
    FieldType.BOOLEAN: frozenset({"is"}),
    FieldType.REF: frozenset({"eq", "ne", "in", "is_empty"}),
}

DATE_BUCKETS: tuple[str, ...] = ("day", "week", "month", "quarter", "year")
BUCKETS: dict[FieldType, tuple[str, ...]] = {
    FieldType.TEXT: ("value",),
    FieldType.CHOICE: ("value",),
    FieldType.NUMBER: (),
    FieldType.MONEY: (),
    FieldType.DATE: DATE_BUCKETS,
    FieldType.DATETIME: DATE_BUCKETS,
    FieldType.BOOLEAN: ("value",),
    FieldType.REF: ("value",),
}

# Aggregations over a field, by the field types they apply to ("count" takes no field).
AGGREGATIONS: dict[str, frozenset[FieldType]] = {
    "sum": frozenset({FieldType.NUMBER, FieldType.MONEY}),
    "avg": frozenset({FieldType.NUMBER, FieldType.MONEY}),
    "min": frozenset({FieldType.NUMBER, FieldType.MONEY, FieldType.DATE, FieldType.DATETIME}),
    "max": frozenset({FieldType.NUMBER, FieldType.MONEY, FieldType.DATE, FieldType.DATETIME}),
    "distinct_count": frozenset(FieldType),
}


@dataclass(frozen=True)
class Field:
    """A field a report may use. ``path`` is the ORM path, fixed by the module, never taken
    from a definition."""

    code: str
    label: str | Promise
    type: FieldType
    path: str
    choices: Sequence[tuple[Any, str | Promise]] = ()
    # REF fields: the path of the label to show, and of the order to sort groups by.
    label_path: str = ""
    order_path: str = ""
    groupable: bool = True
    # JSON values (custom fields) are compared as JSON, so sums and averages do not apply.
    aggregatable: bool = True
    # Values stored in a JSON document (custom fields): filters compare JSON values.
    json_value: bool = False
    # MONEY fields in several currencies: the value in the workspace's currency (an
    # expression, ``reporting.api.converted``), which sums, averages, minima and maxima use.
    converted: Callable[[], Any] | None = None

    @property
    def operators(self) -> frozenset[str]:
        return OPERATORS[self.type]

    @property
    def buckets(self) -> tuple[str, ...]:
        return BUCKETS[self.type] if self.groupable else ()


@dataclass(frozen=True)
class Measure:
    """A measure a source computes beyond the generic aggregations (a win rate)."""

    code: str
    label: str | Promise
    aggregate: Callable[[], Any]
    # "number", "money" or "percent": how a chart's axis and the table show the value.
    unit: str = "number"


Scoper = Callable[[QuerySet[Any], Membership], QuerySet[Any]]


@dataclass(frozen=True)
class Totals:
    """A table the owning module keeps with the count and sums of its records per combination
    of a few fields (sales' stage totals, a row per stage, owner, status and currency). A
    report that only filters and groups on those fields, by value, and only counts and sums
    reads these rows instead of every record; any other report reads the records.

    The table has the same paths as the source's model for ``fields`` (their ``path``,
    ``label_path`` and ``order_path``) and for ``owner_field``, so filters, groups and record
    scopes apply to it unchanged."""

    model: type[Model]
    fields: frozenset[str]
    # The column holding how many records a row stands for.
    count: str
    # Field code → the column holding the sum of that field over a row's records.
    sums: dict[str, str]
    # The column of the currency the sums are in, when records are in several currencies:
    # a row in another currency than the workspace's is converted as a whole only when its
    # records are all converted at the latest rate (``latest_rate``: open deals have no
    # closing day); otherwise the report converts record by record.
    currency: str = ""
    latest_rate: Q | None = None


@dataclass(frozen=True)
class DataSource:
    code: str
    label: str | Promise
    module: str | Promise
    model: type[Model]
    # What a member needs to read these records at all (the owning module's capability).
    capability: Capability
    fields: tuple[Field, ...]
    measures: tuple[Measure, ...] = ()
    # The field naming the member responsible for a record: record scopes apply to it.
    owner_field: str = "owner"
    # The module's own narrowing, when ``scope_filter`` on ``owner_field`` is not enough.
    scope: Scoper | None = None
    # Fields added by the workspace (custom fields), read when a report is compiled.
    custom_fields: Callable[[], Iterable[Field]] | None = None
    # Where a record opens ("" when it has no page of its own), and how a row names it.
    record_url: Callable[[Any], str] = field(default=lambda record: "")
    record_label: Callable[[Any], str] = field(default=str)
    # Live events (``tenants.live``) after which this source's numbers may have changed.
    live_events: frozenset[str] = frozenset()
    # A rollup's drill-through opens the source it summarises (same field codes).
    drill_source: str = ""
    # Relations ``record_label`` reads, fetched with the records on a drill-through page.
    related: tuple[str, ...] = ()
    # Records in several currencies: the currencies among some records that have no exchange
    # rate into the workspace's currency (``reporting.api.unconverted_currencies``).
    unconverted: Callable[[QuerySet[Any]], list[str]] | None = None
    # The roles of ``reporting.module.SOURCE_LIMITED_ROLES`` this source opens its reports to
    # (marketing's sources: the Marketer); the other roles read every source they may see.
    report_roles: frozenset[str] = frozenset()
    # Kept counts and sums of these records that simple reports read instead (``Totals``).
    totals: Totals | None = None

    def all_fields(self) -> dict[str, Field]:
        fields = {f.code: f for f in self.fields}
        if self.custom_fields is not None:
            for custom in self.custom_fields():
                fields.setdefault(custom.code, custom)
        return fields

    def measure(self, code: str) -> Measure | None:
        return next((m for m in self.measures if m.code == code), None)


_REGISTRY: dict[str, DataSource] = {}


def register_source(source: DataSource) -> DataSource:
    if source.code in _REGISTRY:
        raise ValueError(f"Report data source {source.code} is already registered")
    codes = [f.code for f in source.fields] + [m.code for m in source.measures]
    if len(codes) != len(set(codes)):
        raise ValueError(f"Report data source {source.code} repeats a field or measure code")
    for f in source.fields:
        if f.type is FieldType.REF and not f.label_path:
            raise ValueError(f"{source.code}.{f.code}: a reference field needs a label_path")
    _REGISTRY[source.code] = source
    return source


def unregister_source(code: str) -> None:
    _REGISTRY.pop(code, None)


def get_source(code: str) -> DataSource | None:
    return _REGISTRY.get(code)


def all_sources() -> list[DataSource]:
    return list(_REGISTRY.values())
