"""Report definitions: JSON in, a validated ``Definition`` out, or a ``ReportError`` naming the
part of the definition at fault and the problem.

A definition is::

    {"source": "deals",
     "filters": [{"field": "status", "op": "eq", "value": "open"}],
     "group_by": [{"field": "closed_at", "bucket": "month"}, {"field": "owner"}],
     "measures": [{"agg": "count"}, {"agg": "sum", "field": "amount"}, {"measure": "win_rate"}],
     "chart": "bar"}

Filters are a flat list joined by AND (no nesting); at most two groupings (the second splits
the first into series) and two measures. Every name is looked up in the source's declarations.
"""

from __future__ import annotations

import datetime
import decimal
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Aggregate, Avg, Count, Max, Min, Sum
from django.utils.translation import gettext as _

from crm_modules.reporting.registry import (
    AGGREGATIONS,
    RELATIVE_PERIODS,
    DataSource,
    Field,
    FieldType,
    get_source,
)
from crm_platform.errors import ServiceError

CHART_TYPES: tuple[str, ...] = (
    "bar",
    "stacked_bar",
    "line",
    "area",
    "pie",
    "funnel",
    "table",
    "number",
)
MAX_FILTERS = 20
MAX_IN_VALUES = 100
MAX_TEXT = 200
MAX_GROUPS = 2
MAX_MEASURES = 2
MAX_DEFINITION_BYTES = 20_000
# Dates a filter may name: wider ranges are mistakes, and 1,000 years scan everything.
EARLIEST_YEAR = 1900
LATEST_YEAR = 2200
MAX_NUMBER = decimal.Decimal("1e15")

_TOP_KEYS = frozenset({"source", "filters", "group_by", "measures", "chart", "title"})
_FILTER_KEYS = frozenset({"field", "op", "value"})
_GROUP_KEYS = frozenset({"field", "bucket"})
_MEASURE_KEYS = frozenset({"agg", "field", "measure"})


class ReportError(ServiceError):
    """A definition that cannot run; ``field`` is the path of the part at fault
    ("filters[0].op")."""


@dataclass(frozen=True)
class Filter:
    field: Field
    op: str
    value: Any


@dataclass(frozen=True)
class Grouping:
    field: Field
    bucket: str


@dataclass(frozen=True)
class MeasureSpec:
    key: str  # "count", "sum:amount", "win_rate"
    label: str
    aggregate: Callable[[], Any]
    unit: str


@dataclass(frozen=True)
class Definition:
    source: DataSource
    filters: tuple[Filter, ...]
    groups: tuple[Grouping, ...]
    measures: tuple[MeasureSpec, ...]
    chart: str
    title: str
    # The definition as given, normalised (what is saved and what drill-through links carry).
    data: Mapping[str, Any]


def _fail(where: str, message: str) -> ReportError:
    return ReportError(message, field=where)


def _mapping(value: Any, where: str, keys: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, _("%(where)s must be an object.") % {"where": where})
    unknown = sorted(str(k) for k in value if k not in keys)
    if unknown:
        raise _fail(
            where,
            _("%(where)s has unknown keys: %(keys)s.")
            % {"where": where, "keys": ", ".join(unknown)[:200]},
        )
    return value


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(where, _("%(where)s must be a list.") % {"where": where})
    if len(value) > limit:
        raise _fail(
            where,
            _("%(where)s can hold at most %(limit)d items.") % {"where": where, "limit": limit},
        )
    return value


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 100:
        raise _fail(where, _("%(where)s must be a name from the list.") % {"where": where})
    return value


def _field(source: DataSource, fields: Mapping[str, Field], value: Any, where: str) -> Field:
    code = _name(value, where)
    found = fields.get(code)
    if found is None:
        raise _fail(
            where,
            _("%(source)s have no field “%(field)s” (it may have been deleted).")
            % {"source": source.label, "field": code[:100]},
        )
    return found


