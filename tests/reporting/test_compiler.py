"""Definitions compiled through the allow-list, run in the workspace's time zone, narrowed to
the viewer's reach, and capped."""

from __future__ import annotations

import datetime
import zoneinfo
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from crm_modules.reporting import compiler
from crm_modules.reporting.compiler import MAX_ROWS, period_bounds, run
from crm_modules.reporting.definition import check_definition
from crm_modules.sales.models import CustomField
from tenants.models import Tenant
from tenants.roles import Role
from tests.conftest import Workspace
from tests.sales.conftest import fresh
from tests.sales.factories import ContactFactory, LeadFactory

pytestmark = pytest.mark.django_db

PIPELINE = {
    "source": "deals",
    "filters": [{"field": "status", "op": "eq", "value": "open"}],
    "group_by": [{"field": "stage"}],
    "measures": [{"agg": "sum", "field": "amount"}, {"agg": "count"}],
}


def _rows(raw: dict[str, Any], member: Any) -> list[tuple[Any, ...]]:
    result = run(check_definition(raw), member)
    return [(*row.labels, *row.values) for row in result.rows]


def test_open_pipeline_by_stage_in_stage_order(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    assert _rows(PIPELINE, fresh(in_alpha.owner)) == [
        ("New", Decimal("150.00"), 2),
        ("Proposal", Decimal("200.00"), 1),
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.OWNER, [("New", Decimal("150.00"), 2), ("Proposal", Decimal("200.00"), 1)]),
        (Role.SALES_REP, [("New", Decimal("100.00"), 1), ("Proposal", Decimal("200.00"), 1)]),
        # A manager without a team reaches their own records only (and owns none here).
        (Role.MANAGER, []),
    ],
)
def test_each_role_sees_the_numbers_of_its_reach(
    seeded: dict[str, Any], in_alpha: Workspace, role: str, expected: list[Any]
) -> None:
    assert _rows(PIPELINE, fresh(in_alpha.members[role])) == expected


