"""The weighted forecast by month against quota, and the sales cycle with time in stage: exact
numbers per role, drill-through to the records behind each bar, and constant query counts."""

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

from crm_modules.reporting.combined import forecast_months
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.models import Quota
from crm_modules.sales.models import Deal, DealStageChange, Stage
from crm_modules.sales.services import deal_create, deal_move_stage
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import fresh, in_alpha  # noqa: F401
from tests.sales.factories import DealFactory, PipelineFactory

pytestmark = pytest.mark.django_db
THIS = 2  # the current month's place among the forecast's six months


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _figure(html: str, key: str) -> dict[str, Any]:
    match = re.search(
        rf'<script id="figure-{key}" type="application/json">(.*?)</script>', html, re.S
    )
    assert match, key
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def _chart(client: Client, key: str) -> dict[str, Any]:
    response = client.get(f"/reporting/chart/?key={key}")
    assert response.status_code == 200
    return _figure(response.content.decode(), key)


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def forecast(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    today = timezone.now().astimezone(workspace_zone(in_alpha.owner)).date()
    pipeline = PipelineFactory.create()
    stages = {s.name: s for s in pipeline.stages.all()}
    next_month = _add_months(today, 1)

    def deal(who: Any, stage: str, amount: str, close: datetime.date | None, **kw: Any) -> Deal:
        return DealFactory.create(
            owner=who,
            pipeline=pipeline,
            stage=stages[stage],
            amount=Decimal(amount),
            expected_close_date=close,
            **kw,
        )

    deals = {
        "rep-new": deal(rep, "New", "1000", today),  # 10 % → 100 this month
        "rep-proposal": deal(rep, "Proposal", "400", next_month),  # 50 % → 200 next month
        "rep-won": deal(rep, "Won", "700", today, status="won", closed_at=timezone.now()),
        "rep-later": deal(rep, "Proposal", "9999", _add_months(today, 6)),  # outside the window
        "owner-proposal": deal(owner, "Proposal", "100", today),  # 50 % → 50 this month
    }
    this_month = today.replace(day=1)
    Quota.objects.bulk_create(
        [
            Quota(owner=rep, month=this_month, amount=Decimal("1000")),
            Quota(owner=owner, month=this_month, amount=Decimal("500")),
            Quota(owner=rep, month=next_month, amount=Decimal("800")),
        ]
    )
    return {"deals": deals, "today": today, "rep": rep, "owner": owner}


def test_the_forecast_stacks_won_and_weighted_pipeline_under_the_quota_line(
    forecast: dict[str, Any], alpha: Workspace
) -> None:
    figure = _chart(_client(alpha, Role.OWNER), "forecast")
    months = [f"{m:%Y-%m}" for m in forecast_months(forecast["today"])]
    won, weighted, quota = figure["data"]
    assert (won["type"], won["name"], won["x"]) == ("bar", "Won (USD)", months)
    assert won["y"] == [0.0, 0.0, 700.0, 0.0, 0.0, 0.0]
    assert (weighted["type"], weighted["name"]) == ("bar", "Weighted pipeline (USD)")
    assert weighted["y"] == [0.0, 0.0, 150.0, 200.0, 0.0, 0.0]
    assert (quota["type"], quota["mode"], quota["name"]) == (
        "scatter",
        "lines+markers",
        "Quota (USD)",
    )
    assert quota["y"] == [0.0, 0.0, 1500.0, 800.0, 0.0, 0.0]
    assert figure["layout"]["barmode"] == "stack"


def test_a_rep_sees_their_own_forecast_and_quota(
    forecast: dict[str, Any], alpha: Workspace
) -> None:
    won, weighted, quota = _chart(_client(alpha, Role.SALES_REP), "forecast")["data"]
    assert won["y"][THIS] == 700.0
    assert weighted["y"][THIS : THIS + 2] == [100.0, 200.0]
    assert quota["y"][THIS : THIS + 2] == [1000.0, 800.0]


def test_the_table_shows_attainment_against_quota(
    forecast: dict[str, Any], alpha: Workspace
) -> None:
    html = _client(alpha, Role.OWNER).get("/reporting/chart/?key=forecast").content.decode()
    this_month = f"{forecast['today']:%Y-%m}"
    row = re.search(rf"<tr><td data-label=\"Month\">{this_month}</td>(.*?)</tr>", html, re.S)
    assert row, html
    cells = re.findall(r'<td data-label="([^"]+)">([^<]*)</td>', row.group(1))
    assert cells == [
        ("Won (USD)", "700.00"),
        ("Weighted pipeline (USD)", "150.00"),
        ("Quota (USD)", "1500.00"),
        ("Attainment (%)", "46.7"),
    ]


def test_each_forecast_bar_drills_through_to_the_records_the_viewer_may_see(
    forecast: dict[str, Any], alpha: Workspace
) -> None:
    deals = forecast["deals"]
    owner = _client(alpha, Role.OWNER)
    weighted_now = _chart(owner, "forecast")["data"][1]["customdata"][THIS]
    page = owner.get(weighted_now).content.decode()
    for name in ("rep-new", "owner-proposal"):
        assert f'href="/sales/deals/{deals[name].pk}/"' in page
    for name in ("rep-proposal", "rep-won", "rep-later"):
        assert f'href="/sales/deals/{deals[name].pk}/"' not in page
    rep_page = _client(alpha, Role.SALES_REP).get(weighted_now).content.decode()
    assert f'href="/sales/deals/{deals["rep-new"].pk}/"' in rep_page
    assert f'href="/sales/deals/{deals["owner-proposal"].pk}/"' not in rep_page
    quota_now = _chart(owner, "forecast")["data"][2]["customdata"][THIS]
    quotas = owner.get(quota_now).content.decode()
    year = forecast["today"].year
    assert quotas.count(f'href="/reporting/quotas/?year={year}"') == 2
    assert f"{forecast['rep'].full_name} · {forecast['today']:%Y-%m}: 1,000.00" in quotas


def _history(deal: Deal, moves: list[tuple[Stage, datetime.datetime]]) -> None:
    """The stage history as deal_move_stage writes it: each change left when the next came."""
    previous = None
    for n, (stage, when) in enumerate(moves):
        left = moves[n + 1][1] if n + 1 < len(moves) else None
        DealStageChange.objects.create(
            deal=deal, from_stage=previous, to_stage=stage, changed_at=when, left_at=left
        )
        previous = stage


@pytest.fixture
def cycle(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """The rep's deal: two days in New, three in Proposal, won on day five. The owner's deal:
    in New for four days now."""
    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    pipeline = PipelineFactory.create()
    stages = {s.name: s for s in pipeline.stages.all()}
    now = timezone.now()
    start = now - datetime.timedelta(days=10)
    day = datetime.timedelta(days=1)
    won = DealFactory.create(
        owner=rep,
        pipeline=pipeline,
        stage=stages["Won"],
        status="won",
        created_at=start,
        closed_at=start + 5 * day,
    )
    _history(
        won,
        [
            (stages["New"], start),
            (stages["Proposal"], start + 2 * day),
            (stages["Won"], start + 5 * day),
        ],
    )
    waiting = DealFactory.create(
        owner=owner, pipeline=pipeline, stage=stages["New"], created_at=now - 4 * day
    )
    _history(waiting, [(stages["New"], now - 4 * day)])
    return {"won": won, "waiting": waiting, "pipeline": pipeline}


def test_the_sales_cycle_shows_days_in_each_stage_and_the_whole_cycle(
    cycle: dict[str, Any], alpha: Workspace
) -> None:
    in_stage, whole = _chart(_client(alpha, Role.OWNER), "sales-cycle")["data"]
    assert in_stage["x"] == ["New", "Proposal", "Whole cycle (won deals)"]
    assert (in_stage["name"], in_stage["y"]) == ("Days in stage", [3.0, 3.0, None])
    assert (whole["name"], whole["y"]) == ("Sales cycle (days)", [None, None, 5.0])
    rep_stage, rep_whole = _chart(_client(alpha, Role.SALES_REP), "sales-cycle")["data"]
    assert rep_stage["y"] == [2.0, 3.0, None]
    assert rep_whole["y"] == [None, None, 5.0]


def test_each_sales_cycle_bar_drills_through_to_its_deals(
    cycle: dict[str, Any], alpha: Workspace
) -> None:
    owner = _client(alpha, Role.OWNER)
    in_stage, whole = _chart(owner, "sales-cycle")["data"]
    new_stage = owner.get(in_stage["customdata"][0]).content.decode()
    assert f'href="/sales/deals/{cycle["won"].pk}/">{cycle["won"].name}</a>' in new_stage
    assert f'href="/sales/deals/{cycle["waiting"].pk}/">{cycle["waiting"].name}</a>' in new_stage
    won = owner.get(whole["customdata"][2]).content.decode()
    assert f'href="/sales/deals/{cycle["won"].pk}/"' in won
    assert f'href="/sales/deals/{cycle["waiting"].pk}/"' not in won
    rep_new = _client(alpha, Role.SALES_REP).get(in_stage["customdata"][0]).content.decode()
    assert f'href="/sales/deals/{cycle["waiting"].pk}/"' not in rep_new


def test_the_same_stage_name_in_two_pipelines_is_two_bars(
    cycle: dict[str, Any], alpha: Workspace
) -> None:
    other = PipelineFactory.create(name="Renewals")
    new = other.stages.get(name="New")
    deal = DealFactory.create(pipeline=other, stage=new, owner=alpha.owner.user)
    _history(deal, [(new, timezone.now() - datetime.timedelta(days=1))])
    x = _chart(_client(alpha, Role.OWNER), "sales-cycle")["data"][0]["x"]
    assert x == [
        f"New · {cycle['pipeline'].name}",
        "New · Renewals",
        "Proposal",
        "Whole cycle (won deals)",
    ]


def test_the_new_charts_cost_the_same_queries_however_many_records(
    forecast: dict[str, Any], cycle: dict[str, Any], alpha: Workspace
) -> None:
    client = _client(alpha, Role.MANAGER)
    client.get("/reporting/")  # warm the session

    def count(key: str) -> int:
        cache.clear()  # the chart computed, not its cached card
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/reporting/chart/?key={key}").status_code == 200
        return len(queries.captured_queries)

    before = {key: count(key) for key in ("forecast", "sales-cycle")}
    pipeline = cycle["pipeline"]
    stage = pipeline.stages.get(name="Proposal")
    for n in range(20):
        deal = DealFactory.create(
            pipeline=pipeline,
            stage=stage,
            owner=alpha.members[Role.MANAGER].user,
            expected_close_date=forecast["today"],
        )
        _history(deal, [(stage, timezone.now() - datetime.timedelta(hours=n))])
    assert {key: count(key) for key in ("forecast", "sales-cycle")} == before


def test_time_in_stage_kept_by_each_move_equals_a_recomputation_from_the_history(
    in_alpha: Workspace,  # noqa: F811
) -> None:
    actor = fresh(in_alpha.owner)
    stages = list(PipelineFactory.create().stages.order_by("position"))
    deals = [
        deal_create(actor=actor, name=f"Moved {n}", stage=stages[0].pk, amount="10")
        for n in range(3)
    ]
    for deal, path in zip(deals, ([1, 0, 1, 2], [1], []), strict=True):
        for position in path:
            deal_move_stage(actor=actor, deal=deal, stage=stages[position].pk)
    kept = dict(DealStageChange.objects.filter(deal__in=deals).values_list("pk", "left_at"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, lead(changed_at) OVER (PARTITION BY deal_id ORDER BY changed_at, id)"
            " FROM sales_dealstagechange WHERE deal_id = ANY(%s)",
            [[deal.pk for deal in deals]],
        )
        recomputed = dict(cursor.fetchall())
    assert kept == recomputed
    assert sum(left is None for left in kept.values()) == 3  # each deal's current stage
