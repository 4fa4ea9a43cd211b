"""Dashboard charts that combine several definitions: the weighted forecast by month against
quota, and the sales cycle with the time deals spend in each stage; and, read straight from
the customer values, the top customers by lifetime value (a top ten, which definitions do not
express) and the cohorts' revenue retention (a grid).

Each part is an ordinary definition run through the compiler as the viewer (so scopes and
drill-through work as for any report); this file only lines the parts up on one axis.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, DateTimeField, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone
from django.utils.translation import gettext as _

from crm_modules.reporting import charts
from crm_modules.reporting.cards import ChartView, drill_url
from crm_modules.reporting.compiler import (
    Result,
    money_label,
    run,
    scoped_records,
    workspace_zone,
)
from crm_modules.reporting.definition import ReportError, check_definition
from crm_modules.reporting.models import CustomerValue
from crm_modules.reporting.money import converted_sql, workspace_currency
from crm_modules.reporting.registry import get_source
from crm_modules.sales.api import Deal
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
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    return round(float(value), 1) if isinstance(value, float) else value


def _messages(results: Iterable[Result]) -> list[str]:
    """What the parts of a combined chart say (a currency without a rate), each once."""
    return list(dict.fromkeys(m for result in results for m in result.messages))


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
    currency = workspace_currency()
    names = {
        "won": money_label(_("Won"), currency),
        "weighted": money_label(_("Weighted pipeline"), currency),
        "quota": money_label(_("Quota"), currency),
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
        figure=charts.combined(labels, series, currency=currency),
        columns=[_("Month"), names["won"], names["weighted"], names["quota"], _("Attainment (%)")],
        rows=rows,
        drills=[d for name in ("won", "weighted", "quota") for d in drills[name]],
        messages=_messages(parts.values()),
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


# --- top customers by lifetime value ---------------------------------------------------------

TOP_CUSTOMERS = 10


def top_customers_view(member: Membership, key: str, title: str, summary: str) -> ChartView:
    """The customers worth most over their lifetime: companies, or contacts where the
    workspace's won deals name no company. Each bar opens the customer."""
    source = get_source("customers")
    if source is None:
        return ChartView(key=key, title=title, summary=summary, error=_("No customer values."))
    values = scoped_records(source, member)
    kind = CustomerValue.Kind.COMPANY
    if not values.filter(kind=kind).exists():
        kind = CustomerValue.Kind.CONTACT
    top = list(values.filter(kind=kind).order_by("-lifetime_value", "id")[:TOP_CUSTOMERS])
    names = [str(value) for value in top]
    # Two customers of one name would merge into one bar: number the repeats.
    labels = [
        f"{name} (#{value.record_id})" if names.count(name) > 1 else name
        for name, value in zip(names, top, strict=True)
    ]
    drills = tuple(source.record_url(value) for value in top)
    currency = workspace_currency()
    revenue, predicted, lifetime = (
        money_label(_("Revenue so far"), currency),
        money_label(_("Predicted next year"), currency),
        money_label(_("Lifetime value"), currency),
    )
    series = [
        charts.Series(revenue, tuple(v.revenue for v in top), drills),
        charts.Series(predicted, tuple(v.predicted_value for v in top), drills),
    ]
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.combined(labels, series, currency=currency),
        columns=[_("Customer"), revenue, predicted, lifetime, _("RFM segment")],
        rows=[
            [
                label,
                _plain(v.revenue),
                _plain(v.predicted_value),
                _plain(v.lifetime_value),
                v.get_segment_display(),
            ]
            for label, v in zip(labels, top, strict=True)
        ],
        drills=list(drills),
        links=list(zip(labels, drills, strict=True)),
        grouped=True,
    )


# --- cohorts -----------------------------------------------------------------------------------

COHORT_MONTHS = 12


def _month_index(day: datetime.date) -> int:
    return day.year * 12 + day.month - 1


