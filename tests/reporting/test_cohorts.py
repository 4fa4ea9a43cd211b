"""Revenue retention by cohort: customers by the month of their first win, each later month's
revenue as a share of the first month's, within the viewer's reach, drilling to the cohort."""

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

from crm_modules.reporting import charts
from crm_modules.reporting.compiler import workspace_zone
from crm_modules.reporting.services.customer_values import customer_values_recompute
from tenants.roles import Role
from tests.conftest import Workspace, workspace_client
from tests.sales.conftest import in_alpha  # noqa: F401
from tests.sales.factories import ContactFactory, DealFactory

pytestmark = pytest.mark.django_db
NONE12: list[float | None] = [None] * 12


def _add_months(day: datetime.date, months: int) -> datetime.date:
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


@pytest.fixture
def cohorts(in_alpha: Workspace) -> dict[str, Any]:  # noqa: F811
    """Ann (the rep's) first won two months ago: 100, then 50, then 30 this month. Bo (the
    rep's) a month ago: 200, then 100. Cy (the Owner's) two months ago: 1,000."""
    zone = workspace_zone(in_alpha.owner)
    now = timezone.now()
    this_month = now.astimezone(zone).date().replace(day=1)

    def at(months_ago: int) -> datetime.datetime:
        if months_ago == 0:
            return now
        day = _add_months(this_month, -months_ago)
        return datetime.datetime(day.year, day.month, 10, 12, tzinfo=zone)

    rep, owner = in_alpha.members[Role.SALES_REP].user, in_alpha.owner.user
    people = {
        "ann": ContactFactory.create(first_name="Ann", owner=rep),
        "bo": ContactFactory.create(first_name="Bo", owner=rep),
        "cy": ContactFactory.create(first_name="Cy", owner=owner),
    }
    for who, amount, months_ago in (
        ("ann", "100", 2),
        ("ann", "50", 1),
        ("ann", "30", 0),
        ("bo", "200", 1),
        ("bo", "100", 0),
        ("cy", "1000", 2),
    ):
        deal = DealFactory.create(
            owner=people[who].owner, status="won", amount=Decimal(amount), closed_at=at(months_ago)
        )
        deal.contacts.add(people[who])
    customer_values_recompute()
    return {"people": people, "this_month": this_month}


def _client(workspace: Workspace, role: str) -> Client:
    return workspace_client(workspace.members[role].user, workspace.tenant)


def _figure(client: Client) -> dict[str, Any]:
    response = client.get("/reporting/chart/?key=cohorts")
    assert response.status_code == 200
    match = re.search(
        r'<script id="figure-cohorts" type="application/json">(.*?)</script>',
        response.content.decode(),
        re.S,
    )
    assert match
    figure: dict[str, Any] = json.loads(match.group(1))
    return figure


def test_each_cohorts_later_revenue_is_a_share_of_its_first_month(
    cohorts: dict[str, Any], alpha: Workspace
) -> None:
    (grid,) = _figure(_client(alpha, Role.SALES_REP))["data"]
    this_month = cohorts["this_month"]
    assert grid["type"] == "heatmap"
    assert grid["y"] == [f"{_add_months(this_month, n - 11):%Y-%m}" for n in range(12)]
    assert grid["x"] == [f"Month {n}" for n in range(12)]
    assert grid["z"][:9] == [NONE12] * 9
    assert grid["z"][9] == [100.0, 50.0, 30.0, *[None] * 9]
    assert grid["z"][10] == [100.0, 50.0, *[None] * 10]
    assert grid["z"][11] == NONE12
    # The Owner's cohort of two months ago also holds Cy (1,000 in its first month).
    owner = _figure(_client(alpha, Role.OWNER))["data"][0]
    assert owner["z"][9] == [100.0, 4.5, 2.7, *[None] * 9]


def test_a_cohort_drills_through_to_its_customers(
    cohorts: dict[str, Any], alpha: Workspace
) -> None:
    owner = _client(alpha, Role.OWNER)
    drill = _figure(owner)["data"][0]["customdata"][9][3]
    page = owner.get(drill).content.decode()
    people = cohorts["people"]
    assert f'href="/sales/contacts/{people["ann"].pk}/"' in page
    assert f'href="/sales/contacts/{people["cy"].pk}/"' in page
    assert f'href="/sales/contacts/{people["bo"].pk}/"' not in page
    rep_page = _client(alpha, Role.SALES_REP).get(drill).content.decode()
    assert f'href="/sales/contacts/{people["cy"].pk}/"' not in rep_page


def test_the_table_counts_each_cohorts_customers(cohorts: dict[str, Any], alpha: Workspace) -> None:
    html = _client(alpha, Role.OWNER).get("/reporting/chart/?key=cohorts").content.decode()
    month = f"{_add_months(cohorts['this_month'], -2):%Y-%m}"
    row = re.search(rf'<tr><td data-label="Cohort">{month}</td>(.*?)</tr>', html, re.S)
    assert row
    assert re.findall(r'<td data-label="([^"]+)">([^<]*)</td>', row.group(1))[:4] == [
        ("Customers", "2"),
        ("Month 0", "100.0"),
        ("Month 1", "4.5"),
        ("Month 2", "2.7"),
    ]


def test_cohorts_cost_the_same_queries_for_any_number_of_customers(
    cohorts: dict[str, Any], alpha: Workspace
) -> None:
    client = _client(alpha, Role.OWNER)
    client.get("/reporting/")

    def count() -> int:
        cache.clear()  # the chart computed, not its cached card
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/reporting/chart/?key=cohorts").status_code == 200
        return len(queries.captured_queries)

    before = count()
    for n in range(10):
        deal = DealFactory.create(status="won", amount=Decimal(n + 1), closed_at=timezone.now())
        deal.contacts.add(ContactFactory.create(owner=alpha.owner.user))
    customer_values_recompute()
    assert count() == before


def test_the_heatmap_escapes_labels_and_drills_by_row() -> None:
    figure = charts.heatmap(["<b>2026-01</b>"], ["Month 0", "Month 1"], [[100.0, None]], ["/d"])
    (trace,) = figure["data"]
    assert trace["y"] == ["&lt;b&gt;2026-01&lt;/b&gt;"]
    assert trace["z"] == [[100.0, None]]
    assert trace["customdata"] == [["/d", "/d"]]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"
