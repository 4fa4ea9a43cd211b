"""Chart builders: rows in, a Plotly figure (a plain dict) out. Pure functions — no database,
no request — so each is tested on its own.

Plotly draws label text as HTML-like markup (``<b>``, ``<br>``), so every label that came from
a record is escaped here. Each point carries the address of the records behind it in
``customdata``; the page follows it when the point is clicked (drill-through).
"""

from __future__ import annotations

import decimal
import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Number = decimal.Decimal | int | float | None


@dataclass(frozen=True)
class ChartRow:
    labels: tuple[str, ...]  # one per grouping: the x value, then the series
    values: tuple[Number, ...]  # one per measure
    drill: str = ""  # address of the records behind this row


@dataclass(frozen=True)
class ChartSpec:
    chart: str
    measure_labels: tuple[str, ...]
    units: tuple[str, ...]  # "number", "money", "percent" per measure
    group_labels: tuple[str, ...] = ()
    # The currency of money measures (ADR 0047): their axis names it.
    currency: str = ""


def escape(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _number(value: Number) -> float:
    if value is None:
        return 0.0
    return float(value)


def _axis_format(unit: str, currency: str = "") -> dict[str, Any]:
    if unit == "percent":
        return {"ticksuffix": "%", "rangemode": "tozero"}
    if unit == "money" and currency:
        return {"rangemode": "tozero", "separatethousands": True, "ticksuffix": f" {currency}"}
    return {"rangemode": "tozero", "separatethousands": True}


def _layout(spec: ChartSpec, **extra: Any) -> dict[str, Any]:
    # Small margins and a legend under the plot: phones have no room for a side legend.
    layout: dict[str, Any] = {
        "autosize": True,
        "margin": {"l": 48, "r": 16, "t": 16, "b": 48},
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"automargin": True},
        "yaxis": {
            "automargin": True,
            **_axis_format(spec.units[0] if spec.units else "", escape(spec.currency)),
        },
        "height": 320,
    }
    layout.update(extra)
    return layout


def _series(rows: Sequence[ChartRow]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        if len(row.labels) > 1:
            seen.setdefault(row.labels[1], None)
    return list(seen)


def _xs(rows: Sequence[ChartRow]) -> list[str]:
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row.labels[0] if row.labels else "", None)
    return list(seen)


def _traces(
    spec: ChartSpec, rows: Sequence[ChartRow], trace: dict[str, Any]
) -> list[dict[str, Any]]:
    """Bar-like traces: one per measure, or, with a second grouping, one per series value of
    the first measure."""
    series = _series(rows)
    if not series:
        return [
            {
                **trace,
                "name": escape(label),
                "x": [escape(r.labels[0] if r.labels else label) for r in rows],
                "y": [_number(r.values[i]) for r in rows],
                "customdata": [r.drill for r in rows],
            }
            for i, label in enumerate(spec.measure_labels)
        ]
    xs = _xs(rows)
    traces = []
    for name in series:
        by_x = {r.labels[0]: r for r in rows if r.labels[1] == name}
        traces.append(
            {
                **trace,
                "name": escape(name),
                "x": [escape(x) for x in xs],
                "y": [_number(by_x[x].values[0]) if x in by_x else 0.0 for x in xs],
                "customdata": [by_x[x].drill if x in by_x else "" for x in xs],
            }
        )
    return traces


def bar(spec: ChartSpec, rows: Sequence[ChartRow], *, stacked: bool = False) -> dict[str, Any]:
    traces = _traces(spec, rows, {"type": "bar"})
    return {"data": traces, "layout": _layout(spec, barmode="stack" if stacked else "group")}


def line(spec: ChartSpec, rows: Sequence[ChartRow], *, area: bool = False) -> dict[str, Any]:
    base: dict[str, Any] = {"type": "scatter", "mode": "lines+markers"}
    if area:
        base["stackgroup"] = "one"
    return {"data": _traces(spec, rows, base), "layout": _layout(spec)}


def pie(spec: ChartSpec, rows: Sequence[ChartRow]) -> dict[str, Any]:
    trace = {
        "type": "pie",
        "labels": [escape(r.labels[0]) for r in rows],
        "values": [_number(r.values[0]) for r in rows],
        "customdata": [r.drill for r in rows],
        "hole": 0.4,
        "sort": False,
    }
    return {"data": [trace], "layout": _layout(spec)}


