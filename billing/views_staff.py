"""The platform staff's revenue dashboard on the public host. Only those the platform admin
lets in (superusers signed in with two-factor authentication) see it; anyone else is told
there is nothing here (404), not that something is hidden."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from billing.plans import Money, plan_spec
from billing.revenue import Revenue, revenue_summary
from billing.views import format_money


def _currencies(revenue: Revenue) -> list[str]:
    found: set[str] = set(revenue.mrr)
    for month in revenue.months:
        found |= set(month.mrr) | set(month.net_new) | set(month.churned_mrr)
    return sorted(found)


def _money(amount: Decimal | None, currency: str) -> str:
    return "—" if amount is None else format_money(Money(amount, currency))


def _percentage(value: Decimal) -> str:
    return f"{formats.number_format(value, decimal_pos=1, use_l10n=True)} %"


def _figure(kind: str, labels: list[str], traces: list[tuple[str, list[Any]]]) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": kind,
                "name": name,
                "x": labels,
                "y": [None if value is None else float(value) for value in values],
            }
            | ({"mode": "lines+markers"} if kind == "scatter" else {})
            for name, values in traces
        ],
        "layout": {"barmode": "group", "showlegend": len(traces) > 1},
    }


def _charts(revenue: Revenue) -> list[dict[str, Any]]:
    labels = [formats.date_format(month.start, "YEAR_MONTH_FORMAT") for month in revenue.months]
    currencies = _currencies(revenue) or ["USD"]
    zero = Decimal(0)

    def per_currency(attribute: str) -> list[tuple[str, list[Decimal]]]:
        return [
            (currency, [getattr(month, attribute).get(currency, zero) for month in revenue.months])
            for currency in currencies
        ]

    retention_currencies = sorted(
        {currency for month in revenue.months for currency in month.retention}
    )
    month_column = _("Month")
    charts: list[dict[str, Any]] = [
        {
            "key": "mrr",
            "title": _("MRR by month"),
            "summary": _("Monthly recurring revenue at the end of each month, per currency."),
            "kind": "scatter",
            "traces": per_currency("mrr"),
            "money": True,
        },
        {
            "key": "net-new",
            "title": _("Net new MRR by month"),
            "summary": _("MRR at the end of the month minus MRR at its start."),
            "kind": "bar",
            "traces": per_currency("net_new"),
            "money": True,
        },
        {
            "key": "churn",
            "title": _("Churned MRR by month"),
            "summary": _("MRR of the subscriptions canceled in each month."),
            "kind": "bar",
            "traces": per_currency("churned_mrr"),
            "money": True,
        },
        {
            "key": "trials",
            "title": _("Trials started and converted"),
            "summary": _(
                "Workspaces whose trial started in each month, and how many have paid since."
            ),
            "kind": "bar",
            "traces": [
                (_("Trials started"), [month.trials_started for month in revenue.months]),
                (_("Converted to paid"), [month.trials_converted for month in revenue.months]),
            ],
            "money": False,
        },
        {
            "key": "retention",
            "title": _("Net revenue retention by month"),
            "summary": _(
                "For the 12 months to each month's end: what the customers paying a year "
                "before pay now, as a share of what they paid then, with expansion (net) and "
                "without (gross), per currency."
            ),
            "kind": "scatter",
            "traces": [
                (
                    label % {"currency": currency},
                    [
                        getattr(month.retention[currency], attribute)
                        if currency in month.retention
                        else None
                        for month in revenue.months
                    ],
                )
                for currency in retention_currencies
                for label, attribute in (
                    (_("NRR %(currency)s"), "net"),
                    (_("GRR %(currency)s"), "gross"),
                )
            ],
            "money": False,
            "percent": True,
        },
    ]
    result = []
    for chart in charts:
        traces = chart["traces"]
        rows = []
        for index, label in enumerate(labels):
            cells = [label]
            for name, values in traces:
                value = values[index]
                if value is None:
                    cells.append("—")
                elif chart.get("percent"):
                    cells.append(_percentage(value))
                elif chart["money"]:
                    cells.append(_money(value, name))
                else:
                    cells.append(formats.number_format(value, use_l10n=True))
            rows.append(cells)
        figure = _figure(chart["kind"], labels, traces)
        if chart.get("percent"):
            figure["layout"]["yaxis"] = {"ticksuffix": " %"}
        result.append(
            {
                "key": chart["key"],
                "title": chart["title"],
                "summary": chart["summary"],
                "figure": figure,
                "columns": [month_column, *[name for name, _values in traces]],
                "rows": rows,
            }
        )
    plans = list(revenue.seats_by_plan)
    plan_names = [str(plan_spec(plan).name) if plan else _("Unknown") for plan in plans]
    result.append(
        {
            "key": "seats",
            "title": _("Seats sold by plan"),
            "summary": _("Seats billed now in paying subscriptions, per plan."),
            "figure": _figure(
                "bar", plan_names, [(_("Seats"), list(revenue.seats_by_plan.values()))]
            ),
            "columns": [_("Plan"), _("Seats")],
            "rows": [
                [name, formats.number_format(seats, use_l10n=True)]
                for name, seats in zip(plan_names, revenue.seats_by_plan.values(), strict=True)
            ],
        }
    )
    return result


def _churn_rows(revenue: Revenue) -> list[list[str]]:
    rows = []
    for month in revenue.months:
        revenue_churn = ", ".join(
            f"{formats.number_format(value, decimal_pos=1, use_l10n=True)} % {currency}"
            for currency, value in sorted(month.revenue_churn.items())
        )
        rows.append(
            [
                formats.date_format(month.start, "YEAR_MONTH_FORMAT"),
                formats.number_format(month.churned_logos, use_l10n=True),
                "—"
                if month.logo_churn is None
                else f"{formats.number_format(month.logo_churn, decimal_pos=1, use_l10n=True)} %",
                revenue_churn or "—",
                "—"
                if not month.trials_started
                else formats.number_format(
                    (Decimal(month.trials_converted) * 100 / month.trials_started).quantize(
                        Decimal("0.1")
                    ),
                    decimal_pos=1,
                    use_l10n=True,
                )
                + " %",
            ]
        )
    return rows


def revenue_dashboard(request: HttpRequest) -> HttpResponse:
    # Asked before the method, so that nobody else learns the page exists.
    if not admin.site.has_permission(request):
        raise Http404
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    revenue = revenue_summary(now=timezone.now())
    currencies = sorted(revenue.mrr)
    return render(
        request,
        "billing/staff_revenue.html",
        {
            "totals": [
                (
                    currency,
                    _money(revenue.mrr[currency], currency),
                    _money(revenue.arr[currency], currency),
                )
                for currency in currencies
            ],
            "paying": revenue.paying,
            "trials_running": revenue.trials_running,
            "charts": _charts(revenue),
            "churn_rows": _churn_rows(revenue),
            "retention": [
                {
                    "currency": currency,
                    "net": _percentage(figures.net),
                    "gross": _percentage(figures.gross),
                    "customers": formats.number_format(figures.customers, use_l10n=True),
                    "starting": _money(figures.starting, currency),
                    "expansion": _money(figures.expansion, currency),
                    "contraction": _money(figures.contraction, currency),
                    "churned": _money(figures.churned, currency),
                    "ending": _money(figures.ending, currency),
                }
                for currency, figures in revenue.retention.items()
            ],
            "past_due": [
                {
                    "name": row.tenant.name,
                    "slug": row.tenant.slug,
                    "status": row.tenant.get_billing_status_display(),
                    "amount": _money(row.amount, row.currency),
                    "since": row.since,
                }
                for row in revenue.past_due
            ],
        },
    )
