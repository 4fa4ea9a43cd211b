"""Forecast accuracy: each month's weighted forecast kept as the month begins (once), and the
chart of that forecast against what was won, per role, drilling through."""

from __future__ import annotations

import datetime
import json
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm_modules.reporting import tasks
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.models import ForecastSnapshot
from crm_modules.reporting.services.forecasts import forecast_snapshot_take
from crm_modules.sales.models import Deal
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import in_alpha  # noqa: F401
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.django_db


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def pipeline(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """The rep: 1,000 in New (10 %) and 400 in Proposal (50 %) next month; the Owner: 400 in
    Proposal this month; a won deal and an undated open deal count for no forecast."""
    zone = workspace_zone(in_alpha.owner)
    now = timezone.now()
    this_month = now.astimezone(zone).date().replace(day=1)
    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    stages = {s.name: s for s in PipelineFactory.create().stages.all()}

    def deal(who: Any, stage: str, amount: str, close: Any, **kw: Any) -> Deal:
        return DealFactory.create(
            owner=who,
            pipeline=stages[stage].pipeline,
            stage=stages[stage],
            amount=Decimal(amount),
            expected_close_date=close,
            **kw,
        )

    deals = {
        "rep-new": deal(rep, "New", "1000", this_month),
        "rep-next": deal(rep, "Proposal", "400", _add_months(this_month, 1)),
        "owner": deal(owner, "Proposal", "400", this_month + datetime.timedelta(days=20)),
        "won": deal(rep, "Won", "900", this_month, status="won", closed_at=now),
        "undated": deal(rep, "New", "5000", None),
    }
    return {
        "zone": zone,
        "now": now,
        "month": this_month,
        "rep": rep,
        "owner": owner,
        "deals": deals,
    }


def _snapshots() -> set[tuple[Any, ...]]:
    return set(ForecastSnapshot.objects.values_list("month", "owner_id", "forecast"))


def test_the_forecast_is_kept_once_per_month_as_it_stood(pipeline: dict[str, Any]) -> None:
    zone, now, month = pipeline["zone"], pipeline["now"], pipeline["month"]
    rep, owner = pipeline["rep"], pipeline["owner"]
    assert forecast_snapshot_take(zone=zone, now=now) == 3
    kept = {
        (month, rep.pk, Decimal("100.00")),
        (month, owner.pk, Decimal("200.00")),
        (month, None, Decimal("0.00")),  # marks the month as kept
    }
    assert _snapshots() == kept
    # Later in the month the deals change; the month's forecast stays as it began.
    Deal.objects.filter(pk=pipeline["deals"]["rep-new"].pk).update(amount=Decimal("9999"))
    assert forecast_snapshot_take(zone=zone, now=now + datetime.timedelta(hours=5)) == 0
    assert _snapshots() == kept
    # The next month is kept by the first run in it.
    next_month = _add_months(month, 1)
    first_hour = datetime.datetime.combine(next_month, datetime.time(0, 30), tzinfo=zone)
    assert forecast_snapshot_take(zone=zone, now=first_hour) == 2
    assert _snapshots() == kept | {
        (next_month, rep.pk, Decimal("200.00")),
        (next_month, None, Decimal("0.00")),
    }


def test_the_task_keeps_its_own_workspace_and_tells_dashboards_once(
    pipeline: dict[str, Any], bravo: Workspace, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(bravo.tenant.schema_name):
        DealFactory.create(expected_close_date=pipeline["month"])
    with django_capture_on_commit_callbacks() as first:
        assert tasks.forecast_snapshot_task() == 3
    with django_capture_on_commit_callbacks() as again:
        assert tasks.forecast_snapshot_task() == 0
    assert (len(first), len(again)) == (1, 0)
    with schema_context(bravo.tenant.schema_name):
        assert not ForecastSnapshot.objects.exists()


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _page(client: Client) -> tuple[dict[str, Any], str]:
    response = client.get("/reporting/chart/?key=forecast-accuracy")
    assert response.status_code == 200
    html = response.content.decode()
    match = re.search(
        r'<script id="figure-forecast-accuracy" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert match
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure, html


@pytest.fixture
def history(pipeline: dict[str, Any]) -> dict[str, Any]:
    """Last month began with a forecast of 500 (the rep) and 300 (the Owner); the rep won 400
    in it. This month's forecast is taken now."""
    last = _add_months(pipeline["month"], -1)
    taken = pipeline["now"] - datetime.timedelta(days=40)
    ForecastSnapshot.objects.bulk_create(
        [
            ForecastSnapshot(
                month=last, owner=pipeline["rep"], forecast=Decimal("500"), taken_at=taken
            ),
            ForecastSnapshot(
                month=last, owner=pipeline["owner"], forecast=Decimal("300"), taken_at=taken
            ),
        ]
    )
    won_then = DealFactory.create(
        owner=pipeline["rep"],
        status="won",
        amount=Decimal("400"),
        closed_at=datetime.datetime(last.year, last.month, 12, 12, tzinfo=pipeline["zone"]),
    )
    forecast_snapshot_take(zone=pipeline["zone"], now=pipeline["now"])
    return {**pipeline, "won_then": won_then}


def test_the_chart_sets_each_months_forecast_against_what_was_won(
    history: dict[str, Any], alpha: Workspace
) -> None:
    figure, html = _page(_client(alpha, Role.OWNER))
    forecast, won = figure["data"]
    month = history["month"]
    assert forecast["x"] == [f"{_add_months(month, n - 5):%Y-%m}" for n in range(6)]
    assert (forecast["name"], forecast["y"]) == (
        "Forecast at the start of the month (USD)",
        [0.0, 0.0, 0.0, 0.0, 800.0, 300.0],
    )
    assert (won["name"], won["y"]) == ("Won (USD)", [0.0, 0.0, 0.0, 0.0, 400.0, 900.0])
    assert figure["layout"]["barmode"] == "group"
    row = re.search(
        rf'<tr><td data-label="Month">{_add_months(month, -1):%Y-%m}</td>(.*?)</tr>', html, re.S
    )
    assert row
    assert re.findall(r'<td data-label="([^"]+)">([^<]*)</td>', row.group(1)) == [
        ("Forecast at the start of the month (USD)", "800.00"),
        ("Won (USD)", "400.00"),
        ("Won of forecast (%)", "50.0"),
    ]
    rep_forecast, rep_won = _page(_client(alpha, Role.SALES_REP))[0]["data"]
    assert (rep_forecast["y"][4:], rep_won["y"][4:]) == ([500.0, 100.0], [400.0, 900.0])


def test_each_accuracy_bar_drills_through(history: dict[str, Any], alpha: Workspace) -> None:
    owner = _client(alpha, Role.OWNER)
    forecast, won = _page(owner)[0]["data"]
    won_page = owner.get(won["customdata"][4]).content.decode()
    assert f'href="/sales/deals/{history["won_then"].pk}/"' in won_page
    assert f'href="/sales/deals/{history["deals"]["won"].pk}/"' not in won_page
    kept = owner.get(forecast["customdata"][4]).content.decode()
    assert f"{history['rep'].full_name} · {_add_months(history['month'], -1):%Y-%m}: 500.00" in kept
    rep_kept = _client(alpha, Role.SALES_REP).get(forecast["customdata"][4]).content.decode()
    assert "300.00" not in rep_kept


def test_accuracy_costs_the_same_queries_for_any_number_of_deals(
    history: dict[str, Any], alpha: Workspace
) -> None:
    client = _client(alpha, Role.MANAGER)
    client.get("/reporting/")

    def count() -> int:
        cache.clear()  # the chart computed, not its cached card
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reporting/chart/?key=forecast-accuracy").status_code == 200
        return len(queries.captured_queries)

    before = count()
    for n in range(12):
        DealFactory.create(
            owner=alpha.members[Role.MANAGER].user,
            status="won",
            amount=Decimal(n + 1),
            closed_at=history["now"],
        )
    assert count() == before