def test_a_role_without_reports_gets_nothing(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    agent = fresh(in_alpha.members[Role.SUPPORT_AGENT])
    assert _rows({"source": "deals"}, agent) == [(0,)]


def test_win_rate_and_average_deal_by_rep(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    rows = _rows(
        {
            "source": "deals",
            "group_by": [{"field": "owner"}],
            "measures": [{"measure": "win_rate"}, {"measure": "avg_won_amount"}],
        },
        fresh(in_alpha.owner),
    )
    assert sorted(rows, key=lambda r: str(r[0])) == sorted(
        [
            (seeded["rep"].full_name, 100.0, Decimal("1000.00")),
            (seeded["owner"].full_name, 0.0, None),
        ],
        key=lambda r: str(r[0]),
    )


def test_lead_sources_to_won(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    rows = _rows(
        {
            "source": "leads",
            "group_by": [{"field": "source"}],
            "measures": [{"agg": "count"}, {"measure": "won"}],
        },
        fresh(in_alpha.owner),
    )
    assert sorted(rows) == [("fair", 1, 0), ("web", 1, 1)]


def test_overdue_tasks_by_owner(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    rows = _rows(
        {
            "source": "tasks",
            "filters": [
                {"field": "done", "op": "is", "value": False},
                {"field": "due_at", "op": "past", "value": True},
            ],
            "group_by": [{"field": "owner"}],
        },
        fresh(in_alpha.owner),
    )
    assert sorted(rows) == sorted([(seeded["rep"].full_name, 1), (seeded["owner"].full_name, 1)])


def test_activities_per_week_and_author(seeded: dict[str, Any], in_alpha: Workspace) -> None:
    result = run(
        check_definition(
            {
                "source": "activities",
                "group_by": [{"field": "occurred_at", "bucket": "week"}, {"field": "author"}],
            }
        ),
        fresh(in_alpha.owner),
    )
    monday = timezone.localdate(timezone.now(), zoneinfo.ZoneInfo(in_alpha.tenant.time_zone))
    monday -= datetime.timedelta(days=monday.weekday())
    assert sorted((row.keys[0], row.labels[1], row.values[0]) for row in result.rows) == sorted(
        [
            (monday.isoformat(), seeded["rep"].full_name, 2),
            (monday.isoformat(), seeded["owner"].full_name, 1),
        ]
    )


@pytest.mark.parametrize(
    ("period", "today", "bounds"),
    [
        ("last_quarter", "2026-02-10", ("2025-10-01", "2026-01-01")),
        ("this_quarter", "2026-12-31", ("2026-10-01", "2027-01-01")),
        ("last_month", "2026-01-15", ("2025-12-01", "2026-01-01")),
        ("last_week", "2026-12-02", ("2026-11-23", "2026-11-30")),
        ("last_12_months", "2026-12-02", ("2026-01-01", "2027-01-01")),
        ("last_year", "2026-06-01", ("2025-01-01", "2026-01-01")),
        ("yesterday", "2026-03-01", ("2026-02-28", "2026-03-01")),
    ],
)
def test_relative_periods(period: str, today: str, bounds: tuple[str, str]) -> None:
    start, end = period_bounds(period, datetime.date.fromisoformat(today))
    assert (start.isoformat(), end.isoformat()) == bounds


def test_relative_dates_follow_the_workspace_time_zone(in_alpha: Workspace) -> None:
    """At 23:30 UTC on 31 March it is already 1 April in Bangkok: "this month" there is April,
    so a deal created at 16:00 UTC on 31 March (23:00 in Bangkok) falls outside it; in UTC it
    is still March and the deal counts."""
    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(time_zone="Asia/Bangkok")
    member = fresh(in_alpha.owner)
    from tests.sales.factories import DealFactory

    DealFactory.create(created_at=datetime.datetime(2026, 3, 31, 16, 0, tzinfo=datetime.UTC))
    definition = check_definition(
        {
            "source": "deals",
            "filters": [{"field": "created_at", "op": "relative", "value": "this_month"}],
        }
    )
    now = datetime.datetime(2026, 3, 31, 23, 30, tzinfo=datetime.UTC)
    assert run(definition, member, now=now).rows[0].values == (0,)
    Tenant.objects.filter(pk=in_alpha.tenant.pk).update(time_zone="UTC")
    assert run(definition, fresh(in_alpha.owner), now=now).rows[0].values == (1,)


def test_groups_are_capped_with_a_message(
    in_alpha: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compiler, "MAX_ROWS", 3)
    for n in range(5):
        LeadFactory.create(source=f"source {n}")
    result = run(
        check_definition({"source": "leads", "group_by": [{"field": "source"}]}),
        fresh(in_alpha.owner),
    )
    assert len(result.rows) == 3
    assert result.truncated is True
    assert result.messages == [
        "This report has more than 3 groups; it shows the first 3. "
        "Add a filter or group by a coarser bucket."
    ]
    assert MAX_ROWS == 1000


def test_custom_fields_filter_and_group_as_json(in_alpha: Workspace) -> None:
    CustomField.objects.create(
        entity="contact", code="tier", label="Tier", type="select", options=["gold", "silver"]
    )
    CustomField.objects.create(entity="contact", code="seats", label="Seats", type="number")
    ContactFactory.create(custom={"tier": "gold", "seats": 12})
    ContactFactory.create(custom={"tier": "gold", "seats": 3})
    ContactFactory.create(custom={"tier": "silver", "seats": 40})
    rows = _rows(
        {
            "source": "contacts",
            "filters": [{"field": "custom.seats", "op": "gte", "value": "10"}],
            "group_by": [{"field": "custom.tier"}],
        },
        fresh(in_alpha.owner),
    )
    assert sorted(rows) == [("gold", 1), ("silver", 1)]


def test_a_deleted_custom_field_makes_a_clear_error(in_alpha: Workspace) -> None:
    field = CustomField.objects.create(entity="deal", code="region", label="Region", type="text")
    saved = check_definition(
        {"source": "deals", "filters": [{"field": "custom.region", "op": "eq", "value": "EU"}]}
    ).data
    field.delete()
    from crm_modules.reporting.cards import chart_view

    view = chart_view(saved, fresh(in_alpha.owner), key="k", title="Regional")
    assert view.figure is None
    assert view.error == "Deals have no field “custom.region” (it may have been deleted)."
