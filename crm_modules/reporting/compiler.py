"""Compile a validated ``Definition`` into one ORM query over the source's allow-listed paths,
narrowed to what the viewer may see, and run it.

Group keys, measures and filters all come from the source's declarations; values are bound
parameters. Groups are capped (``MAX_ROWS``): a query asks for one more than the cap and says
when there were more.
"""

from __future__ import annotations

import datetime
import decimal
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.db.models import DateField, DateTimeField, F, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting.definition import Definition, Filter, Grouping
from crm_modules.reporting.module import VIEW_REPORTS
from crm_modules.reporting.money import converted, unconverted_currencies, workspace_currency
from crm_modules.reporting.reach import may_read_source
from crm_modules.reporting.registry import DataSource, FieldType
from tenants.models import Membership, Tenant
from tenants.permissions import scope_filter

MAX_ROWS = 1000


@dataclass(frozen=True)
class Row:
    # Raw group values (ids, codes, bucket starts), as drill-through filters need them.
    keys: tuple[Any, ...]
    labels: tuple[str, ...]
    values: tuple[decimal.Decimal | int | float | None, ...]


@dataclass
class Result:
    definition: Definition
    rows: list[Row]
    truncated: bool = False
    messages: list[str] = field(default_factory=list)
    # The currency of every money measure (the workspace's; ADR 0047), "" without one.
    currency: str = ""

    @property
    def group_labels(self) -> list[str]:
        return [str(g.field.label) for g in self.definition.groups]

    @property
    def measure_labels(self) -> list[str]:
        return [
            money_label(m.label, self.currency) if m.unit == "money" else m.label
            for m in self.definition.measures
        ]


def money_label(label: str, currency: str) -> str:
    """A money figure's label naming its currency: "Won revenue (EUR)"."""
    return f"{label} ({currency})" if currency else label


def workspace_zone(member: Membership) -> zoneinfo.ZoneInfo:
    return workspace_zone_of(member.tenant)


def workspace_zone_of(tenant: Tenant) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tenant.time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def scoped_records(
    source: DataSource, member: Membership, records: QuerySet[Any] | None = None
) -> QuerySet[Any]:
    """The source's records this member may see in a report: the module's own reach, then
    reporting's (a Sales rep: their own records; a Manager: their team's). Nothing of a source
    the member's reports may not read (``reach``: a Marketer reads marketing's sources).
    ``records``: rows standing for the source's records with the same owner path (its kept
    totals), narrowed the same way."""
    if records is None:
        records = source.model._default_manager.all()
    if not may_read_source(member, source):
        return records.none()
    if source.scope is not None:
        records = source.scope(records, member)
    else:
        records = scope_filter(records, member, source.capability, owner_field=source.owner_field)
    return scope_filter(records, member, VIEW_REPORTS, owner_field=source.owner_field)


# --- relative dates ---------------------------------------------------------------------------


def _quarter_start(day: datetime.date) -> datetime.date:
    return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def period_bounds(period: str, today: datetime.date) -> tuple[datetime.date, datetime.date]:
    """[start, end) of a relative period, as dates in the workspace's calendar."""
    one = datetime.timedelta(days=1)
    week = today - datetime.timedelta(days=today.weekday())
    month = today.replace(day=1)
    quarter = _quarter_start(today)
    year = today.replace(month=1, day=1)
    bounds = {
        "today": (today, today + one),
        "yesterday": (today - one, today),
        "this_week": (week, week + 7 * one),
        "last_week": (week - 7 * one, week),
        "this_month": (month, _add_months(month, 1)),
        "last_month": (_add_months(month, -1), month),
        "this_quarter": (quarter, _add_months(quarter, 3)),
        "last_quarter": (_add_months(quarter, -3), quarter),
        "this_year": (year, year.replace(year=year.year + 1)),
        "last_year": (year.replace(year=year.year - 1), year),
        "last_7_days": (today - 6 * one, today + one),
        "last_30_days": (today - 29 * one, today + one),
        "last_90_days": (today - 89 * one, today + one),
        "last_12_months": (_add_months(month, -11), _add_months(month, 1)),
        "next_30_days": (today, today + 30 * one),
    }
    return bounds[period]


