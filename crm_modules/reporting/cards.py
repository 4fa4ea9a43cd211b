"""A chart card: what a dashboard, a saved report or the builder's preview shows for a
definition — a figure, the same data as a table, and the drill-through address of every bar or
slice."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from crm_modules.reporting import charts
from crm_modules.reporting.compiler import Result, drill_filters, run
from crm_modules.reporting.definition import Definition, ReportError, check_definition
from tenants.models import Membership


@dataclass
class ChartView:
    """Everything a chart card renders."""

    key: str
    title: str
    summary: str = ""
    figure: dict[str, Any] | None = None
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    drills: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    error: str = ""
    live_events: list[str] = field(default_factory=list)
    # (what the row is, where its records are): the drill-through without a pointer.
    links: list[tuple[str, str]] = field(default_factory=list)
    grouped: bool = False


def drill_url(definition: Definition, keys: list[Any]) -> str:
    code = definition.source.drill_source or definition.source.code
    data = {"source": code, "filters": drill_filters(definition, keys)}
    query = urlencode({"d": json.dumps(data, separators=(",", ":"), ensure_ascii=False)})
    return f"{reverse('reporting:drill')}?{query}"


def _display(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 1)
    return "—" if value is None else value


def present(result: Result, *, key: str, title: str, summary: str = "") -> ChartView:
    definition = result.definition
    drills = [drill_url(definition, list(row.keys)) for row in result.rows]
    spec = charts.ChartSpec(
        chart=definition.chart,
        measure_labels=tuple(result.measure_labels),
        units=tuple(m.unit for m in definition.measures),
        group_labels=tuple(result.group_labels),
        currency=result.currency,
    )
    rows = [
        charts.ChartRow(labels=row.labels, values=row.values, drill=drill)
        for row, drill in zip(result.rows, drills, strict=True)
    ]
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.figure(spec, rows),
        columns=[*result.group_labels, *result.measure_labels],
        rows=[[*row.labels, *(_display(v) for v in row.values)] for row in result.rows],
        drills=drills,
        messages=list(result.messages),
        live_events=sorted(definition.source.live_events),
        grouped=bool(definition.groups),
        links=[
            (" · ".join(row.labels), drill) for row, drill in zip(result.rows, drills, strict=True)
        ],
    )


def chart_view(
    raw: Any, member: Membership, *, key: str, title: str, summary: str = ""
) -> ChartView:
    """Run a definition for a member; a definition that no longer runs (a custom field deleted
    since it was saved) becomes a card with the error, not a failed page."""
    try:
        definition = check_definition(raw)
    except ReportError as exc:
        return ChartView(key=key, title=title, summary=summary, error=exc.message)
    return present(
        run(definition, member), key=key, title=title or definition.title, summary=summary
    )
