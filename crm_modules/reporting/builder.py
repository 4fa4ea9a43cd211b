"""The report builder's form: its GET/POST parameters turned into a report definition, and
what the form offers for a chosen source. The definition is then validated like any other
(``check_definition``); this file only reshapes input."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import QueryDict

from crm_modules.reporting.definition import CHART_TYPES
from crm_modules.reporting.registry import (
    AGGREGATIONS,
    RELATIVE_PERIODS,
    DataSource,
    Field,
    all_sources,
    get_source,
)

FILTER_ROWS = 3
NO_VALUE_OPS = frozenset({"is_empty", "past", "future"})


def _value(op: str, raw: str) -> Any:
    raw = raw.strip()
    if op in NO_VALUE_OPS:
        return True
    if op == "is":
        return raw.lower() in ("1", "true", "yes")
    if op in ("in", "between"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def definition_from_params(params: QueryDict) -> dict[str, Any]:
    filters = []
    for i in range(FILTER_ROWS):
        field_code = params.get(f"f{i}_field", "")
        if not field_code:
            continue
        op = params.get(f"f{i}_op", "")
        filters.append(
            {"field": field_code, "op": op, "value": _value(op, params.get(f"f{i}_value", ""))}
        )
    groups = []
    for i in range(2):
        field_code = params.get(f"g{i}_field", "")
        if field_code:
            group = {"field": field_code}
            if params.get(f"g{i}_bucket"):
                group["bucket"] = params.get(f"g{i}_bucket", "")
            groups.append(group)
    measures: list[dict[str, str]] = []
    for i in range(2):
        choice = params.get(f"m{i}", "")
        if not choice:
            continue
        kind, _sep, rest = choice.partition(":")
        if kind == "count":
            measures.append({"agg": "count"})
        elif kind == "measure":
            measures.append({"measure": rest})
        else:
            measures.append({"agg": kind, "field": rest})
    return {
        "source": params.get("source", ""),
        "filters": filters,
        "group_by": groups,
        "measures": measures,
        "chart": params.get("chart", "bar"),
    }


@dataclass(frozen=True)
class Option:
    value: str
    label: str


def measure_options(source: DataSource, fields: dict[str, Field]) -> list[Option]:
    from django.utils.translation import gettext as _

    options = [Option("count", _("Count"))]
    for measure in source.measures:
        options.append(Option(f"measure:{measure.code}", str(measure.label)))
    names = {
        "sum": _("Sum of %(field)s"),
        "avg": _("Average %(field)s"),
        "min": _("Lowest %(field)s"),
        "max": _("Highest %(field)s"),
        "distinct_count": _("Distinct %(field)s"),
    }
    for agg, types in AGGREGATIONS.items():
        for field in fields.values():
            if field.type in types and (field.aggregatable or agg == "distinct_count"):
                options.append(Option(f"{agg}:{field.code}", names[agg] % {"field": field.label}))
    return options


def _labels() -> tuple[dict[str, str], dict[str, str]]:
    from django.utils.translation import gettext as _

    operators = {
        "eq": _("is"),
        "ne": _("is not"),
        "contains": _("contains"),
        "in": _("is one of (comma-separated)"),
        "is_empty": _("is empty"),
        "gt": _("greater than"),
        "gte": _("at least"),
        "lt": _("less than"),
        "lte": _("at most"),
        "between": _("between (from, to)"),
        "on": _("on"),
        "before": _("before"),
        "after": _("after"),
        "relative": _("in the period"),
        "past": _("in the past"),
        "future": _("in the future"),
        "is": _("is (true or false)"),
    }
    charts = {
        "bar": _("Bar"),
        "stacked_bar": _("Stacked bar"),
        "line": _("Line"),
        "area": _("Area"),
        "pie": _("Pie"),
        "funnel": _("Funnel"),
        "table": _("Table"),
        "number": _("Single number"),
    }
    return operators, charts


def form_context(params: QueryDict) -> dict[str, Any]:
    sources = all_sources()
    source = get_source(params.get("source", "")) or (sources[0] if sources else None)
    fields = source.all_fields() if source is not None else {}
    op_labels, chart_labels = _labels()
    return {
        "sources": sources,
        "source": source,
        "fields": list(fields.values()),
        "groupable": [f for f in fields.values() if f.buckets],
        "measures": measure_options(source, fields) if source is not None else [],
        "charts": [Option(code, chart_labels[code]) for code in CHART_TYPES],
        "periods": RELATIVE_PERIODS,
        "operators": [
            Option(code, label)
            for code, label in op_labels.items()
            if any(code in f.operators for f in fields.values())
        ],
        "filter_rows": range(FILTER_ROWS),
        "params": params,
    }
