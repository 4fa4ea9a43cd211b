"""The sales dashboard: its default charts — most a report definition like any other, a few
combining several definitions (the forecast against quota, the sales cycle) — in the order the
page shows them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from crm_modules.reporting import combined
from crm_modules.reporting.cards import ChartView, chart_view
from crm_modules.reporting.registry import get_source
from tenants.models import Membership


@dataclass(frozen=True)
class DefaultChart:
    key: str
    title: str | Promise
    summary: str | Promise
    definition: dict[str, Any] | None = None
    # A chart combining several definitions draws itself from the sources it names.
    build: Callable[[Membership, str, str, str], ChartView] | None = None
    sources: tuple[str, ...] = ()

    @property
    def source_codes(self) -> tuple[str, ...]:
        """The data sources this chart reads."""
        return self.sources or ((str(self.definition["source"]),) if self.definition else ())

    @property
    def live_events(self) -> frozenset[str]:
        """The live events after which this chart's numbers may have changed."""
        events: set[str] = set()
        for code in self.source_codes:
            source = get_source(code)
            if source is not None:
                events |= source.live_events
        return frozenset(events)

    def view(self, member: Membership) -> ChartView:
        title, summary = str(self.title), str(self.summary)
        if self.build is not None:
            return self.build(member, self.key, title, summary)
        return chart_view(self.definition, member, key=self.key, title=title, summary=summary)


DEFAULT_CHARTS: tuple[DefaultChart, ...] = (
    DefaultChart(
        "pipeline",
        _("Open pipeline by stage"),
        _("Amount of open deals in each stage."),
        {
            "source": "deals",
            "filters": [{"field": "status", "op": "eq", "value": "open"}],
            "group_by": [{"field": "stage"}],
            "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
            "chart": "funnel",
        },
    ),
    DefaultChart(
        "won-revenue",
        _("Won revenue by month"),
        _("Amount of deals won in each of the last twelve months."),
        {
            "source": "deals",
            "filters": [
                {"field": "status", "op": "eq", "value": "won"},
                {"field": "closed_at", "op": "relative", "value": "last_12_months"},
            ],
            "group_by": [{"field": "closed_at", "bucket": "month"}],
            "measures": [{"agg": "sum", "field": "amount"}],
            "chart": "bar",
        },
    ),
    DefaultChart(
        "forecast",
        _("Weighted forecast by month against quota"),
        _(
            "Won revenue and open deals weighted by their stage's probability, by expected "
            "close month, against the members' quotas."
        ),
        build=combined.forecast_view,
        sources=("deals", "quotas"),
    ),
    DefaultChart(
        "forecast-accuracy",
        _("Forecast accuracy"),
        _(
            "Each month's weighted forecast as it stood when the month began, against the "
            "revenue won in it."
        ),
        build=combined.accuracy_view,
        sources=("forecast_snapshots", "deals"),
    ),
    DefaultChart(
        "win-rate",
        _("Win rate and average deal size by rep"),
        _("Share of closed deals won, and the average won deal, over the last twelve months."),
        {
            "source": "deals",
            "filters": [{"field": "closed_at", "op": "relative", "value": "last_12_months"}],
            "group_by": [{"field": "owner"}],
            "measures": [{"measure": "win_rate"}, {"measure": "avg_won_amount"}],
            "chart": "bar",
        },
    ),
    DefaultChart(
        "sales-cycle",
        _("Sales-cycle length and time in stage"),
        _(
            "Average days deals spent in each open stage, and from creation to win, over the "
            "last twelve months."
        ),
        build=combined.cycle_view,
        sources=("stage_changes", "deals"),
    ),
    DefaultChart(
        "top-customers",
        _("Top customers by lifetime value"),
        _(
            "Revenue from won deals so far and the value predicted for the next year "
            "(companies, or contacts where deals name no company); recomputed nightly."
        ),
        build=combined.top_customers_view,
        sources=("customers",),
    ),
    DefaultChart(
        "cohorts",
        _("Revenue retention by cohort"),
        _(
            "Customers grouped by the month of their first won deal; each cell is the revenue "
            "of a later month as a share of the cohort's first month."
        ),
        build=combined.cohort_view,
        sources=("customers",),
    ),
    DefaultChart(
        "activities",
        _("Activities per rep per week"),
        _("Calls, meetings, emails and notes logged in the last twelve weeks."),
        {
            # The per-day rollup: a few rows per rep and day instead of every activity.
            "source": "activity_days",
            "filters": [
                {"field": "occurred_at", "op": "relative", "value": "last_90_days"},
                {
                    "field": "kind",
                    "op": "in",
                    "value": ["call", "meeting", "email", "message", "note"],
                },
            ],
            "group_by": [{"field": "occurred_at", "bucket": "week"}, {"field": "author"}],
            "measures": [{"measure": "activities"}],
            "chart": "stacked_bar",
        },
    ),
    DefaultChart(
        "overdue-tasks",
        _("Overdue tasks by owner"),
        _("Open tasks whose due time has passed."),
        {
            "source": "tasks",
            "filters": [
                {"field": "done", "op": "is", "value": False},
                {"field": "due_at", "op": "past", "value": True},
            ],
            "group_by": [{"field": "owner"}],
            "measures": [{"agg": "count"}],
            "chart": "bar",
        },
    ),
    DefaultChart(
        "lead-sources",
        _("Lead source → leads → won"),
        _("Leads from each source and how many became won deals."),
        {
            "source": "leads",
            "group_by": [{"field": "source"}],
            "measures": [{"agg": "count"}, {"measure": "won"}],
            "chart": "bar",
        },
    ),
)


def default_chart(key: str) -> DefaultChart | None:
    return next((c for c in DEFAULT_CHARTS if c.key == key), None)
