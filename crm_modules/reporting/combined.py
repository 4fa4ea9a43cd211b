"""Dashboard charts that combine several definitions: the weighted forecast by month against
quota, and the sales cycle with the time deals spend in each stage.

Each part is an ordinary definition run through the compiler as the viewer (so scopes and
drill-through work as for any report); this file only lines the parts up on one axis.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting import charts
from crm_modules.reporting.cards import ChartView, drill_url
from crm_modules.reporting.compiler import Result, run, workspace_zone
from crm_modules.reporting.definition import ReportError, check_definition
from tenants.models import Membership

Number = Decimal | int | float | None

# The forecast shows two months back (what was won against quota) to three ahead.
MONTHS_BACK, MONTHS_AHEAD = 2, 3


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def forecast_months(today: datetime.date) -> list[datetime.date]:
    first = _add_months(today.replace(day=1), -MONTHS_BACK)
    return [_add_months(first, i) for i in range(MONTHS_BACK + 1 + MONTHS_AHEAD)]


def forecast_definitions(months: Sequence[datetime.date]) -> dict[str, dict[str, Any]]:
    span = [months[0].isoformat(), (_add_months(months[-1], 1) - datetime.timedelta(1)).isoformat()]
    by_month = {"bucket": "month"}
    return {
        "won": {
            "source": "deals",
            "filters": [
                {"field": "status", "op": "eq", "value": "won"},
                {"field": "closed_at", "op": "between", "value": span},
            ],
            "group_by": [{"field": "closed_at", **by_month}],
            "measures": [{"measure": "won_amount"}],
            "chart": "bar",
        },
        "weighted": {
            "source": "deals",
            "filters": [
                {"field": "status", "op": "eq", "value": "open"},
                {"field": "expected_close_date", "op": "between", "value": span},
            ],
            "group_by": [{"field": "expected_close_date", **by_month}],
            "measures": [{"measure": "weighted_amount"}],
            "chart": "bar",
        },
        "quota": {
            "source": "quotas",
            "filters": [{"field": "month", "op": "between", "value": span}],
            "group_by": [{"field": "month", **by_month}],
            "measures": [{"agg": "sum", "field": "amount"}],
            "chart": "line",
        },
    }


def _by_key(result: Result) -> dict[Any, Number]:
    return {row.keys[0]: row.values[0] for row in result.rows}


def _plain(value: Number) -> Any:
    if value is None:
        return "—"
    return round(float(value), 1) if isinstance(value, float) else value


def forecast_view(member: Membership, key: str, title: str, summary: str) -> ChartView:
    today = timezone.now().astimezone(workspace_zone(member)).date()
    months = forecast_months(today)
    try:
        parts = {
            name: run(check_definition(raw), member)
            for name, raw in forecast_definitions(months).items()
        }
    except ReportError as exc:
        return ChartView(key=key, title=title, summary=summary, error=exc.message)
    keys = [month.isoformat() for month in months]
    labels = [f"{month:%Y-%m}" for month in months]
    names = {
        "won": _("Won"),
        "weighted": _("Weighted pipeline"),
        "quota": _("Quota"),
    }
    series = []
    values: dict[str, list[Number]] = {}
    drills: dict[str, list[str]] = {}
    for name, result in parts.items():
        found = _by_key(result)
        values[name] = [found.get(k) or 0 for k in keys]
        drills[name] = [drill_url(result.definition, [k]) for k in keys]
        series.append(
            charts.Series(
                names[name],
                tuple(values[name]),
                tuple(drills[name]),
                kind="line" if name == "quota" else "bar",
            )
        )
    rows = []
    for i, label in enumerate(labels):
        quota = values["quota"][i]
        won = values["won"][i]
        attainment = round(float(won or 0) * 100 / float(quota), 1) if quota else None
        rows.append(
            [label, _plain(won), _plain(values["weighted"][i]), _plain(quota), _plain(attainment)]
        )
    links = [
        (f"{labels[i]} · {names[name]}", drills[name][i])
        for i in range(len(keys))
        for name in ("won", "weighted", "quota")
    ]
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.combined(labels, series),
        columns=[_("Month"), names["won"], names["weighted"], names["quota"], _("Attainment (%)")],
        rows=rows,
        drills=[d for name in ("won", "weighted", "quota") for d in drills[name]],
        links=links,
        grouped=True,
    )


# --- the sales cycle ----------------------------------------------------------------------------

CYCLE_PERIOD = "last_12_months"


def cycle_definitions() -> dict[str, dict[str, Any]]:
    return {
        "stages": {
            "source": "stage_changes",
            "filters": [
                {"field": "stage_kind", "op": "eq", "value": "open"},
                {"field": "entered_at", "op": "relative", "value": CYCLE_PERIOD},
            ],
            "group_by": [{"field": "stage"}, {"field": "pipeline"}],
            "measures": [{"measure": "days_in_stage"}],
            "chart": "bar",
        },
        "cycle": {
            "source": "deals",
            "filters": [
                {"field": "status", "op": "eq", "value": "won"},
                {"field": "closed_at", "op": "relative", "value": CYCLE_PERIOD},
            ],
            "measures": [{"measure": "avg_cycle_days"}],
            "chart": "number",
        },
    }


def _days(value: Number) -> float | None:
    return None if value is None else round(float(value), 1)


def cycle_view(member: Membership, key: str, title: str, summary: str) -> ChartView:
    try:
        parts = {
            name: run(check_definition(raw), member) for name, raw in cycle_definitions().items()
        }
    except ReportError as exc:
        return ChartView(key=key, title=title, summary=summary, error=exc.message)
    stages, cycle = parts["stages"], parts["cycle"]
    names = [row.labels[0] for row in stages.rows]
    # The same stage name in two pipelines would merge into one bar: name the pipeline then.
    repeated = {name for name in names if names.count(name) > 1}
    labels = [
        f"{row.labels[0]} · {row.labels[1]}" if row.labels[0] in repeated else row.labels[0]
        for row in stages.rows
    ]
    whole = _("Whole cycle (won deals)")
    stage_drills = [drill_url(stages.definition, list(row.keys)) for row in stages.rows]
    cycle_drill = drill_url(cycle.definition, [])
    stage_days = [_days(row.values[0]) for row in stages.rows]
    cycle_days = _days(cycle.rows[0].values[0]) if cycle.rows else None
    in_stage, whole_cycle = _("Days in stage"), _("Sales cycle (days)")
    series = [
        charts.Series(in_stage, (*stage_days, None), (*stage_drills, "")),
        charts.Series(
            whole_cycle, (*[None] * len(labels), cycle_days), (*[""] * len(labels), cycle_drill)
        ),
    ]
    rows = [[label, _plain(days)] for label, days in zip(labels, stage_days, strict=True)]
    rows.append([whole, _plain(cycle_days)])
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.combined([*labels, whole], series, unit="number"),
        columns=[_("Stage"), _("Average days")],
        rows=rows,
        drills=[*stage_drills, cycle_drill],
        links=[*zip(labels, stage_drills, strict=True), (whole, cycle_drill)],
        grouped=True,
        messages=[*stages.messages],
    )