# --- filters ----------------------------------------------------------------------------------


def _day_start(day: datetime.date, zone: zoneinfo.ZoneInfo, is_datetime: bool) -> Any:
    if not is_datetime:
        return day
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)


def _json(value: Any) -> Any:
    """A value as the JSON document stores it."""
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _filter_q(item: Filter, zone: zoneinfo.ZoneInfo, now: datetime.datetime) -> Q:
    path, op, value, kind = item.field.path, item.op, item.value, item.field.type
    if item.field.json_value:
        value = _json(value)
    is_dt = kind is FieldType.DATETIME
    if op == "eq":
        return Q(**{path: value})
    if op == "ne":
        return ~Q(**{path: value}) | Q(**{f"{path}__isnull": True})
    if op == "in":
        return Q(**{f"{path}__in": value})
    if op == "contains":
        return Q(**{f"{path}__icontains": value})
    if op == "is_empty":
        empty = Q(**{f"{path}__isnull": True})
        if kind is FieldType.TEXT:
            empty |= Q(**{path: ""})
        return empty if value else ~empty
    if op == "is":
        return Q(**{path: value})
    if op in ("gt", "gte", "lt", "lte"):
        return Q(**{f"{path}__{op}": value})
    if kind in (FieldType.DATE, FieldType.DATETIME):
        if op == "on":
            start, end = value, value + datetime.timedelta(days=1)
        elif op == "before":
            return Q(**{f"{path}__lt": _day_start(value, zone, is_dt)})
        elif op == "after":
            return Q(
                **{f"{path}__gte": _day_start(value + datetime.timedelta(days=1), zone, is_dt)}
            )
        elif op == "between":
            start, end = value[0], value[1] + datetime.timedelta(days=1)
        elif op == "relative":
            start, end = period_bounds(value, now.astimezone(zone).date())
        elif op == "past":
            return Q(**{f"{path}__lt": now if is_dt else now.astimezone(zone).date()})
        else:  # future
            return Q(**{f"{path}__gte": now if is_dt else now.astimezone(zone).date()})
        return Q(
            **{
                f"{path}__gte": _day_start(start, zone, is_dt),
                f"{path}__lt": _day_start(end, zone, is_dt),
            }
        )
    # between on numbers
    return Q(**{f"{path}__gte": value[0], f"{path}__lte": value[1]})


def filtered_records(
    definition: Definition, member: Membership, *, now: datetime.datetime | None = None
) -> QuerySet[Any]:
    zone = workspace_zone(member)
    now = now or timezone.now()
    records = scoped_records(definition.source, member)
    for item in definition.filters:
        records = records.filter(_filter_q(item, zone, now))
    return records


# --- grouping ---------------------------------------------------------------------------------


def _group_expression(group: Grouping, zone: zoneinfo.ZoneInfo) -> Any:
    if group.field.type in (FieldType.DATE, FieldType.DATETIME):
        if group.field.type is FieldType.DATETIME:
            return Trunc(group.field.path, group.bucket, output_field=DateTimeField(), tzinfo=zone)
        return Trunc(group.field.path, group.bucket, output_field=DateField())
    return F(group.field.path)


def bucket_label(value: Any, bucket: str) -> str:
    if isinstance(value, datetime.datetime):
        value = value.date()
    if not isinstance(value, datetime.date):
        return str(value)
    if bucket == "year":
        return str(value.year)
    if bucket == "quarter":
        return _("%(year)d Q%(quarter)d") % {
            "year": value.year,
            "quarter": (value.month - 1) // 3 + 1,
        }
    if bucket == "month":
        return value.strftime("%Y-%m")
    return value.isoformat()