def cohort_view(member: Membership, key: str, title: str, summary: str) -> ChartView:
    """Customers by the month of their first win, and the revenue each cohort brought in the
    months after, as a share of its first month's: the last twelve cohorts."""
    source = get_source("customers")
    if source is None:
        return ChartView(key=key, title=title, summary=summary, error=_("No customer values."))
    zone = workspace_zone(member)
    today = timezone.now().astimezone(zone).date()
    first = _add_months(today.replace(day=1), 1 - COHORT_MONTHS)
    start = datetime.datetime.combine(first, datetime.time.min, tzinfo=zone)
    values = scoped_records(source, member)
    kind = CustomerValue.Kind.COMPANY
    if not values.filter(kind=kind).exists():
        kind = CustomerValue.Kind.CONTACT
    customers = values.filter(kind=kind, first_won_at__gte=start)
    sizes, revenue = cohort_rows(customers, kind=kind, zone=zone, start=start)
    months = [_add_months(first, i) for i in range(COHORT_MONTHS)]
    labels = [f"{m:%Y-%m}" for m in months]
    offsets = [_("Month %(n)s") % {"n": n} for n in range(COHORT_MONTHS)]
    z: list[list[float | None]] = []
    rows: list[list[Any]] = []
    for month in months:
        base = revenue.get((month, 0))
        line: list[float | None] = []
        for n in range(COHORT_MONTHS):
            future = _month_index(month) + n > _month_index(today)
            amount = revenue.get((month, n))
            if future or not base:
                line.append(None)
            else:
                line.append(round(float(amount or 0) * 100 / float(base), 1))
        z.append(line)
        rows.append([f"{month:%Y-%m}", sizes.get(month, 0), *(_plain(v) for v in line)])
    drills = [drill_url(check_definition(_cohort_definition(kind, month)), []) for month in months]
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.heatmap(labels, offsets, z, drills),
        columns=[_("Cohort"), _("Customers"), *offsets],
        rows=rows,
        drills=drills,
        links=list(zip(labels, drills, strict=True)),
        grouped=True,
    )


def _cohort_definition(kind: str, month: datetime.date) -> dict[str, Any]:
    last = _add_months(month, 1) - datetime.timedelta(days=1)
    return {
        "source": "customers",
        "filters": [
            {"field": "kind", "op": "eq", "value": kind},
            {"field": "first_won_at", "op": "between", "value": [str(month), str(last)]},
        ],
    }


def cohort_rows(
    customers: Any, *, kind: str, zone: Any, start: datetime.datetime
) -> tuple[dict[datetime.date, int], dict[tuple[datetime.date, int], Decimal]]:
    """(customers per cohort month, revenue per cohort month and months since it), in two
    queries: the cohorts' sizes, and the won deals of their customers grouped by cohort and
    close month."""
    cohort = Trunc("first_won_at", "month", output_field=DateTimeField(), tzinfo=zone)
    sizes = {
        row["cohort"].date(): row["n"]
        for row in customers.annotate(cohort=cohort).values("cohort").annotate(n=Count("pk"))
    }
    revenue: dict[tuple[datetime.date, int], Decimal] = {}
    for cohort_month, month, amount in _cohort_revenue(
        customers, kind=kind, zone=zone, start=start
    ):
        offset = _month_index(month) - _month_index(cohort_month)
        revenue[(cohort_month, offset)] = amount
    return sizes, revenue