def check_definition(raw: Any, *, drill: bool = False) -> Definition:
    """Validate and normalise a definition (a dict, or its JSON text). ``drill``: the
    definition of a drill-through, which adds one filter per grouping to a saved one."""
    if isinstance(raw, str | bytes):
        if len(raw) > MAX_DEFINITION_BYTES:
            raise _fail("definition", _("The report definition is too long."))
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise _fail("definition", _("The report definition is not valid JSON.")) from exc
    top = _mapping(raw, "definition", _TOP_KEYS)
    source_code = _name(top.get("source"), "source")
    source = get_source(source_code)
    if source is None:
        raise _fail("source", _("There is no data source “%(code)s”.") % {"code": source_code})
    fields = source.all_fields()

    filters = []
    for index, item in enumerate(
        _list(top.get("filters"), "filters", MAX_FILTERS + (MAX_GROUPS if drill else 0))
    ):
        where = f"filters[{index}]"
        spec = _mapping(item, where, _FILTER_KEYS)
        found = _field(source, fields, spec.get("field"), f"{where}.field")
        op = _name(spec.get("op"), f"{where}.op")
        if op not in found.operators:
            raise _fail(
                f"{where}.op",
                _("The operator “%(op)s” does not apply to %(field)s; use one of: %(ops)s.")
                % {"op": op[:40], "field": found.label, "ops": ", ".join(sorted(found.operators))},
            )
        value = _check_value(found, op, spec.get("value"), f"{where}.value")
        filters.append(Filter(field=found, op=op, value=value))

    groups = []
    for index, item in enumerate(_list(top.get("group_by"), "group_by", MAX_GROUPS)):
        where = f"group_by[{index}]"
        spec = _mapping(item, where, _GROUP_KEYS)
        found = _field(source, fields, spec.get("field"), f"{where}.field")
        if not found.buckets:
            raise _fail(
                f"{where}.field",
                _("Reports cannot group by %(field)s.") % {"field": found.label},
            )
        bucket = spec.get("bucket") or found.buckets[0]
        if bucket not in found.buckets:
            raise _fail(
                f"{where}.bucket",
                _("Group %(field)s by one of: %(buckets)s.")
                % {"field": found.label, "buckets": ", ".join(found.buckets)},
            )
        groups.append(Grouping(field=found, bucket=str(bucket)))

    measures = []
    raw_measures = _list(top.get("measures"), "measures", MAX_MEASURES) or [{"agg": "count"}]
    for index, item in enumerate(raw_measures):
        measures.append(_check_measure(source, fields, item, f"measures[{index}]"))

    chart = top.get("chart", "bar")
    if chart not in CHART_TYPES:
        raise _fail(
            "chart", _("Choose a chart type: %(types)s.") % {"types": ", ".join(CHART_TYPES)}
        )
    if chart in ("pie", "funnel") and len(groups) != 1:
        raise _fail("chart", _("A pie or funnel chart needs exactly one grouping."))
    if chart == "number" and groups:
        raise _fail("chart", _("A single number has no grouping."))
    title = top.get("title", "")
    if not isinstance(title, str) or len(title) > MAX_TEXT:
        raise _fail("title", _("The title must be text of at most 200 characters."))

    data = {
        "source": source.code,
        "filters": [
            {"field": f.field.code, "op": f.op, "value": _jsonable(f.value)} for f in filters
        ],
        "group_by": [{"field": g.field.code, "bucket": g.bucket} for g in groups],
        "measures": [_measure_data(m) for m in measures],
        "chart": chart,
        "title": title,
    }
    return Definition(
        source=source,
        filters=tuple(filters),
        groups=tuple(groups),
        measures=tuple(measures),
        chart=str(chart),
        title=title,
        data=data,
    )


def _measure_data(measure: MeasureSpec) -> dict[str, str]:
    if measure.key == "count":
        return {"agg": "count"}
    if ":" in measure.key:
        agg, field_code = measure.key.split(":", 1)
        return {"agg": agg, "field": field_code}
    return {"measure": measure.key}


def _jsonable(value: Any) -> Any:
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime.date | decimal.Decimal):
        return str(value)
    return value


_AGGREGATES: dict[str, Callable[[Any], Aggregate]] = {
    "sum": lambda path: Sum(path),
    "avg": lambda path: Avg(path),
    "min": lambda path: Min(path),
    "max": lambda path: Max(path),
    "distinct_count": lambda path: Count(path, distinct=True),
}


def _labels() -> dict[str, str]:
    return {
        "sum": _("Sum of %(field)s"),
        "avg": _("Average %(field)s"),
        "min": _("Lowest %(field)s"),
        "max": _("Highest %(field)s"),
        "distinct_count": _("Distinct %(field)s"),
    }


def _check_measure(
    source: DataSource, fields: Mapping[str, Field], item: Any, where: str
) -> MeasureSpec:
    spec = _mapping(item, where, _MEASURE_KEYS)
    if "measure" in spec:
        code = _name(spec["measure"], f"{where}.measure")
        declared = source.measure(code)
        if declared is None or len(spec) > 1:
            raise _fail(
                f"{where}.measure",
                _("%(source)s have no measure “%(code)s”.")
                % {"source": source.label, "code": code[:100]},
            )
        return MeasureSpec(
            key=declared.code,
            label=str(declared.label),
            aggregate=declared.aggregate,
            unit=declared.unit,
        )
    agg = _name(spec.get("agg"), f"{where}.agg")
    if agg == "count":
        if spec.get("field") is not None:
            raise _fail(f"{where}.field", _("A count takes no field."))
        return MeasureSpec(
            key="count", label=_("Count"), aggregate=lambda: Count("pk"), unit="number"
        )
    if agg not in AGGREGATIONS:
        raise _fail(
            f"{where}.agg",
            _("Choose a measure: count, %(aggs)s.") % {"aggs": ", ".join(AGGREGATIONS)},
        )
    found = _field(source, fields, spec.get("field"), f"{where}.field")
    if found.type not in AGGREGATIONS[agg] or not (found.aggregatable or agg == "distinct_count"):
        raise _fail(
            f"{where}.field",
            _("“%(agg)s” does not apply to %(field)s.") % {"agg": agg, "field": found.label},
        )
    make = _AGGREGATES[agg]
    path: Any = found.path
    if found.converted is not None and agg != "distinct_count":
        convert = found.converted
        return MeasureSpec(
            key=f"{agg}:{found.code}",
            label=_labels()[agg] % {"field": found.label},
            aggregate=lambda: make(convert()),
            unit="money",
        )
    labels = _labels()
    unit = "money" if found.type is FieldType.MONEY and agg != "distinct_count" else "number"
    return MeasureSpec(
        key=f"{agg}:{found.code}",
        label=labels[agg] % {"field": found.label},
        aggregate=lambda: make(path),
        unit=unit,
    )