def _label(group: Grouping, key: Any, label: Any) -> str:
    if key is None:
        return _("(none)")
    kind = group.field.type
    if kind is FieldType.REF:
        return str(label) if label not in (None, "") else _("(none)")
    if kind in (FieldType.DATE, FieldType.DATETIME):
        return bucket_label(key, group.bucket)
    if kind is FieldType.BOOLEAN:
        return _("Yes") if key else _("No")
    if group.field.choices:
        names = {str(code): name for code, name in group.field.choices}
        return str(names.get(str(key), key))
    return str(key) if key != "" else _("(none)")


def _key(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


# Operators whose meaning does not depend on dates or on the records' own values.
_TOTALS_OPERATORS = frozenset({"eq", "ne", "in", "is_empty"})


def kept_totals(
    definition: Definition, member: Membership, *, now: datetime.datetime | None = None
) -> tuple[QuerySet[Any], dict[str, Any]] | None:
    """The source's kept totals (``registry.Totals``) narrowed as the records would be, with
    the aggregates that give the same numbers from them, or None when they cannot: a filter
    or group on another field or a date, a measure other than a count or a kept sum, a
    source with its own narrowing, or a sum over a row in another currency than the
    workspace's whose records are not all converted at the latest rate (won and lost deals
    each take the rate of their closing day, so they are converted deal by deal). A row
    whose records all take the latest rate is converted as a whole: the rate times the sum
    is the sum of the rate times each amount."""
    source = definition.source
    totals = source.totals
    if totals is None or source.scope is not None:
        return None
    if any(
        item.field.code not in totals.fields or item.op not in _TOTALS_OPERATORS
        for item in definition.filters
    ):
        return None
    if any(group.field.code not in totals.fields for group in definition.groups):
        return None
    aggregates: dict[str, Any] = {}
    sums = False
    for i, measure in enumerate(definition.measures):
        agg, _sep, code = measure.key.partition(":")
        if measure.key == "count":
            aggregates[f"m{i}"] = Coalesce(Sum(totals.count), 0)
        elif agg == "sum" and code in totals.sums:
            column = totals.sums[code]
            aggregates[f"m{i}"] = Sum(
                converted(column, currency=totals.currency, on=None)
                if totals.currency
                else F(column)
            )
            sums = True
        else:
            return None
    zone = workspace_zone(member)
    now = now or timezone.now()
    # A row whose records have all gone stays at zero: it is no group.
    rows = scoped_records(
        source, member, totals.model._default_manager.filter(**{f"{totals.count}__gt": 0})
    )
    for item in definition.filters:
        rows = rows.filter(_filter_q(item, zone, now))
    if sums and totals.currency:
        foreign = rows.exclude(**{totals.currency: workspace_currency()})
        if totals.latest_rate is not None:
            foreign = foreign.exclude(totals.latest_rate)
        if foreign.exists():
            return None
    return rows, aggregates


def run(
    definition: Definition, member: Membership, *, now: datetime.datetime | None = None
) -> Result:
    kept = kept_totals(definition, member, now=now)
    unconverted = definition.source.unconverted
    if kept is not None:
        records, aggregates = kept
        result = _run(definition, member, records, aggregates)
        totals = definition.source.totals
        currency = totals.currency if totals is not None else ""
        unconverted = (
            (lambda rows: unconverted_currencies(rows, currency=currency, on=None))
            if currency
            else None
        )
    else:
        records = filtered_records(definition, member, now=now)
        result = _run(definition, member, records)
    if any(m.unit == "money" for m in definition.measures):
        result.currency = workspace_currency()
        missing = unconverted(records) if unconverted is not None else []
        if missing:
            result.messages.append(
                _(
                    "Amounts in %(currencies)s are left out: they have no exchange rate into "
                    "%(currency)s. An admin adds one under Exchange rates."
                )
                % {"currencies": ", ".join(missing), "currency": result.currency}
            )
    return result


def _run(
    definition: Definition,
    member: Membership,
    records: QuerySet[Any],
    aggregates: dict[str, Any] | None = None,
) -> Result:
    zone = workspace_zone(member)
    if aggregates is None:
        aggregates = {f"m{i}": m.aggregate() for i, m in enumerate(definition.measures)}
    if not definition.groups:
        totals = records.aggregate(**aggregates)
        values = tuple(totals[f"m{i}"] for i in range(len(definition.measures)))
        return Result(definition=definition, rows=[Row(keys=(), labels=(), values=values)])

    annotations: dict[str, Any] = {}
    names: list[str] = []
    order: list[Any] = []
    for i, group in enumerate(definition.groups):
        annotations[f"g{i}"] = _group_expression(group, zone)
        names.append(f"g{i}")
        if group.field.type is FieldType.REF:
            annotations[f"l{i}"] = F(group.field.label_path)
            names.append(f"l{i}")
            if group.field.order_path:
                annotations[f"o{i}"] = F(group.field.order_path)
                names.append(f"o{i}")
                order.append(F(f"o{i}").asc(nulls_last=True))
    first = definition.groups[0]
    if first.field.type in (FieldType.DATE, FieldType.DATETIME) or order:
        order.append(F("g0").asc(nulls_last=True))
    else:
        order.append(F("m0").desc(nulls_last=True))
    order.extend(F(f"g{i}").asc(nulls_last=True) for i in range(len(definition.groups)))
    query = (
        records.annotate(**annotations)
        .values(*names)
        .annotate(**aggregates)
        .order_by(*order)[: MAX_ROWS + 1]
    )
    fetched = list(query)
    result = Result(definition=definition, rows=[])
    if len(fetched) > MAX_ROWS:
        fetched = fetched[:MAX_ROWS]
        result.truncated = True
        result.messages.append(
            _(
                "This report has more than %(limit)s groups; it shows the first %(limit)s. "
                "Add a filter or group by a coarser bucket."
            )
            % {"limit": f"{MAX_ROWS:,}"}
        )
    for item in fetched:
        keys = tuple(_key(item[f"g{i}"]) for i in range(len(definition.groups)))
        labels = tuple(
            _label(group, item[f"g{i}"], item.get(f"l{i}"))
            for i, group in enumerate(definition.groups)
        )
        values = tuple(item[f"m{i}"] for i in range(len(definition.measures)))
        result.rows.append(Row(keys=keys, labels=labels, values=values))
    return result


def drill_filters(definition: Definition, keys: list[Any]) -> list[dict[str, Any]]:
    """The filters that select one group's records: the definition's own, plus each group's
    value (a date bucket becomes the range it covers)."""
    filters = [dict(f) for f in definition.data["filters"]]
    for group, key in zip(definition.groups, keys, strict=False):
        code = group.field.code
        if key is None:
            filters.append({"field": code, "op": "is_empty", "value": True})
        elif group.field.type in (FieldType.DATE, FieldType.DATETIME):
            start = datetime.date.fromisoformat(str(key))
            end = _bucket_end(start, group.bucket) - datetime.timedelta(days=1)
            filters.append({"field": code, "op": "between", "value": [str(start), str(end)]})
        elif group.field.type is FieldType.BOOLEAN:
            filters.append({"field": code, "op": "is", "value": bool(key)})
        else:
            filters.append({"field": code, "op": "eq", "value": key})
    return filters


def _bucket_end(start: datetime.date, bucket: str) -> datetime.date:
    if bucket == "day":
        return start + datetime.timedelta(days=1)
    if bucket == "week":
        return start + datetime.timedelta(days=7)
    if bucket == "month":
        return _add_months(start, 1)
    if bucket == "quarter":
        return _add_months(start, 3)
    return start.replace(year=start.year + 1)