def _cohort_revenue(
    customers: QuerySet[CustomerValue], *, kind: str, zone: Any, start: datetime.datetime
) -> list[tuple[datetime.date, datetime.date, Decimal]]:
    """Won revenue by cohort month and close month: the won deals joined to the (scoped)
    cohort customers in one hash join, rather than a lookup per deal. A cohort's deals closed
    no earlier than its first win, so none before the first cohort is read."""
    quote = connection.ops.quote_name
    cohort_sql, cohort_params = customers.values(
        "record_id", "first_won_at"
    ).query.sql_with_params()
    deal = quote(Deal._meta.db_table)
    # In the workspace's currency (ADR 0047): EUR and USD are not added up as they are.
    amount, amount_params = converted_sql("d")
    if kind == CustomerValue.Kind.CONTACT:
        link = quote(Deal.contacts.through._meta.db_table)
        won = f"{link} l JOIN {deal} d ON d.id = l.deal_id"
        customer = "l.contact_id"
    else:
        won, customer = f"{deal} d", "d.company_id"
    sql = (
        "SELECT (date_trunc('month', cv.first_won_at AT TIME ZONE %s))::date,"  # noqa: S608
        f" (date_trunc('month', d.closed_at AT TIME ZONE %s))::date, sum({amount})"
        f" FROM {won} JOIN ({cohort_sql}) cv ON cv.record_id = {customer}"
        " WHERE d.status = %s AND d.closed_at >= %s GROUP BY 1, 2"
    )
    params = [zone.key, zone.key, *amount_params, *cohort_params, Deal.Status.WON, start]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], row[2]) for row in cursor.fetchall()]


# --- forecast accuracy -----------------------------------------------------------------------

ACCURACY_MONTHS = 6


def accuracy_definitions(months: Sequence[datetime.date]) -> dict[str, dict[str, Any]]:
    span = [months[0].isoformat(), (_add_months(months[-1], 1) - datetime.timedelta(1)).isoformat()]
    return {
        "forecast": {
            "source": "forecast_snapshots",
            "filters": [{"field": "month", "op": "between", "value": span}],
            "group_by": [{"field": "month", "bucket": "month"}],
            "measures": [{"agg": "sum", "field": "forecast"}],
            "chart": "bar",
        },
        "won": {
            "source": "deals",
            "filters": [
                {"field": "status", "op": "eq", "value": "won"},
                {"field": "closed_at", "op": "between", "value": span},
            ],
            "group_by": [{"field": "closed_at", "bucket": "month"}],
            "measures": [{"measure": "won_amount"}],
            "chart": "bar",
        },
    }


def accuracy_view(member: Membership, key: str, title: str, summary: str) -> ChartView:
    """Each month's forecast as it stood when the month began, against what was won in it."""
    today = timezone.now().astimezone(workspace_zone(member)).date()
    months = [
        _add_months(today.replace(day=1), n - ACCURACY_MONTHS + 1) for n in range(ACCURACY_MONTHS)
    ]
    try:
        parts = {
            name: run(check_definition(raw), member)
            for name, raw in accuracy_definitions(months).items()
        }
    except ReportError as exc:
        return ChartView(key=key, title=title, summary=summary, error=exc.message)
    keys = [month.isoformat() for month in months]
    labels = [f"{month:%Y-%m}" for month in months]
    currency = workspace_currency()
    names = {
        "forecast": money_label(_("Forecast at the start of the month"), currency),
        "won": money_label(_("Won"), currency),
    }
    values: dict[str, list[Number]] = {}
    drills: dict[str, list[str]] = {}
    series = []
    for name, result in parts.items():
        found = _by_key(result)
        values[name] = [found.get(k) for k in keys]
        drills[name] = [drill_url(result.definition, [k]) for k in keys]
        series.append(
            charts.Series(names[name], tuple(v or 0 for v in values[name]), tuple(drills[name]))
        )
    rows = []
    for i, label in enumerate(labels):
        forecast, won = values["forecast"][i], values["won"][i] or 0
        accuracy = round(float(won) * 100 / float(forecast), 1) if forecast else None
        rows.append([label, _plain(forecast), _plain(won), _plain(accuracy)])
    return ChartView(
        key=key,
        title=title,
        summary=summary,
        figure=charts.combined(labels, series, stacked=False, currency=currency),
        columns=[_("Month"), names["forecast"], names["won"], _("Won of forecast (%)")],
        rows=rows,
        drills=[d for name in ("forecast", "won") for d in drills[name]],
        messages=_messages(parts.values()),
        links=[
            (f"{labels[i]} · {names[name]}", drills[name][i])
            for i in range(len(keys))
            for name in ("forecast", "won")
        ],
        grouped=True,
    )