# --- values -----------------------------------------------------------------------------------


def _scalar(field: Field, value: Any, where: str) -> Any:
    if isinstance(value, dict | list):
        raise _fail(
            where, _("%(where)s must be a single value, not a nested one.") % {"where": where}
        )
    kind = field.type
    if kind in (FieldType.NUMBER, FieldType.MONEY):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise _fail(where, _("%(field)s needs a number.") % {"field": field.label})
        try:
            number = decimal.Decimal(str(value))
        except decimal.InvalidOperation as exc:
            raise _fail(where, _("%(field)s needs a number.") % {"field": field.label}) from exc
        if not number.is_finite() or abs(number) > MAX_NUMBER:
            raise _fail(
                where, _("%(field)s needs a number of a sensible size.") % {"field": field.label}
            )
        return number
    if kind in (FieldType.DATE, FieldType.DATETIME):
        if not isinstance(value, str):
            raise _fail(
                where, _("%(field)s needs a date such as 2026-03-31.") % {"field": field.label}
            )
        try:
            day = datetime.date.fromisoformat(value[:10])
        except ValueError as exc:
            raise _fail(
                where, _("%(field)s needs a date such as 2026-03-31.") % {"field": field.label}
            ) from exc
        if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
            raise _fail(
                where,
                _("Dates must lie between %(first)d and %(last)d.")
                % {"first": EARLIEST_YEAR, "last": LATEST_YEAR},
            )
        return day
    if kind is FieldType.REF:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _fail(where, _("%(field)s needs the id of a record.") % {"field": field.label})
        try:
            ident = int(value)
        except ValueError as exc:
            raise _fail(
                where, _("%(field)s needs the id of a record.") % {"field": field.label}
            ) from exc
        if not 0 < ident < 2**63:
            raise _fail(where, _("%(field)s needs the id of a record.") % {"field": field.label})
        return ident
    if kind is FieldType.CHOICE and field.choices:
        allowed = {str(code) for code, _label in field.choices}
        if str(value) not in allowed:
            raise _fail(
                where,
                _("%(field)s must be one of: %(choices)s.")
                % {"field": field.label, "choices": ", ".join(sorted(allowed))[:300]},
            )
        return next(code for code, _label in field.choices if str(code) == str(value))
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _fail(where, _("%(field)s needs text.") % {"field": field.label})
    text = str(value)
    if len(text) > MAX_TEXT or "\x00" in text:
        raise _fail(where, _("Text in a filter can be at most 200 characters."))
    return text


def _check_value(field: Field, op: str, value: Any, where: str) -> Any:
    if op in ("is_empty", "past", "future"):
        if value not in (None, True, False):
            raise _fail(where, _("This operator takes no value, or true or false."))
        return value is not False
    if op == "is":
        if not isinstance(value, bool):
            raise _fail(where, _("%(field)s needs true or false.") % {"field": field.label})
        return value
    if op == "relative":
        if value not in RELATIVE_PERIODS:
            raise _fail(
                where,
                _("Choose a period: %(periods)s.") % {"periods": ", ".join(RELATIVE_PERIODS)},
            )
        return value
    if op == "in":
        if not isinstance(value, list) or not value:
            raise _fail(where, _("“in” needs a list of values."))
        if len(value) > MAX_IN_VALUES:
            raise _fail(
                where,
                _("“in” takes at most %(limit)d values; this list has %(count)d.")
                % {"limit": MAX_IN_VALUES, "count": len(value)},
            )
        return [_scalar(field, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(where, _("“between” needs a list of two values: from and to."))
        low, high = (_scalar(field, item, f"{where}[{i}]") for i, item in enumerate(value))
        if low > high:
            raise _fail(where, _("The first value of “between” must not exceed the second."))
        return [low, high]
    if value is None:
        raise _fail(where, _("%(field)s needs a value.") % {"field": field.label})
    return _scalar(field, value, where)