def funnel(spec: ChartSpec, rows: Sequence[ChartRow]) -> dict[str, Any]:
    trace = {
        "type": "funnel",
        "y": [escape(r.labels[0]) for r in rows],
        "x": [_number(r.values[0]) for r in rows],
        "customdata": [r.drill for r in rows],
        "textinfo": "value+percent initial",
        "name": escape(spec.measure_labels[0]),
    }
    layout = _layout(spec)
    layout["margin"] = {"l": 96, "r": 16, "t": 16, "b": 24}
    return {"data": [trace], "layout": layout}


def table(spec: ChartSpec, rows: Sequence[ChartRow]) -> dict[str, Any]:
    headers = [*spec.group_labels, *spec.measure_labels]
    columns: list[list[str]] = [
        [escape(r.labels[i]) for r in rows] for i in range(len(spec.group_labels))
    ]
    columns += [
        [escape(_plain(r.values[i])) for r in rows] for i in range(len(spec.measure_labels))
    ]
    trace = {
        "type": "table",
        "header": {"values": [escape(h) for h in headers]},
        "cells": {"values": columns},
    }
    return {"data": [trace], "layout": _layout(spec)}


def number(spec: ChartSpec, rows: Sequence[ChartRow]) -> dict[str, Any]:
    value = _number(rows[0].values[0]) if rows else 0.0
    trace: dict[str, Any] = {
        "type": "indicator",
        "mode": "number",
        "value": value,
        "title": {"text": escape(spec.measure_labels[0])},
        "number": {"suffix": "%"} if spec.units and spec.units[0] == "percent" else {},
    }
    return {"data": [trace], "layout": _layout(spec, height=200)}


def _plain(value: Number) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}"


def figure(spec: ChartSpec, rows: Sequence[ChartRow]) -> dict[str, Any]:
    """The figure of any chart type a report may choose."""
    if spec.chart == "stacked_bar":
        return bar(spec, rows, stacked=True)
    if spec.chart == "line":
        return line(spec, rows)
    if spec.chart == "area":
        return line(spec, rows, area=True)
    if spec.chart == "pie":
        return pie(spec, rows)
    if spec.chart == "funnel":
        return funnel(spec, rows)
    if spec.chart == "table":
        return table(spec, rows)
    if spec.chart == "number":
        return number(spec, rows)
    return bar(spec, rows)


@dataclass(frozen=True)
class Series:
    """One named series over a chart's categories: a value and a drill-through per category."""

    name: str
    values: tuple[Number, ...]
    drills: tuple[str, ...]
    kind: str = "bar"  # "bar" (stacked with the other bars) or "line"


def combined(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    unit: str = "money",
    stacked: bool = True,
    currency: str = "",
) -> dict[str, Any]:
    """Stacked bars with lines over them on the same axis: the forecast (won and weighted
    pipeline under the quota line), the sales cycle (days in each stage, the whole cycle)."""
    xs = [escape(c) for c in categories]
    traces = []
    for item in series:
        trace: dict[str, Any] = {
            "type": "bar" if item.kind == "bar" else "scatter",
            "name": escape(item.name),
            "x": xs,
            "y": [None if v is None else _number(v) for v in item.values],
            "customdata": list(item.drills),
        }
        if item.kind == "line":
            trace["mode"] = "lines+markers"
        traces.append(trace)
    spec = ChartSpec(chart="bar", measure_labels=(), units=(unit,), currency=currency)
    return {"data": traces, "layout": _layout(spec, barmode="stack" if stacked else "group")}


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    z: Sequence[Sequence[float | None]],
    drills: Sequence[str],
    *,
    unit: str = "percent",
) -> dict[str, Any]:
    """A grid of values (cohort retention): one row per label in ``rows``, each cell's drill
    the row's (the records behind a row)."""
    trace: dict[str, Any] = {
        "type": "heatmap",
        "x": [escape(c) for c in columns],
        "y": [escape(r) for r in rows],
        "z": [list(line) for line in z],
        "customdata": [[drill] * len(columns) for drill in drills],
        "colorscale": "Blues",
        "reversescale": True,
        "hoverongaps": False,
        "xgap": 1,
        "ygap": 1,
        "colorbar": {"ticksuffix": "%" if unit == "percent" else "", "thickness": 10},
    }
    spec = ChartSpec(chart="heatmap", measure_labels=(), units=(unit,))
    layout = _layout(spec)
    layout["yaxis"] = {"automargin": True, "autorange": "reversed", "type": "category"}
    layout["xaxis"] = {"automargin": True, "type": "category", "side": "top"}
    layout["margin"] = {"l": 64, "r": 8, "t": 32, "b": 16}
    return {"data": [trace], "layout": layout}
